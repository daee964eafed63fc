package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.ConfigureRequest;
import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.TapNaming;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.bridge.linux.TapQueue;
import dev.tapwire.network.bridge.linux.Tun;
import dev.tapwire.network.gc.ActiveVmSnapshot;
import dev.tapwire.network.gc.ActiveVms;
import dev.tapwire.network.gc.GcOrchestrator;
import dev.tapwire.network.lock.Lease;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.NetworkNamespace;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What tapwire owns, what the GC may take, who may attach and who may listen — read back from the kernel. */
@IsolatedNetns
class BridgeEdgeTest {

    @TempDir
    Path root;

    BridgeNetworkProvider provider;

    @BeforeEach
    void bridge() {
        NetworkNamespace.createBridge("br0");
        provider = new BridgeNetworkProvider(ProviderSettings.of(root).with("bridge", "br0"));
    }

    private static Map<String, Link> links() {
        return BridgeNetworkProviderTest.links();
    }

    private static void setAlias(String name, String alias) {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            int index = netlink.link(name).orElseThrow().index();
            netlink.execute(List.of(Rtnetlink.bringUp(index, name, 0, alias)));
        }
    }

    @Nested
    class ForeignDevices {

        @Test
        void onlyTapsCarryingTapwiresAliasAreListedDeletedCollectedOrAdopted() {
            // a hand-made TAP, cocoon's own TAP (same naming, no alias), a TAP aliased by libvirt
            Tun.createPersistentTap("bthandmad-0", false, OptionalInt.empty(), OptionalInt.empty());
            Tun.createPersistentTap("bt12345678-0", false, OptionalInt.empty(), OptionalInt.empty());
            Tun.createPersistentTap("btlibvirt-0", false, OptionalInt.empty(), OptionalInt.empty());
            setAlias("btlibvirt-0", "libvirt:domain-7");
            Set<String> foreign = Set.of("bthandmad-0", "bt12345678-0", "btlibvirt-0");
            provider.configure("mine0001", 1, VmSpec.of(1), List.of());

            assertThat(provider.taps()).extracting(Link::name).containsExactly("btmine0001-0");
            provider.delete(List.of("handmad", "12345678", "libvirt"));
            assertThat(BridgeTaps.cleanup(List.of("handmad", "12345678", "libvirt"))).hasSize(3);
            GcOrchestrator gc = new GcOrchestrator();
            provider.registerGc(gc);
            gc.register(ActiveVms.of(Set.of()));
            assertThat(gc.runOnce().collected().get("bridge")).containsExactly("btmine0001-0");
            assertThat(links().keySet()).containsAll(foreign);

            NicConfig claimed = new NicConfig("bt12345678-0", MacAddress.random(), 2, 256, "bridge", "br0", null, null);
            assertThatThrownBy(() -> provider.configure("12345678", 1, VmSpec.of(1), List.of(claimed)))
                    .isInstanceOfSatisfying(DeviceOperationException.class,
                            e -> assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.BUSY))
                    .hasMessageContaining("not a TAP tapwire made for VM 12345678");
            assertThat(links().get("bt12345678-0").masterIndex()).as("not adopted onto the bridge").isZero();
        }

        @Test
        void aTunDeviceWithAMatchingNameIsNeverTapwires() throws Exception {
            BridgeNetworkProviderTest.run("ip", "tuntap", "add", "dev", "btvpn-0", "mode", "tun");
            setAlias("btvpn-0", "tapwire:vpn");
            assertThat(provider.taps()).extracting(Link::name).doesNotContain("btvpn-0");
            provider.delete(List.of("vpn"));
            assertThat(links()).containsKey("btvpn-0");
        }
    }

    @Nested
    class Verify {

        @Test
        void verifyChecksOwnerAliasAndAttachment() throws Exception {
            new BridgeNetworkProvider(ProviderSettings.of(root).with("bridge", "br0").with("owner", "1234"))
                    .configure("0wner123", 1, VmSpec.of(1), List.of());
            assertThatThrownBy(() -> provider.verify("0wner123")).isInstanceOf(DeviceOperationException.class)
                    .hasMessageContaining("owned by uid 1234");

            Tun.createPersistentTap("btn0alias-0", false, OptionalInt.of(0), OptionalInt.empty());
            assertThatThrownBy(() -> provider.verify("n0alias")).isInstanceOfSatisfying(DeviceOperationException.class,
                    e -> assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.BUSY))
                    .hasMessageContaining("not a TAP tapwire made for VM n0alias");

            provider.configure("d0wn0001", 2, VmSpec.of(1), List.of());
            provider.verify("d0wn0001");
            BridgeNetworkProviderTest.run("ip", "link", "set", "btd0wn0001-1", "down");
            assertThatThrownBy(() -> provider.verify("d0wn0001")).hasMessageContaining("btd0wn0001-1")
                    .hasMessageContaining("down");
        }
    }

    @Nested
    class GarbageCollection {

        @Test
        void collectDeletesOnlyTheLinksItSnapshottedNotANameReusedMeanwhile() {
            provider.configure("reuse001", 1, VmSpec.of(1), List.of());
            BridgeGcModule module = new BridgeGcModule(provider);
            BridgeGcModule.Snapshot snapshot = module.snapshot();
            Set<String> doomed = module.resolve(snapshot, Map.of("active-vms", (ActiveVmSnapshot) Set::of));
            assertThat(doomed).containsExactly("btreuse001-0");

            // meanwhile the dead VM's TAP went away and a new VM (same prefix, or even the same ID) took the name
            provider.delete(List.of("reuse001"));
            provider.configure("reuse001-b", 1, VmSpec.of(1), List.of());
            module.collect(doomed);
            assertThat(links()).containsKey("btreuse001-0");
            provider.verify("reuse001-b");

            doomed = module.resolve(module.snapshot(), Map.of("active-vms", (ActiveVmSnapshot) Set::of));
            provider.delete(List.of("reuse001-b"));
            provider.configure("reuse001-b", 1, VmSpec.of(1), List.of()); // same ID, new link
            module.collect(doomed);
            provider.verify("reuse001-b");
        }

        @Test
        void livenessIsReadAfterTheTapsAreListed() {
            List<String> live = new CopyOnWriteArrayList<>();
            GcOrchestrator gc = new GcOrchestrator();
            gc.register(ActiveVms.from(() -> {
                // a manager that marks a VM active, then configures it: here the TAPs were listed already
                live.add("late0001");
                return List.copyOf(live);
            }));
            provider.registerGc(gc);
            provider.configure("late0001", 1, VmSpec.of(1), List.of());
            assertThat(gc.runOnce().collected().get("bridge")).isEmpty();
            assertThat(links()).containsKey("btlate0001-0");
        }

        @Test
        void aGcCycleNeverRunsWhileAConfigureHoldsItsLock() throws Exception {
            CountDownLatch configuring = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            List<Throwable> failures = new CopyOnWriteArrayList<>();
            Thread holder = new Thread(() -> { // the same lock configure holds from its first TAP to its last
                try (Lease lease = provider.gcLock().acquire()) {
                    configuring.countDown();
                    release.await();
                } catch (Throwable t) {
                    failures.add(t);
                }
            });
            holder.start();
            configuring.await();
            Thread configure = new Thread(() -> {
                try {
                    provider.configure("wait0001", 1, VmSpec.of(1), List.of());
                } catch (Throwable t) {
                    failures.add(t);
                }
            });
            configure.start();
            configure.join(300);
            assertThat(configure.isAlive()).as("configure waits for the GC lock").isTrue();
            assertThat(links()).doesNotContainKey("btwait0001-0");
            GcOrchestrator gc = new GcOrchestrator();
            provider.registerGc(gc);
            gc.register(ActiveVms.of(Set.of()));
            assertThat(gc.runOnce().aborted()).isTrue();
            release.countDown();
            holder.join();
            configure.join();
            assertThat(failures).isEmpty();
            provider.verify("wait0001");
        }

        @Test
        void concurrentDeletesOfOneVmBothSucceed() throws Exception {
            List<Throwable> failures = new CopyOnWriteArrayList<>();
            for (int round = 0; round < 40; round++) {
                provider.configure("race0001", 4, VmSpec.of(1), List.of());
                CountDownLatch start = new CountDownLatch(1);
                List<Thread> deleters = new ArrayList<>();
                for (int t = 0; t < 2; t++) {
                    Thread deleter = new Thread(() -> {
                        try {
                            start.await();
                            BridgeTaps.cleanup(List.of("race0001")); // no GC lock: two deletes really race
                        } catch (Throwable e) {
                            failures.add(e);
                        }
                    });
                    deleter.start();
                    deleters.add(deleter);
                }
                start.countDown();
                for (Thread deleter : deleters) {
                    deleter.join();
                }
                assertThat(links().keySet()).noneMatch(n -> n.startsWith("btrace0001"));
            }
            assertThat(failures).as("losing a race to delete is success").isEmpty();
        }
    }

    @Nested
    class Naming {

        @Test
        void hashedNamesLetIdsThatShareTheirFirstEightCharactersCoexist() {
            BridgeNetworkProvider hashed = new BridgeNetworkProvider(ProviderSettings.of(root).with("bridge", "br0")
                    .with(TapNaming.OPTION, "hashed"));
            List<NicConfig> one = hashed.configure("workspace-1", 2, VmSpec.of(1), List.of());
            List<NicConfig> two = hashed.configure("workspace-2", 1, VmSpec.of(1), List.of());
            assertThat(one).extracting(NicConfig::tap).allMatch(n -> n.matches("tw[a-z2-7]{10}-[01]") && n.length() <= 15);
            assertThat(two.get(0).tap()).isNotEqualTo(one.get(0).tap());
            hashed.verify("workspace-1");
            assertThat(hashed.configure("workspace-1", 2, VmSpec.of(1), one)).isEqualTo(one); // recovery
            GcOrchestrator gc = new GcOrchestrator();
            hashed.registerGc(gc);
            gc.register(ActiveVms.of(Set.of("workspace-2")));
            assertThat(gc.runOnce().collected().get("bridge")).containsExactlyInAnyOrder(one.get(0).tap(),
                    one.get(1).tap());
            hashed.verify("workspace-2");

            provider.configure("workspace-3", 1, VmSpec.of(1), List.of());
            assertThatThrownBy(() -> provider.configure("workspace-4", 1, VmSpec.of(1), List.of()))
                    .as("the prefix scheme clashes, and says what to do")
                    .isInstanceOf(DeviceOperationException.class).hasMessageContaining("tap-names=hashed");
        }
    }

    @Nested
    class Crashes {

        /**
         * A manager SIGKILLed at a random moment of configuring and deleting, again and again: whatever it leaves
         * is a TAP carrying tapwire's alias — one the GC reclaims and recovery adopts — never a bare TAP that
         * tapwire would refuse as foreign and an operator would have to delete by hand.
         */
        @Test
        void aManagerKilledMidConfigureLeavesOnlyTapsCarryingTapwiresAlias() throws Exception {
            String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Random random = new Random();
            int leftovers = 0;
            // at least 12 kills, and more (at most 40) until one left TAPs to check: a kill between two rounds
            // (while the last round's deletes revoke their ports and forget their records) leaves none
            for (int round = 0; round < 40 && (round < 12 || leftovers == 0); round++) {
                // started from this thread, so the child lives in this test's network namespace
                Process manager = new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"),
                        ConfigureLoopMain.class.getName(), root.resolve("manager").toString())
                        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
                BufferedReader out = new BufferedReader(new InputStreamReader(manager.getInputStream(),
                        StandardCharsets.UTF_8));
                assertThat(out.readLine()).as("the manager configured its first VMs").isEqualTo("ready");
                Thread.sleep(random.nextInt(40));
                manager.destroyForcibly();
                assertThat(manager.waitFor(30, TimeUnit.SECONDS)).isTrue();

                List<Link> taps = links().values().stream().filter(Link::isTun).toList();
                assertThat(taps).as("round %d", round).allSatisfy(tap ->
                        assertThat(tap.alias()).as(tap.name()).startsWith(BridgeTaps.ALIAS_PREFIX + "loop"));
                leftovers += taps.size();
                try (Rtnetlink netlink = Rtnetlink.open()) {
                    BridgeTaps.deleteWhere(netlink, Link::isTun);
                }
            }
            assertThat(leftovers).as("the kills left TAPs to check").isPositive();
        }
    }

    @Nested
    class Restart {

        /** New VMs {@code boot0000}, {@code boot0001}, … with two NICs each. */
        private List<ConfigureRequest> bootVms(int count, VmSpec spec) {
            List<ConfigureRequest> requests = new ArrayList<>();
            for (int v = 0; v < count; v++) {
                requests.add(new ConfigureRequest(String.format("boot%04d", v), 2, spec, null));
            }
            return requests;
        }

        @Test
        void configureAllRecreatesEveryVmFromItsSavedConfigsInOneGo() {
            List<ConfigureRequest> fresh = bootVms(20, VmSpec.of(2));
            List<List<NicConfig>> saved = provider.configureAll(fresh);
            assertThat(saved).hasSize(20).allSatisfy(nics -> assertThat(nics).hasSize(2));
            provider.delete(fresh.stream().map(ConfigureRequest::vmId).toList()); // "reboot"

            List<ConfigureRequest> recover = new ArrayList<>();
            for (int v = 0; v < 20; v++) {
                recover.add(ConfigureRequest.recover(fresh.get(v).vmId(), VmSpec.of(2), saved.get(v)));
            }
            assertThat(provider.configureAll(recover)).isEqualTo(saved);
            recover.forEach(r -> provider.verify(r.vmId()));
            Map<String, Link> links = links();
            assertThat(links.get("btboot0007-1").tun().orElseThrow().multiQueue()).isTrue();
        }

        @Test
        void aFailedConfigureAllRemovesExactlyTheTapsItMade() {
            Tun.createPersistentTap("btboot0002-1", false, OptionalInt.empty(), OptionalInt.empty()); // a leftover
            provider.configure("running1", 1, VmSpec.of(1), List.of());
            List<ConfigureRequest> requests = bootVms(4, VmSpec.of(1));
            assertThatThrownBy(() -> provider.configureAll(requests)).isInstanceOf(DeviceOperationException.class)
                    .hasMessageContaining("btboot0002-1");
            assertThat(links().keySet()).filteredOn(n -> n.startsWith("btboot")).containsExactly("btboot0002-1");
            provider.verify("running1");

            List<ConfigureRequest> twice = List.of(requests.get(0), requests.get(0));
            assertThatThrownBy(() -> provider.configureAll(twice))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("twice");
            assertThat(links()).doesNotContainKey("btboot0000-0");
        }

        @Test
        void aFailureAfterMoreTapsThanOneBatchHoldsRemovesThePersistedAndTheHeldAlike() {
            // 70 VMs x 2 NICs: the first 128 TAPs are aliased and made persistent before the rest are created
            Tun.createPersistentTap("btboot0069-1", false, OptionalInt.empty(), OptionalInt.empty()); // a leftover
            List<ConfigureRequest> requests = bootVms(70, VmSpec.of(1));
            assertThatThrownBy(() -> provider.configureAll(requests)).isInstanceOf(DeviceOperationException.class)
                    .hasMessageContaining("btboot0069-1");
            assertThat(links().keySet()).filteredOn(n -> n.startsWith("btboot")).containsExactly("btboot0069-1");
        }

        @Test
        void oneProviderServesEachThreadInThatThreadsOwnNamespace() throws Throwable {
            try (NetworkNamespace other = NetworkNamespace.create()) {
                other.execute(() -> {
                    NetworkNamespace.createBridge("br0");
                    provider.configure("elsewhr1", 1, VmSpec.of(1), List.of());
                    assertThat(links()).containsKey("btelsewhr1-0");
                });
                provider.configure("here0001", 1, VmSpec.of(1), List.of());
                assertThat(links()).containsKey("bthere0001-0").doesNotContainKey("btelsewhr1-0");
                other.execute(() -> assertThat(links()).doesNotContainKey("bthere0001-0"));
            }
        }
    }

    @Nested
    class Frames {

        @Test
        void aBystanderGuestReceivesNoneOfItsNeighboursUnicastFrames() {
            NicConfig a = provider.configure("guest00a", 1, VmSpec.of(1), List.of()).get(0);
            NicConfig b = provider.configure("guest00b", 1, VmSpec.of(1), List.of()).get(0);
            NicConfig c = provider.configure("guest00c", 1, VmSpec.of(1), List.of()).get(0);
            byte[] unknown = MacAddress.random().toBytes();
            try (TapQueue qa = Tun.attach(a.tap(), false); TapQueue qb = Tun.attach(b.tap(), false);
                    TapQueue qc = Tun.attach(c.tap(), false)) {
                byte[] toB = frame(b.mac().toBytes(), a.mac().toBytes());
                byte[] toNobody = frame(unknown, a.mac().toBytes());
                Optional<byte[]> atB = Optional.empty();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                List<byte[]> atC = new ArrayList<>();
                while (atB.isEmpty() && System.nanoTime() < deadline) { // ports forward once carrier is seen
                    qa.writeFrame(toB);
                    qa.writeFrame(toNobody);
                    atB = qb.readFrame(200).filter(f -> Arrays.equals(f, toB));
                    qc.readFrame(0).ifPresent(atC::add);
                }
                assertThat(atB).as("the addressee receives its frame").isPresent();
                for (int i = 0; i < 5; i++) {
                    qa.writeFrame(toB);
                    qa.writeFrame(toNobody);
                }
                for (Optional<byte[]> f = qc.readFrame(300); f.isPresent(); f = qc.readFrame(300)) {
                    atC.add(f.get());
                }
                assertThat(atC).as("frames for B or for an unknown MAC that reached bystander C")
                        .noneMatch(f -> Arrays.equals(f, toB) || Arrays.equals(f, toNobody));
            }
        }

        private byte[] frame(byte[] dst, byte[] src) {
            byte[] f = new byte[60];
            System.arraycopy(dst, 0, f, 0, 6);
            System.arraycopy(src, 0, f, 6, 6);
            f[12] = (byte) 0x88;
            f[13] = (byte) 0xb5; // local experimental EtherType
            for (int i = 14; i < f.length; i++) {
                f[i] = (byte) i;
            }
            return f;
        }
    }

    @Nested
    class Attach {

        @Test
        void withAGroupOnlyItsMembersMayAttachAndWithAnOwnerOnlyThatUser() throws Exception {
            BridgeNetworkProvider grouped = new BridgeNetworkProvider(ProviderSettings.of(root).with("bridge", "br0")
                    .with("group", "1001"));
            String groupTap = grouped.configure("gr0up001", 1, VmSpec.of(1), List.of()).get(0).tap();
            assertThat(links().get(groupTap).tun().orElseThrow().owner()).as("no owner with group alone").isEqualTo(-1);
            BridgeNetworkProvider owned = new BridgeNetworkProvider(ProviderSettings.of(root).with("bridge", "br0")
                    .with("owner", "1002"));
            String ownerTap = owned.configure("0wner002", 1, VmSpec.of(1), List.of()).get(0).tap();
            grouped.verify("gr0up001");

            assertThat(attachAs(1003, 1003, new int[] {1001}, groupTap)).as("member of group 1001").isEmpty();
            assertThat(attachAs(1003, 1003, new int[] {1004}, groupTap)).as("not a member")
                    .hasValueSatisfying(m -> assertThat(m).contains("EPERM").contains("owner"));
            assertThat(attachAs(1002, 1002, new int[0], ownerTap)).as("the owner").isEmpty();
            assertThat(attachAs(1003, 1003, new int[] {1002}, ownerTap)).as("another user")
                    .hasValueSatisfying(m -> assertThat(m).contains("EPERM"));

            BridgeNetworkProvider both = new BridgeNetworkProvider(ProviderSettings.of(root).with("bridge", "br0")
                    .with("owner", "1002").with("group", "1001"));
            String bothTap = both.configure("b0th0003", 1, VmSpec.of(1), List.of()).get(0).tap();
            assertThat(attachAs(1002, 1002, new int[] {1001}, bothTap)).as("owner in the group").isEmpty();
            assertThat(attachAs(1002, 1002, new int[0], bothTap)).as("owner outside the group").isPresent();
            assertThat(attachAs(1003, 1003, new int[] {1001}, bothTap)).as("group member, not the owner").isPresent();
        }

        /** Attaches as that user; returns the failure, or empty when it could attach. */
        private Optional<String> attachAs(int uid, int gid, int[] groups, String tap) throws Exception {
            return NetworkNamespace.runAs(uid, gid, groups, () -> {
                try (TapQueue queue = Tun.attach(tap, false)) {
                    return Optional.<String>empty();
                } catch (DeviceOperationException e) {
                    return Optional.of(e.getMessage());
                }
            });
        }
    }
}
