package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.AddressExhaustedException;
import dev.tapwire.network.ConfigureRequest;
import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.GuestNetwork;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkNotFoundException;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Nftables;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.gc.ActiveVms;
import dev.tapwire.network.gc.GcOrchestrator;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.NetworkNamespace;
import dev.tapwire.network.testkit.TemporaryRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CyclicBarrier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** VMs on named networks through the bridge provider, in a private namespace, with a real dnsmasq and nftables. */
@IsolatedNetns
class NamedNetworkProviderTest {

    @TempDir
    Path root;

    NetworkRegistry registry;
    BridgeNetworkProvider provider;

    @BeforeEach
    void setUp(@TemporaryRegistry NetworkRegistry registry) throws Exception {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
        this.registry = registry;
        registry.create("team", Ipv4Subnet.parse("10.77.0.0/24"));
        provider = new BridgeNetworkProvider(ProviderSettings.of(root).withRegistry(registry));
    }

    @AfterEach
    void tearDown() {
        try (BridgeNetworkProvider done = provider) {
            done.delete(done.taps().stream().map(l -> BridgeTaps.vmIdOf(l).orElseThrow()).distinct().toList());
            done.realizer().orElseThrow().list().forEach(r -> done.realizer().orElseThrow().unrealize(r.network()));
        }
    }

    /** What dnsmasq reads from one of its watched directories: every visible file, by content. */
    static String served(Path dir) throws java.io.IOException {
        try (var files = Files.list(dir)) {
            StringBuilder sb = new StringBuilder();
            for (Path f : files.filter(f -> !f.getFileName().toString().startsWith(".")).sorted().toList()) {
                sb.append(Files.readString(f));
            }
            return sb.toString();
        }
    }

    /** How many processes are dnsmasqs started for network team under this root. */
    private long dnsmasqsOfTeam() {
        return ProcessHandle.allProcesses().filter(p -> p.info().commandLine().orElse("")
                .contains("--pid-file=" + NetworkRealizer.runtimeDir(root).resolve("team/dnsmasq.pid"))).count();
    }

    /** SIGKILLs network team's dnsmasq, as a crash would; returns its pid. */
    private int killDnsmasqOfTeam() throws InterruptedException {
        int pid = provider.realizer().orElseThrow().inspect("team").orElseThrow().dnsmasqPid().orElseThrow();
        Crash.sigkill(pid);
        return pid;
    }

