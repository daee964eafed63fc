package dev.tapwire.network.bridge;

import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.gc.ActiveVmSnapshot;
import dev.tapwire.network.gc.GcModule;
import dev.tapwire.network.lock.Lease;
import dev.tapwire.network.lock.LockFile;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bridge backend's GC module: reclaims tapwire TAPs whose VM is not among the active VM IDs the
 * other modules' snapshots report, deleting all orphans in one batch. Locks {@code rootDir/bridge/gc.lock}.
 *
 * <p>Fail-safe: when no module reports active VMs at all, nothing is reclaimed (an empty view never
 * means "every VM is dead").
 */
public final class BridgeGcModule implements GcModule<BridgeGcModule.Snapshot> {

    private static final Logger LOG = LoggerFactory.getLogger(BridgeGcModule.class);

    private final BridgeNetworkProvider provider;
    private final LockFile lock;

    /**
     * Creates the module for a provider.
     *
     * @param provider the provider whose TAPs it reclaims
     */
    public BridgeGcModule(BridgeNetworkProvider provider) {
        this.provider = provider;
        this.lock = LockFile.at(provider.settings().rootDir().resolve("bridge").resolve("gc.lock"));
    }

    /**
     * The TAPs seen when the cycle started.
     *
     * @param taps the tapwire TAPs on this bridge or on none
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
        return new Snapshot(provider.taps());
    }

    @Override
    public Set<String> resolve(Snapshot snapshot, Map<String, Object> others) {
        if (!ActiveVmSnapshot.anyReported(others)) {
            LOG.warn("bridge GC: no module reports active VMs; reclaiming nothing");
            return Set.of();
        }
        Set<String> active = ActiveVmSnapshot.union(others);
        Set<String> orphans = new TreeSet<>();
        for (Link tap : snapshot.taps()) {
            if (active.stream().noneMatch(vmId -> BridgeTaps.belongsTo(tap, vmId))) {
                orphans.add(tap.name());
            }
        }
        return orphans;
    }

    @Override
    public void collect(Set<String> tapNames) {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            int reclaimed = BridgeTaps.deleteWhere(netlink, l -> BridgeTaps.isTapwireTap(l) && tapNames.contains(l.name()));
            LOG.debug("bridge GC reclaimed {} TAP(s): {}", reclaimed, tapNames);
        }
    }
}
