package dev.tapwire.network.bridge;

import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.gc.ActiveVmSnapshot;
import dev.tapwire.network.gc.GcModule;
import dev.tapwire.network.lock.Lease;
import dev.tapwire.network.lock.LockFile;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bridge backend's GC module: reclaims tapwire TAPs (those carrying tapwire's alias, wherever they are
 * attached) whose VM is not among the active VM IDs the other modules' snapshots report, deleting all
 * orphans in one batch, and forgets the workspaces their configures recorded. Locks {@code rootDir/bridge/gc.lock}, which {@link BridgeNetworkProvider#configure}
 * and {@link BridgeNetworkProvider#delete} hold too: a VM being configured is never collected.
 *
 * <p>It deletes exactly the links it snapshotted: a TAP is collected only if a link with the same ifindex,
 * name and alias still exists, so a name freed by a dead VM and reused by a new one is never touched.
 *
 * <p>Fail-safe: when no module reports active VMs at all, nothing is reclaimed (an empty view never
 * means "every VM is dead").
 */
public final class BridgeGcModule implements GcModule<BridgeGcModule.Snapshot> {

    private static final Logger LOG = LoggerFactory.getLogger(BridgeGcModule.class);

    private final Path rootDir;
    private final LockFile lock;
    /** The links the last resolve chose, by name; read by the collect of the same cycle. */
    private final Map<String, Link> resolved = new ConcurrentHashMap<>();

    /**
     * Creates the module for a provider: it locks the provider's GC lock.
     *
     * @param provider the provider whose configures and deletes the GC must not overlap
     */
    public BridgeGcModule(BridgeNetworkProvider provider) {
        this(provider.settings().rootDir());
    }

    private BridgeGcModule(Path rootDir) {
        this.rootDir = rootDir;
        this.lock = BridgeNetworkProvider.gcLock(rootDir);
    }

    /**
     * Creates the module for the bridge providers under {@code rootDir}, with no provider (and so no bridge)
     * needed: the GC reclaims tapwire TAPs wherever they are attached.
     *
     * @param rootDir the providers' root directory, whose {@code bridge/gc.lock} it takes
     * @return the module
     */
    public static BridgeGcModule forRoot(Path rootDir) {
        return new BridgeGcModule(rootDir);
    }

    /**
     * The TAPs seen when the cycle started.
     *
     * @param taps every tapwire TAP of the namespace
     */
    public record Snapshot(List<Link> taps) {
    }

    @Override
    public String name() {
        return "bridge";
    }

    @Override
    public Optional<Lease> tryLock() {
        return lock.tryAcquire();
    }

    @Override
    public Snapshot snapshot() {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            return new Snapshot(BridgeTaps.list(netlink));
        }
    }

    @Override
    public Set<String> resolve(Snapshot snapshot, Map<String, Object> others) {
        resolved.clear();
        if (!ActiveVmSnapshot.anyReported(others)) {
            LOG.warn("bridge GC: no module reports active VMs; reclaiming nothing");
            return Set.of();
        }
        Set<String> active = ActiveVmSnapshot.union(others);
        for (Link tap : snapshot.taps()) {
            if (BridgeTaps.vmIdOf(tap).filter(active::contains).isEmpty()) {
                resolved.put(tap.name(), tap);
            }
        }
        return new TreeSet<>(resolved.keySet());
    }

    @Override
    public void collect(Set<String> tapNames) {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            List<Link> all = netlink.links();
            List<Link> doomed = all.stream().filter(l -> {
                Link seen = tapNames.contains(l.name()) ? resolved.get(l.name()) : null;
                return seen != null && seen.index() == l.index() && seen.alias().equals(l.alias()) && l.isTap();
            }).toList();
            BridgeTaps.delete(netlink, all, doomed);
            // their VMs are gone: so are the workspaces their configures recorded
            doomed.stream().map(BridgeTaps::vmIdOf).flatMap(Optional::stream).distinct()
                    .forEach(vm -> BridgeTaps.recordWorkspace(rootDir, vm, Optional.empty()));
            LOG.debug("bridge GC reclaimed {} TAP(s): {}", doomed.size(), tapNames);
        } finally {
            resolved.clear();
        }
    }
}
