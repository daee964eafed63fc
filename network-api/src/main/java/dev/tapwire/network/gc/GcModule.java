package dev.tapwire.network.gc;

import dev.tapwire.network.lock.Lease;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * One backend's part in a garbage-collection cycle run by {@link GcOrchestrator}.
 *
 * <p>A cycle: every module is {@linkplain #tryLock() try-locked}; every module takes a
 * {@linkplain #snapshot() snapshot}; each module {@linkplain #resolve resolves} what is garbage from its
 * own snapshot and the other modules' snapshots; each module {@linkplain #collect collects} that. A
 * snapshot that implements {@link ActiveVmSnapshot} tells the other modules which VMs are alive; modules
 * that {@linkplain #reportsLiveness() report liveness} are snapshotted after all the others, so a VM that
 * became active while resources were listed is seen as active.
 *
 * @param <S> the type of this module's snapshot
 */
public interface GcModule<S> {

    /**
     * Returns the module's name, unique within an orchestrator, e.g. {@code bridge}.
     *
     * @return the name
     */
    String name();

    /**
     * Tells whether this module's snapshot reports which VMs are alive ({@link ActiveVmSnapshot}): such
     * snapshots are taken last, after every resource was listed. A VM marked active before its resources were
     * made is then never reclaimed, whatever the timing. The orchestrator does not rely on it: a snapshot that
     * is an {@link ActiveVmSnapshot} from a module that returns false here is taken again after the resources.
     * Saying so saves that second snapshot.
     *
     * @return true for a liveness module; false by default
     */
    default boolean reportsLiveness() {
        return false;
    }

    /**
     * Takes the module's lock without waiting.
     *
     * @return the lease, or empty when another process or thread holds it
     * @throws dev.tapwire.network.NetworkException if the lock cannot be taken for another reason
     */
    Optional<Lease> tryLock();

    /**
     * Records the module's current state, under its lock.
     *
     * @return the snapshot
     * @throws dev.tapwire.network.NetworkException if the state cannot be read
     */
    S snapshot();

    /**
     * Decides which of this module's objects are garbage.
     *
     * @param snapshot this module's snapshot
     * @param others the other modules' snapshots by module name
     * @return the IDs to collect (device names, VM IDs — the module's own choice)
     */
    Set<String> resolve(S snapshot, Map<String, Object> others);

    /**
     * Removes the given objects.
     *
     * @param ids what {@link #resolve} returned
     * @throws dev.tapwire.network.NetworkException if some could not be removed
     */
    void collect(Set<String> ids);
}
