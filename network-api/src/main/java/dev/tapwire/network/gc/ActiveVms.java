package dev.tapwire.network.gc;

import dev.tapwire.network.lock.Lease;
import java.util.Collection;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * A {@link GcModule} that collects nothing and reports which VMs are active; for managers that know their
 * live VMs, and for the CLI's {@code gc --active}. Its snapshot is taken after every resource module's
 * ({@link #reportsLiveness()}).
 */
public final class ActiveVms implements GcModule<ActiveVmSnapshot> {

    private final String name;
    private final Supplier<? extends Collection<String>> ids;

    private ActiveVms(String name, Supplier<? extends Collection<String>> ids) {
        this.name = name;
        this.ids = ids;
    }

    /**
     * Returns a module named {@code active-vms} that reports {@code vmIds} as alive.
     *
     * @param vmIds the live VM IDs
     * @return the module
     * @throws NullPointerException if {@code vmIds} is or holds null
     */
    public static ActiveVms of(Set<String> vmIds) {
        Set<String> fixed = Set.copyOf(vmIds);
        return new ActiveVms("active-vms", () -> fixed);
    }

    /**
     * Returns a module named {@code active-vms} that asks {@code liveVms} for the live VM IDs at each cycle,
     * after the resources were listed — e.g. a query of the manager's own database.
     *
     * @param liveVms supplies the live VM IDs; a failure aborts the cycle
     * @return the module
     * @throws NullPointerException if {@code liveVms} is null
     */
    public static ActiveVms from(Supplier<? extends Collection<String>> liveVms) {
        return new ActiveVms("active-vms", Objects.requireNonNull(liveVms, "liveVms"));
    }

    /** Returns true: this module reports liveness, so it is snapshotted last. */
    @Override
    public boolean reportsLiveness() {
        return true;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public Optional<Lease> tryLock() {
        return Optional.of(() -> { });
    }

    @Override
    public ActiveVmSnapshot snapshot() {
        Set<String> live = Set.copyOf(ids.get());
        return () -> live;
    }

    @Override
    public Set<String> resolve(ActiveVmSnapshot snapshot, Map<String, Object> others) {
        return Set.of();
    }

    @Override
    public void collect(Set<String> collected) {
        // reports only
    }
}