    private static Optional<Link> link(String name) {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            return netlink.link(name);
        }
    }

    @Test
    void aNicOnANamedNetworkJoinsItAndSitsOnItsBridgeWithADeterministicMac() throws Exception {
        List<NicConfig> nics = provider.configure("vm-1", 1, VmSpec.of(1).withNetworks(List.of("team"))
                .withWorkspace("web"), List.of());

        NicConfig nic = nics.get(0);
        assertThat(nic.network()).isEqualTo(new GuestNetwork(Ipv4Address.parse("10.77.0.2"),
                Ipv4Address.parse("10.77.0.1"), 24));
        assertThat(nic.bridgeDev()).isEqualTo("tw-team");
        assertThat(nic.mac()).isEqualTo(MacAddress.forMember("team", "web"));
        assertThat(nic.mac().isLocallyAdministered()).isTrue();
        assertThat(registry.get("team").member("web")).isPresent();
        assertThat(link(nic.tap()).orElseThrow().masterIndex()).isEqualTo(link("tw-team").orElseThrow().index());
        assertThat(Dns.queryA("10.77.0.1", "web.team")).containsExactly("10.77.0.2");
        assertThat(served(NetworkRealizer.runtimeDir(root).resolve("team/dhcp")))
                .isEqualTo(nic.mac() + ",10.77.0.2\n");
        provider.verify("vm-1");

        // stop and start: same address, same MAC
        provider.delete(List.of("vm-1"));
        NicConfig again = provider.configure("vm-2", 1, VmSpec.of(1).withNetworks(List.of("team"))
                .withWorkspace("web"), List.of()).get(0);
        assertThat(again.network()).isEqualTo(nic.network());
        assertThat(again.mac()).isEqualTo(nic.mac());
    }

    @Test
    void aNicOnANamedNetworkIsAdmittedWithItsMacAndRegistryAddressOrOpenWhenItsPortSecurityIsOff() {
        PortSecurity security = new PortSecurity(NetworkRealizer.ownerTag(root));
        NicConfig web = provider.configure("vm-1", 1, VmSpec.of(1).withNetworks(List.of("team")).withWorkspace("web"),
                List.of()).get(0);
        NicConfig db = provider.configure("vm-2", 1, VmSpec.of(1).withNetworks(List.of("team")).withWorkspace("db")
                .withoutPortSecurity(0), List.of()).get(0);

        assertThat(security.admitted()).containsEntry(web.tap(), PortSecurity.Entry.strict(web.mac(),
                web.network().ip())).as("off for the NIC: still no rogue DHCP servers or routers")
                .containsEntry(db.tap(), PortSecurity.Entry.open());
        NicConfig fixed = provider.configure("vm-3", 1, VmSpec.of(1).withAddress(0, Ipv4Address.parse("10.77.0.9"))
                .withNetworks(List.of("team")).withWorkspace("fixed"), List.of()).get(0);
        assertThat(security.admitted()).as("a static address is the one its port may send from")
                .containsEntry(fixed.tap(), PortSecurity.Entry.strict(fixed.mac(), Ipv4Address.parse("10.77.0.9")));
        provider.delete(List.of("vm-3"));
        provider.verify("vm-1");
        provider.verify("vm-2");
    }

    @Test
    void theWorkspaceDefaultsToTheVmIdAndNicsBeyondTheNetworksNeedTheBridgeOption() {
        assertThatThrownBy(() -> provider.configure("vm-1", 2, VmSpec.of(1).withNetworks(List.of("team")), List.of()))
                .isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("NIC 1 of VM vm-1 is on no named network")
                .hasMessageContaining("bridge=<device>");
        assertThat(provider.taps()).isEmpty();
        assertThat(registry.get("team").members()).isEmpty(); // the join was undone

        NetworkNamespace.createBridge("br0");
        try (BridgeNetworkProvider both = new BridgeNetworkProvider(ProviderSettings.of(root).with("bridge", "br0")
                .withRegistry(registry))) {
            List<NicConfig> nics = both.configure("vm-1", 2, VmSpec.of(1).withNetworks(List.of("team")), List.of());
            assertThat(nics).extracting(NicConfig::bridgeDev).containsExactly("tw-team", "br0");
            assertThat(nics.get(1).network()).isNull();
            assertThat(registry.get("team").member("vm-1")).isPresent();
            both.verify("vm-1");
        }
    }

    @Test
    void aWorkspaceHeldByALiveVmIsRefusedToAnotherProviderOrBatchAndFreedWhenTheVmIsGone() throws Exception {
        VmSpec web = VmSpec.of(1).withNetworks(List.of("team")).withWorkspace("web");
        NicConfig first = provider.configure("vm-1", 1, web, List.of()).get(0);
        try (BridgeNetworkProvider other = new BridgeNetworkProvider(ProviderSettings.of(root).withRegistry(registry))) {
            assertThatThrownBy(() -> other.configure("vm-2", 1, web, List.of()))
                    .isInstanceOf(InvalidNetworkSpecException.class)
                    .hasMessageContaining("workspace web is held on network team by live VM vm-1");
            assertThatThrownBy(() -> other.configureAll(List.of(new ConfigureRequest("vm-3", 1,
                    web.withWorkspace("api"), List.of()), new ConfigureRequest("vm-4", 1, web.withWorkspace("api"),
                    List.of())))).isInstanceOf(InvalidNetworkSpecException.class)
                    .hasMessageContaining("workspace api is held on network team by live VM vm-3");
            assertThat(registry.get("team").workspaces()).containsExactly("web");
            assertThat(provider.taps()).extracting(Link::name).containsExactly(first.tap());
            provider.verify("vm-1");
            assertThat(Dns.queryA("10.77.0.1", "web.team")).containsExactly(first.network().ip().toString());

            BridgeTaps.cleanup(root, List.of("vm-1")); // as tap rm does: the VM is gone, its workspace is free
            NicConfig again = other.configure("vm-2", 1, web, List.of()).get(0);
            assertThat(again.network()).isEqualTo(first.network());
            assertThat(again.mac()).isEqualTo(first.mac());
            other.verify("vm-2");
        }
    }

    @Test
    void theWorkspaceRecordOfAVmGoesWithItsTapsByDeleteOrByTheGc() {
        VmSpec web = VmSpec.of(1).withNetworks(List.of("team")).withWorkspace("web");
        provider.configure("vm-1", 1, web, List.of());
        provider.configure("vm-2", 1, web.withWorkspace("api"), List.of());
        assertThat(BridgeTaps.workspaceOf(root, "vm-1")).contains("web");

        provider.delete(List.of("vm-1"));
        assertThat(BridgeTaps.workspaceOf(root, "vm-1")).isEmpty();

        GcOrchestrator gc = new GcOrchestrator();
        provider.registerGc(gc);
        gc.register(ActiveVms.of(Set.of()));
        assertThat(gc.runOnce().succeeded()).isTrue();
        assertThat(provider.taps()).isEmpty();
        assertThat(BridgeTaps.workspaceOf(root, "vm-2")).isEmpty();
    }

    @Test
    void withoutARegistryANamedNetworkIsAClearError() {
        NetworkNamespace.createBridge("br0");
        BridgeNetworkProvider plain = new BridgeNetworkProvider(ProviderSettings.of(root).with("bridge", "br0"));
        assertThatThrownBy(() -> plain.configure("vm-1", 1, VmSpec.of(1).withNetworks(List.of("team")), List.of()))
                .isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("ProviderSettings.withRegistry");
        assertThatThrownBy(() -> new BridgeNetworkProvider(ProviderSettings.of(root)))
                .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("bridge=<device>");
    }

    @Test
    void anUnknownOrExhaustedNetworkLeavesNothingBehind() {
        assertThatThrownBy(() -> provider.configure("vm-1", 1, VmSpec.of(1).withNetworks(List.of("nope")), List.of()))
                .isInstanceOf(NetworkNotFoundException.class);
        registry.create("tiny", Ipv4Subnet.parse("10.79.0.0/30")); // one host address
        registry.join("tiny", "first");
        assertThatThrownBy(() -> provider.configure("vm-1", 2, VmSpec.of(1).withNetworks(List.of("team", "tiny")),
                List.of())).isInstanceOf(AddressExhaustedException.class);
        assertThat(provider.taps()).isEmpty();
        assertThat(registry.get("team").members()).isEmpty();
        assertThat(registry.get("tiny").members()).extracting(m -> m.workspace()).containsExactly("first");
    }

    @Test
    void aMemberWhoseNameIsNotADnsLabelJoinsAndLeasesButHasNoName() throws Exception {
        NicConfig nic = provider.configure("vm-1", 1, VmSpec.of(1).withNetworks(List.of("team"))
                .withWorkspace("my_workspace"), List.of()).get(0);
        assertThat(nic.network().ip()).hasToString("10.77.0.2");
        assertThat(NetworkRealizer.hasDnsName("my_workspace")).isFalse();
        assertThat(served(NetworkRealizer.runtimeDir(root).resolve("team/dhcp"))).contains("10.77.0.2");
        assertThat(served(NetworkRealizer.runtimeDir(root).resolve("team/hosts"))).isEmpty();
        assertThat(provider.realizer().orElseThrow().hostsLines("team")).isEmpty();
    }

    @Test
    void verifySaysWhenTheBridgeWasDeletedUnderRunningVms() {
        provider.configure("vm-1", 1, VmSpec.of(1).withNetworks(List.of("team")), List.of());
        try (Rtnetlink netlink = Rtnetlink.open()) {
            netlink.execute(List.of(Rtnetlink.deleteLink(netlink.link("tw-team").orElseThrow().index(), "tw-team")));
        }
        assertThatThrownBy(() -> provider.verify("vm-1")).isInstanceOf(DeviceOperationException.class)
                .hasMessageContaining("not attached to a bridge");
        assertThat(provider.realizer().orElseThrow().inspect("team").orElseThrow().problems())
                .anySatisfy(p -> assertThat(p).contains("bridge tw-team of network team is gone"));
    }

    @Test
    void verifyReportsAnotherTablesForwardDropItCannotOverride() {
        provider.configure("vm-1", 1, VmSpec.of(1).withNetworks(List.of("team")), List.of());
        Nftables.run("add table ip filter\nadd chain ip filter FORWARD { type filter hook forward priority 0;"
                + " policy drop; }");
        assertThatThrownBy(() -> provider.verify("vm-1")).isInstanceOf(DeviceOperationException.class)
                .hasMessageContaining("chain FORWARD of table ip filter drops forwarded packets by default")
                .hasMessageContaining("tw-team");
        Nftables.run("delete table ip filter");
        provider.verify("vm-1");
    }

    @Test
    void twoProcessesRealizingOneNetworkAtOnceMakeOneBridgeAndOneDnsmasq() throws Exception {
        Path stateDir = ((dev.tapwire.network.registry.FileNetworkRegistry) registry).indexFile().getParent().getParent();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String startAt = Long.toString(System.currentTimeMillis() + 3000); // both JVMs up by then
        List<Process> children = new ArrayList<>();
        for (int i = 0; i < 2; i++) { // started from this thread: they live in this test's network namespace
            children.add(new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                    RealizeMain.class.getName(), root.toString(), stateDir.toString(), "team", startAt)
                    .redirectErrorStream(true).start());
        }
        for (Process child : children) {
            String out = new String(child.getInputStream().readAllBytes()).strip();
            assertThat(child.waitFor()).as(out).isZero();
            assertThat(out).endsWith("tw-team");
        }
        assertThat(dnsmasqsOfTeam()).isEqualTo(1);
        assertThat(provider.realizer().orElseThrow().inspect("team").orElseThrow().problems()).isEmpty();
    }

    @Test
    void afterAHostRebootConfiguringWithTheSavedConfigsBringsBackTheNetworkAndTheSameNics() throws Exception {
        VmSpec spec = VmSpec.of(1).withNetworks(List.of("team")).withWorkspace("web");
        List<NicConfig> saved = provider.configure("vm-1", 1, spec, List.of());
        // a reboot: devices, daemons and rules are gone; the state directory and the registry stay
        provider.delete(List.of("vm-1"));
        killDnsmasqOfTeam();
        try (Rtnetlink netlink = Rtnetlink.open()) {
            netlink.execute(List.of(Rtnetlink.deleteLink(netlink.link("tw-team").orElseThrow().index(), "tw-team")));
        }
        Nftables.run("flush ruleset");

        List<NicConfig> recovered = provider.configure("vm-1", 1, spec, saved);

        assertThat(recovered).isEqualTo(saved);
        assertThat(link("tw-team").orElseThrow().isUp()).isTrue();
        assertThat(provider.realizer().orElseThrow().inspect("team").orElseThrow().problems()).isEmpty();
        assertThat(Dns.queryA("10.77.0.1", "web.team")).containsExactly("10.77.0.2");
        provider.verify("vm-1");
    }

    @Test
    void configureRestartsADeadDnsmasq() throws Exception {
        provider.configure("vm-1", 1, VmSpec.of(1).withNetworks(List.of("team")), List.of());
        int pid = killDnsmasqOfTeam(); // its sockets may outlive it for a moment: configure must wait for that
        provider.configure("vm-2", 1, VmSpec.of(1).withNetworks(List.of("team")), List.of());
        assertThat(provider.realizer().orElseThrow().inspect("team").orElseThrow().dnsmasqPid()).isPresent()
                .isNotEqualTo(java.util.OptionalInt.of(pid));
        assertThat(Dns.queryA("10.77.0.1", "vm-2.team")).containsExactly("10.77.0.3");
    }

    @Test
    void twoThreadsRealizingOneNetworkAtOnceMakeOneBridgeAndOneDnsmasq() throws Exception {
        NetworkRealizer a = new NetworkRealizer(root, registry);
        NetworkRealizer b = new NetworkRealizer(root, registry);
        CyclicBarrier start = new CyclicBarrier(2);
        List<Throwable> failures = new ArrayList<>();
        Path ns = Path.of("/proc/self/task/" + dev.tapwire.network.bridge.linux.raw.LibC.gettid() + "/ns/net");
        List<Thread> threads = new ArrayList<>();
        for (NetworkRealizer r : List.of(a, b)) {
            threads.add(new Thread(() -> {
                try {
                    dev.tapwire.network.bridge.linux.Namespaces.enterNetworkNamespace(ns);
                    start.await();
                    r.realize("team", false);
                } catch (Throwable t) {
                    synchronized (failures) {
                        failures.add(t);
                    }
                }
            }));
        }
        threads.forEach(Thread::start);
        for (Thread t : threads) {
            t.join();
        }
        assertThat(failures).isEmpty();
        int pid = a.inspect("team").orElseThrow().dnsmasqPid().orElseThrow();
        assertThat(dnsmasqsOfTeam()).isEqualTo(1);
        assertThat(b.inspect("team").orElseThrow().dnsmasqPid().orElseThrow()).isEqualTo(pid);
    }
}
