package dev.tapwire.network.gc;

import dev.tapwire.network.lock.Lease;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A {@link GcModule} that collects nothing and reports a fixed set of VMs as active; for managers
 * that know their live VMs, and for the CLI's {@code gc --active}.
 */
public final class ActiveVms implements GcModule<ActiveVmSnapshot> {

    private final String name;
    private final Set<String> ids;

    private ActiveVms(String name, Set<String> ids) {
        this.name = name;
        this.ids = Set.copyOf(ids);
    }

    /**
     * Returns a module named {@code active-vms} that reports {@code vmIds} as alive.
     *
     * @param vmIds the live VM IDs
     * @return the module
     */
    public static ActiveVms of(Set<String> vmIds) {
        return new ActiveVms("active-vms", vmIds);
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
        return () -> ids;
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
