package dev.tapwire.network.gc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.lock.Lease;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class GcOrchestratorTest {

    /** A fake module owning "devices" named after VM IDs. */
    static class FakeModule implements GcModule<Set<String>> {
        final String name;
        final Set<String> devices = new TreeSet<>();
        boolean lockBusy;
        boolean snapshotFails;
        boolean collectFails;
        int locksHeld;
        final List<Set<String>> collected = new ArrayList<>();

        FakeModule(String name, String... devices) {
            this.name = name;
            this.devices.addAll(List.of(devices));
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public Optional<Lease> tryLock() {
            if (lockBusy) {
                return Optional.empty();
            }
            locksHeld++;
            return Optional.of(() -> locksHeld--);
        }

        @Override
        public Set<String> snapshot() {
            if (snapshotFails) {
                throw new NetworkException("cannot list devices");
            }
            return Set.copyOf(devices);
        }

        @Override
        public Set<String> resolve(Set<String> snapshot, Map<String, Object> others) {
            Set<String> active = ActiveVmSnapshot.union(others);
            Set<String> garbage = new TreeSet<>(snapshot);
            garbage.removeAll(active);
            return garbage;
        }

        @Override
        public void collect(Set<String> ids) {
            if (collectFails) {
                throw new NetworkException("device busy");
            }
            collected.add(ids);
            devices.removeAll(ids);
        }
    }

    @Test
    void resolvesAcrossModulesAndKeepsActiveVms() {
        GcOrchestrator gc = new GcOrchestrator();
        FakeModule taps = new FakeModule("taps", "vm-1", "vm-2", "vm-3");
        gc.register(taps);
        gc.register(ActiveVms.of(Set.of("vm-2")));

        GcReport report = gc.runOnce();

        assertThat(report.succeeded()).isTrue();
        assertThat(report.collected()).containsEntry("taps", Set.of("vm-1", "vm-3"));
        assertThat(taps.devices).containsExactly("vm-2");
        assertThat(taps.locksHeld).isZero();
    }

    @Test
    void aBusyLockAbortsTheWholeCycleAndReleasesWhatWasTaken() {
        GcOrchestrator gc = new GcOrchestrator();
        FakeModule a = new FakeModule("a", "vm-1");
        FakeModule b = new FakeModule("b", "vm-2");
        b.lockBusy = true;
        gc.register(a);
        gc.register(b);

        GcReport report = gc.runOnce();

        assertThat(report.aborted()).isTrue();
        assertThat(report.abortReason()).contains("lock of module b is busy");
        assertThat(report.modules()).isEmpty();
        assertThat(a.collected).isEmpty();
        assertThat(a.locksHeld).isZero();
    }

    @Test
    void aFailedSnapshotAbortsTheWholeCycle() {
        GcOrchestrator gc = new GcOrchestrator();
        FakeModule a = new FakeModule("a", "vm-1");
        FakeModule b = new FakeModule("b", "vm-2");
        b.snapshotFails = true;
        gc.register(a);
        gc.register(b);

        GcReport report = gc.runOnce();

        assertThat(report.aborted()).isTrue();
        assertThat(report.abortReason()).contains("snapshot of module b failed").contains("cannot list devices");
        assertThat(a.collected).isEmpty();
        assertThat(a.locksHeld).isZero();
        assertThat(b.locksHeld).isZero();
    }

    @Test
    void aFailingCollectIsReportedAndTheOthersStillRun() {
        GcOrchestrator gc = new GcOrchestrator();
        FakeModule a = new FakeModule("a", "vm-1");
        FakeModule b = new FakeModule("b", "vm-2");
        FakeModule c = new FakeModule("c", "vm-3");
        b.collectFails = true;
        gc.register(a);
        gc.register(b);
        gc.register(c);

        GcReport report = gc.runOnce();

        assertThat(report.aborted()).isFalse();
        assertThat(report.succeeded()).isFalse();
        assertThat(report.failures()).containsOnlyKeys("b");
        assertThat(report.failures().get("b")).contains("device busy");
        assertThat(report.collected()).containsEntry("a", Set.of("vm-1")).containsEntry("b", Set.of())
                .containsEntry("c", Set.of("vm-3"));
    }

    @Test
    void duplicateModuleNamesAreRejected() {
        GcOrchestrator gc = new GcOrchestrator();
        gc.register(new FakeModule("a"));
        assertThatThrownBy(() -> gc.register(new FakeModule("a"))).isInstanceOf(InvalidNetworkSpecException.class);
        assertThat(gc.moduleNames()).containsExactly("a");
    }

    @Test
    void livenessIsSnapshottedAfterEveryResourceWhateverTheNames() {
        List<String> order = new ArrayList<>();
        FakeModule resources = new FakeModule("z-devices", "vm-1") {
            @Override
            public Set<String> snapshot() {
                order.add("z-devices");
                return super.snapshot();
            }
        };
        GcOrchestrator gc = new GcOrchestrator();
        gc.register(ActiveVms.from(() -> {
            order.add("active-vms");
            return List.of("vm-1");
        }));
        gc.register(resources);
        GcReport report = gc.runOnce();
        assertThat(order).containsExactly("z-devices", "active-vms");
        assertThat(report.succeeded()).isTrue();
        assertThat(resources.collected).isEmpty();
    }

    @Test
    void aLivenessModuleThatForgetsTheFlagIsStillReadAfterTheResources() {
        Set<String> live = new TreeSet<>();
        GcModule<ActiveVmSnapshot> forgetful = new GcModule<>() { // reportsLiveness() not overridden
            @Override
            public String name() {
                return "a-manager"; // sorts before the resource module
            }

            @Override
            public Optional<Lease> tryLock() {
                return Optional.of(() -> { });
            }

            @Override
            public ActiveVmSnapshot snapshot() {
                Set<String> now = Set.copyOf(live);
                return () -> now;
            }

            @Override
            public Set<String> resolve(ActiveVmSnapshot snapshot, Map<String, Object> others) {
                return Set.of();
            }

            @Override
            public void collect(Set<String> ids) {
            }
        };
        FakeModule taps = new FakeModule("taps", "vm-old") {
            @Override
            public Set<String> snapshot() {
                // while the cycle runs, the manager marks vm-new active and then configures its TAP
                live.add("vm-new");
                devices.add("vm-new");
                return super.snapshot();
            }
        };
        GcOrchestrator gc = new GcOrchestrator();
        gc.register(forgetful);
        gc.register(taps);

        GcReport report = gc.runOnce();

        assertThat(report.succeeded()).isTrue();
        assertThat(report.collected()).containsEntry("taps", Set.of("vm-old"));
        assertThat(taps.devices).as("the VM marked active before its TAP was made keeps it").containsExactly("vm-new");
    }

    @Test
    void aSecondSnapshotOfAForgetfulLivenessModuleThatFailsAbortsTheCycle() {
        int[] calls = {0};
        GcModule<ActiveVmSnapshot> flaky = new GcModule<>() {
            @Override
            public String name() {
                return "a-manager";
            }

            @Override
            public Optional<Lease> tryLock() {
                return Optional.of(() -> { });
            }

            @Override
            public ActiveVmSnapshot snapshot() {
                if (++calls[0] == 2) {
                    throw new NetworkException("database gone");
                }
                return Set::of;
            }

            @Override
            public Set<String> resolve(ActiveVmSnapshot snapshot, Map<String, Object> others) {
                return Set.of();
            }

            @Override
            public void collect(Set<String> ids) {
            }
        };
        FakeModule taps = new FakeModule("taps", "vm-1");
        GcOrchestrator gc = new GcOrchestrator();
        gc.register(flaky);
        gc.register(taps);

        GcReport report = gc.runOnce();

        assertThat(report.aborted()).isTrue();
        assertThat(report.abortReason()).contains("snapshot of module a-manager failed: database gone");
        assertThat(taps.collected).isEmpty();
        assertThat(taps.locksHeld).isZero();
    }
}
