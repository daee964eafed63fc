package dev.tapwire.network.gc;

import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The cross-module protocol for live VMs: a {@link GcModule} snapshot that implements this tells the
 * other modules which VM IDs are active, so they keep those VMs' resources.
 */
public interface ActiveVmSnapshot {

    /**
     * Returns the IDs of the VMs that are alive.
     *
     * @return the active VM IDs
     */
    Set<String> activeVmIds();

    /**
     * Collects the active VM IDs from every snapshot in {@code snapshots} that implements this interface.
     *
     * @param snapshots snapshots by module name
     * @return the union of their active VM IDs, sorted
     */
    static Set<String> union(Map<String, Object> snapshots) {
        Set<String> ids = new TreeSet<>();
        for (Object snapshot : snapshots.values()) {
            if (snapshot instanceof ActiveVmSnapshot active) {
                ids.addAll(active.activeVmIds());
            }
        }
        return ids;
    }

    /**
     * Tells whether any snapshot in {@code snapshots} reports active VMs at all.
     *
     * @param snapshots snapshots by module name
     * @return true when at least one implements this interface
     */
    static boolean anyReported(Map<String, Object> snapshots) {
        return snapshots.values().stream().anyMatch(ActiveVmSnapshot.class::isInstance);
    }
}
