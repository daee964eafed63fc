package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkProviders;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.bridge.linux.Interfaces;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.bridge.linux.TapQueue;
import dev.tapwire.network.bridge.linux.Tun;
import dev.tapwire.network.bridge.linux.raw.LibC;
import dev.tapwire.network.gc.ActiveVms;
import dev.tapwire.network.gc.GcOrchestrator;
import dev.tapwire.network.gc.GcReport;
import dev.tapwire.network.lock.Lease;
import dev.tapwire.network.lock.LockFile;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.NetworkNamespace;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bridge-backend behaviour read back from the kernel, each test in its own network namespace. */
@IsolatedNetns
class BridgeNetworkProviderTest {

    @TempDir
    Path root;

    BridgeNetworkProvider provider;

    @BeforeEach
    void bridge() {
        NetworkNamespace.createBridge("br0");
        provider = new BridgeNetworkProvider(ProviderSettings.of(root).with("bridge", "br0"));
    }

    static Map<String, Link> links() {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            return netlink.links().stream().collect(Collectors.toMap(Link::name, l -> l));
        }
    }

    static boolean onPath(String command) {
        return java.util.Arrays.stream(System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":"))
                .anyMatch(dir -> Files.isExecutable(Path.of(dir, command)));
    }

    /** Runs a command; children inherit the calling thread's network namespace. */
    static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as("%s: %s", String.join(" ", command), out).isZero();
        return out;
    }

    @Test
    void tapsAreCreatedAsTheKernelReportsThem() throws Exception {
        List<NicConfig> nics = provider.configure("f1a9c0de-1234", 2, VmSpec.of(2), List.of());

        Map<String, Link> links = links();
        Link bridge = links.get("br0");
        for (NicConfig nic : nics) {
            Link tap = links.get(nic.tap());
            assertThat(tap.isTun()).isTrue();
            Link.TunInfo tun = tap.tun().orElseThrow();
            assertThat(tun.tap()).isTrue();
            assertThat(tun.packetInfo()).isFalse();
            assertThat(tun.vnetHdr()).isTrue();
            assertThat(tun.persist()).isTrue();
            assertThat(tun.multiQueue()).isTrue();
            assertThat(tun.owner()).isEqualTo(LibC.geteuid());
            assertThat(tap.masterIndex()).isEqualTo(bridge.index());
            assertThat(tap.isUp()).isTrue();
            assertThat(tap.mtu()).isEqualTo(bridge.mtu());
            assertThat(tap.alias()).isEqualTo("tapwire:f1a9c0de-1234");
        }
        // the same facts as iproute2 reports them, in this namespace
        dev.tapwire.network.testkit.HostRequirements.assume(onPath("ip") && onPath("bridge"),
                "iproute2 (ip, bridge) is not installed: checked through rtnetlink only (Debian package iproute2)");
        String ip = run("ip", "-d", "link", "show", "btf1a9c0de-0");
        assertThat(ip).contains("master br0").contains("tun type tap pi off vnet_hdr on multi_queue")
                .contains("persist on").contains("UP");
        assertThat(run("bridge", "-d", "link", "show", "dev", "btf1a9c0de-1")).contains("learning off");
    }

    @Test
    void singleQueueTapsForOneCpuOrASingleQueueVmm() {
        provider.configure("0ne0cpu0", 1, VmSpec.of(1), List.of());
        provider.configure("f1rec0de", 1, VmSpec.of(8).withMultiQueue(false), List.of());
        Map<String, Link> links = links();
        assertThat(links.get("bt0ne0cpu0-0").tun().orElseThrow().multiQueue()).isFalse();
        assertThat(links.get("btf1rec0de-0").tun().orElseThrow().multiQueue()).isFalse();
    }

    @Test
    void ownerGroupAndBridgeMtuComeFromSettingsAndTheBridge() {
        try (Interfaces interfaces = Interfaces.open()) {
            interfaces.setMtu("br0", 1400);
        }
        BridgeNetworkProvider owned = new BridgeNetworkProvider(ProviderSettings.of(root).with("bridge", "br0")
                .with("owner", "1234").with("group", "4321"));
        owned.configure("0wned000", 1, VmSpec.of(1), List.of());
        Link tap = links().get("bt0wned000-0");
        assertThat(tap.tun().orElseThrow().owner()).isEqualTo(1234);
        assertThat(tap.tun().orElseThrow().group()).isEqualTo(4321);
        assertThat(tap.mtu()).isEqualTo(1400);
    }

    @Test
    void aFailureAtNicTwoRemovesTheNicsAlreadyMadeAndTouchesNothingElse() {
        Tun.createPersistentTap("btrollback-1", false, OptionalInt.empty(), OptionalInt.empty()); // a leftover
        assertThatThrownBy(() -> provider.configure("rollback", 3, VmSpec.of(1), List.of()))
                .isInstanceOfSatisfying(DeviceOperationException.class, e -> {
                    assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.BUSY);
                    assertThat(e.operation()).isEqualTo("TUNSETIFF");
                    assertThat(e.device()).isEqualTo("btrollback-1");
                })
                .hasMessageStartingWith("TUNSETIFF(btrollback-1) failed: EBUSY (Device or resource busy")
                .hasMessageContaining("already exists");
        Map<String, Link> links = links();
        assertThat(links).doesNotContainKeys("btrollback-0", "btrollback-2").containsKey("btrollback-1");
        assertThat(links.get("btrollback-1").masterIndex()).isZero();
    }

    @Test
    void aMissingBridgeANonBridgeDeviceAndBadOptionsAreClearErrors() {
        assertThatThrownBy(() -> new BridgeNetworkProvider(ProviderSettings.of(root).with("bridge", "nobr0")))
                .isInstanceOfSatisfying(DeviceOperationException.class,
                        e -> assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.NO_SUCH_DEVICE))
                .hasMessageContaining("bridge nobr0 does not exist");
        Tun.createPersistentTap("plaintap", false, OptionalInt.empty(), OptionalInt.empty());
        assertThatThrownBy(() -> new BridgeNetworkProvider(ProviderSettings.of(root).with("bridge", "plaintap")))
                .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("not a Linux bridge")
                .hasMessageContaining("\"tun\"");
        assertThatThrownBy(() -> new BridgeNetworkProvider(ProviderSettings.of(root)))
                .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("bridge=<device>");
        assertThatThrownBy(() -> new BridgeNetworkProvider(ProviderSettings.of(root).with("bridge", "bridge-name-too-long")))
                .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("at most 15");
        assertThatThrownBy(() -> new BridgeNetworkProvider(ProviderSettings.of(root).with("bridge", "br0").with("owner", "bob")))
                .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("owner=bob");
    }

    @Test
    void withoutCapNetAdminCreationFailsWithEpermAndLeavesNothing() {
        NetworkNamespace.dropNetAdminOnThisThread();
        assertThatThrownBy(() -> provider.configure("n0perm00", 2, VmSpec.of(1), List.of()))
                .isInstanceOfSatisfying(DeviceOperationException.class, e -> {
                    assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.PERMISSION_DENIED);
                    assertThat(e.errno()).isEqualTo(1);
                    assertThat(e.errnoName()).isEqualTo("EPERM");
                })
                .hasMessageStartingWith("TUNSETIFF(btn0perm00-0) failed: EPERM (Operation not permitted)")
                .hasMessageContaining("CAP_NET_ADMIN");
        assertThat(links()).doesNotContainKey("btn0perm00-0");
    }

    @Test
    void deleteRemovesEveryTapOfTheGivenVmsInOneBatchEvenWhileAVmmHoldsThemOpen() {
        provider.configure("de1e7e01", 2, VmSpec.of(1), List.of());
        provider.configure("de1e7e02", 2, VmSpec.of(1), List.of());
        provider.configure("keep0001", 1, VmSpec.of(1), List.of());
        try (TapQueue held = Tun.attach("btde1e7e01-0", false)) {
            assertThat(held).isNotNull();
            assertThat(provider.delete(List.of("de1e7e01", "de1e7e02", "unknown1"))).containsExactly("de1e7e01",
                    "de1e7e02", "unknown1");
        }
        assertThat(links().keySet()).noneMatch(n -> n.startsWith("btde1e7e0")).contains("btkeep0001-0");
        provider.verify("keep0001");
    }

    @Test
    void aBatchLargerThanTheSocketBufferHoldsInAcksStillDeletesEverything() {
        List<String> ids = new java.util.ArrayList<>();
        for (int i = 0; i < 600; i++) {
            ids.add(String.format("m%07d", i));
        }
        ids.forEach(id -> provider.configure(id, 1, VmSpec.of(1), List.of()));
        assertThat(links().keySet().stream().filter(n -> n.startsWith("btm"))).hasSize(600);
        GcOrchestrator gc = new GcOrchestrator();
        provider.registerGc(gc);
        gc.register(ActiveVms.of(Set.of(ids.get(0))));
        assertThat(gc.runOnce().collected().get("bridge")).hasSize(599);
        assertThat(BridgeTaps.cleanup(ids)).hasSize(600);
        assertThat(links().keySet()).noneMatch(n -> n.startsWith("btm"));
    }

    @Test
    void deleteNeverTakesTheTapsOfAnotherVmWithTheSamePrefix() {
        provider.configure("abcdefgh-one", 1, VmSpec.of(1), List.of());
        provider.delete(List.of("abcdefgh-two"));
        provider.verify("abcdefgh-one");
        assertThat(BridgeTaps.cleanup(List.of("abcdefgh-one"))).containsExactly("abcdefgh-one");
        assertThat(links()).doesNotContainKey("btabcdefgh-0");
    }

    @Test
    void verifyFailsForATapThatLeftTheBridge() {
        provider.configure("ve41f100", 1, VmSpec.of(1), List.of());
        try (Interfaces interfaces = Interfaces.open()) {
            interfaces.removeBridgePort("br0", interfaces.index("btve41f100-0"));
        }
        assertThatThrownBy(() -> provider.verify("ve41f100")).isInstanceOf(DeviceOperationException.class)
                .hasMessageContaining("not attached to bridge br0");
    }

    @Test
    void gcReclaimsOrphansAndKeepsActiveVms() {
        provider.configure("a11ve001", 1, VmSpec.of(1), List.of());
        for (int i = 0; i < 5; i++) {
            provider.configure("0rphan0" + i, 2, VmSpec.of(1), List.of());
        }
        GcOrchestrator gc = new GcOrchestrator();
        provider.registerGc(gc);
        gc.register(ActiveVms.of(Set.of("a11ve001")));

        GcReport report = gc.runOnce();

        assertThat(report.succeeded()).isTrue();
        assertThat(report.collected().get("bridge")).hasSize(10);
        assertThat(links().keySet()).noneMatch(n -> n.startsWith("bt0rphan")).contains("bta11ve001-0");
    }

    @Test
    void gcAbortsWhileAnotherProcessOrThreadHoldsItsLock() throws Exception {
        provider.configure("0rphan99", 1, VmSpec.of(1), List.of());
        GcOrchestrator gc = new GcOrchestrator();
        provider.registerGc(gc);
        gc.register(ActiveVms.of(Set.of()));
        LockFile lock = LockFile.at(root.resolve("bridge").resolve("gc.lock"));
        CompletableFuture<Void> release = new CompletableFuture<>();
        CompletableFuture<Void> held = new CompletableFuture<>();
        Thread holder = new Thread(() -> {
            try (Lease lease = lock.acquire()) {
                held.complete(null);
                assertThat(lease).isNotNull();
                release.join();
            }
        });
        holder.start();
        held.get(5, TimeUnit.SECONDS);
        try {
            GcReport report = gc.runOnce();
            assertThat(report.aborted()).isTrue();
            assertThat(report.abortReason()).contains("bridge").contains("busy");
            assertThat(links()).containsKey("bt0rphan99-0");
        } finally {
            release.complete(null);
            holder.join();
        }
        assertThat(gc.runOnce().collected().get("bridge")).containsExactly("bt0rphan99-0");
    }

    @Test
    void aTapCarriesFramesArpRequestGetsTheBridgesReply() {
        try (Interfaces interfaces = Interfaces.open()) {
            interfaces.setIpv4("br0", dev.tapwire.network.Ipv4Address.parse("10.44.1.1"), 24);
        }
        NicConfig nic = provider.configure("a4b0a4b0", 1, VmSpec.of(1), List.of()).get(0);
        byte[] guestMac = nic.mac().toBytes();
        try (TapQueue vmm = Tun.attach(nic.tap(), false)) {
            // Like a guest, retry: the port forwards only once the kernel's link watch has seen the carrier
            // that attaching brought up (asynchronous, up to a second).
            byte[] request = arpRequest(guestMac, new byte[] {10, 44, 1, 2}, new byte[] {10, 44, 1, 1});
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            Optional<byte[]> reply = Optional.empty();
            while (reply.isEmpty() && System.nanoTime() < deadline) {
                vmm.writeFrame(request);
                long retry = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300);
                while (reply.isEmpty() && System.nanoTime() < retry) {
                    reply = vmm.readFrame(100).filter(BridgeNetworkProviderTest::isArpReply);
                }
            }
            assertThat(reply).as("an ARP reply from the bridge").isPresent();
            byte[] frame = reply.get();
            assertThat(java.util.Arrays.copyOfRange(frame, 0, 6)).isEqualTo(guestMac);
            assertThat(java.util.Arrays.copyOfRange(frame, 28, 32)).containsExactly(10, 44, 1, 1);
        }
    }

    private static byte[] arpRequest(byte[] srcMac, byte[] srcIp, byte[] targetIp) {
        byte[] f = new byte[42];
        for (int i = 0; i < 6; i++) {
            f[i] = (byte) 0xff;
        }
        System.arraycopy(srcMac, 0, f, 6, 6);
        f[12] = 0x08;
        f[13] = 0x06; // ARP
        f[14] = 0;
        f[15] = 1; // Ethernet
        f[16] = 0x08;
        f[17] = 0; // IPv4
        f[18] = 6;
        f[19] = 4;
        f[20] = 0;
        f[21] = 1; // request
        System.arraycopy(srcMac, 0, f, 22, 6);
        System.arraycopy(srcIp, 0, f, 28, 4);
        System.arraycopy(targetIp, 0, f, 38, 4);
        return f;
    }

    private static boolean isArpReply(byte[] f) {
        return f.length >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[20] == 0 && f[21] == 2;
    }

    @Test
    void failingCallsLeakNoFileDescriptors() throws IOException {
        provider.configure("1eak0001", 1, VmSpec.of(1), List.of());
        long before = openFds();
        for (int i = 0; i < 50; i++) {
            assertThatThrownBy(() -> provider.configure("1eak0001-other", 1, VmSpec.of(1), List.of()))
                    .isInstanceOf(DeviceOperationException.class);
            assertThatThrownBy(() -> new BridgeNetworkProvider(ProviderSettings.of(root).with("bridge", "missing0")))
                    .isInstanceOf(DeviceOperationException.class);
            assertThatThrownBy(() -> Tun.attach("bt1eak0001-0", true)) // it is single-queue: EINVAL
                    .isInstanceOf(DeviceOperationException.class);
            try (Interfaces interfaces = Interfaces.open()) {
                assertThatThrownBy(() -> interfaces.index("missing0")).isInstanceOf(DeviceOperationException.class);
            }
            assertThatThrownBy(() -> provider.verify("missing0")).isInstanceOf(DeviceOperationException.class);
        }
        // a leak in any of these paths would add at least 50 descriptors; the JVM may open one of its own meanwhile
        assertThat(openFds()).as("descriptors after 50 rounds of failing calls").isLessThan(before + 5);
    }

    private static long openFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    @Test
    void theProviderIsFoundThroughServiceLoaderAsTypeBridge() {
        assertThat(NetworkProviders.types()).contains("bridge");
        assertThat(NetworkProviders.create("bridge", ProviderSettings.of(root).with("bridge", "br0")).type())
                .isEqualTo("bridge");
    }

    @Test
    void anUnknownOptionKeyIsRefusedWithTheKnownOnes() {
        for (String typo : List.of("tap-name", "ownr")) {
            assertThatThrownBy(() -> NetworkProviders.create("bridge", ProviderSettings.of(root).with("bridge", "br0")
                    .with(typo, "1000"))).isInstanceOf(InvalidNetworkSpecException.class)
                    .hasMessage("the bridge provider has no option " + typo
                            + "; its options are bridge, group, owner, tap-names");
            assertThatThrownBy(() -> BridgeNetworkProvider.verifyOnAnyBridge(ProviderSettings.of(root)
                    .with(typo, "1000"), "vm-1")).isInstanceOf(InvalidNetworkSpecException.class)
                    .hasMessageContaining("has no option " + typo);
        }
    }

    @Test
    void aHostWhereTheBackendCannotRunIsANetworkException() {
        Optional<String> real = BridgeNetworkProvider.unavailabilityCause();
        BridgeNetworkProvider.overrideUnavailability(Optional.of("/dev/net/tun is missing (load the tun module)"));
        try {
            assertThatThrownBy(() -> NetworkProviders.create("bridge", ProviderSettings.of(root).with("bridge", "br0")))
                    .isInstanceOf(NetworkException.class)
                    .hasMessage("the bridge network provider cannot run here: /dev/net/tun is missing (load the tun"
                            + " module)");
        } finally {
            BridgeNetworkProvider.overrideUnavailability(real);
        }
    }

    @Test
    void configuringAVmWhoseTapExistsWithoutItsSavedConfigsSaysSo() {
        List<NicConfig> first = provider.configure("vm-own", 1, VmSpec.of(1), List.of());
        assertThatThrownBy(() -> provider.configure("vm-own", 1, VmSpec.of(1), List.of()))
                .isInstanceOfSatisfying(DeviceOperationException.class,
                        e -> assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.BUSY))
                .hasMessageContaining("TAP btvm-own-0 exists and carries tapwire:vm-own: this VM's TAP exists; pass"
                        + " its saved configs")
                .hasMessageNotContaining("another VM");
        assertThat(provider.configure("vm-own", 1, VmSpec.of(1), first)).isEqualTo(first);
        provider.verify("vm-own");
        provider.delete(List.of("vm-own"));
    }

    @Test
    void verifyDetectsAGuestsForwardingEntryThatIsNotOnItsOwnPort() throws Exception {
        List<NicConfig> first = provider.configure("vm-fdb1", 1, VmSpec.of(1), List.of());
        List<NicConfig> second = provider.configure("vm-fdb2", 1, VmSpec.of(1), List.of());
        provider.verify("vm-fdb1");
        // the first guest's MAC now forwarded to the second VM's port, as a second VM with the same MAC does
        run("bridge", "fdb", "replace", first.get(0).mac().toString(), "dev", second.get(0).tap(), "master", "static");

        assertThatThrownBy(() -> provider.verify("vm-fdb1")).isInstanceOf(DeviceOperationException.class)
                .hasMessageContaining("TAP btvm-fdb1-0 of VM vm-fdb1 is not as configured: bridge br0 has no static"
                        + " forwarding entry for its guest on its port");
        assertThatThrownBy(() -> provider.verify("vm-fdb2")).isInstanceOf(DeviceOperationException.class)
                .hasMessageContaining("bridge br0 forwards 2 MACs").hasMessageContaining(first.get(0).mac().toString());

        provider.configure("vm-fdb1", 1, VmSpec.of(1), first); // a recovery puts the entry back on its port
        provider.verify("vm-fdb1");
        provider.verify("vm-fdb2");
        provider.delete(List.of("vm-fdb1", "vm-fdb2"));
    }
}
