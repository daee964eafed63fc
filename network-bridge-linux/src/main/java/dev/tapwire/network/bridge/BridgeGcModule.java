package dev.tapwire.network.bridge;

import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Nftables;
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
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bridge backend's GC module: reclaims tapwire TAPs (those carrying tapwire's alias, wherever they are
 * attached) that a configure under its state directory made and whose VM is not among the active VM IDs the other
 * modules' snapshots report — another state directory's TAPs in the same namespace are never touched — deleting all
 * orphans in one batch, forgets the workspaces and port-security entries their configures recorded, and keeps the
 * owner's port-security table exact (elements of reclaimed TAPs, and any no TAP explains, are removed). Locks {@code rootDir/bridge/gc.lock}, which {@link BridgeNetworkProvider#configure}
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
    private final PortSecurity security;
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
        this.security = new PortSecurity(NetworkRealizer.ownerTag(rootDir));
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
        Set<String> foreign = new TreeSet<>();
        Set<String> owned = PortRecords.vms(rootDir).keySet();
        for (Link tap : snapshot.taps()) {
            Optional<String> vm = BridgeTaps.vmIdOf(tap);
            if (vm.filter(active::contains).isPresent()) {
                continue;
            }
            if (vm.filter(owned::contains).isEmpty()) {
                foreign.add(tap.name()); // another state directory's (or made before tapwire marked its VMs)
                continue;
            }
            resolved.put(tap.name(), tap);
        }
        if (!foreign.isEmpty()) {
            LOG.debug("bridge GC: leaving {} tapwire TAP(s) that no configure under {} made: {}", foreign.size(),
                    rootDir, foreign);
        }
        return new TreeSet<>(resolved.keySet());
    }

    /**
     * Makes this owner's port-security table hold exactly the elements of the TAPs that remain (as their records
     * say): those of reclaimed TAPs go, and so does any element no TAP explains; the table goes with the last port.
     */
    private void reconcilePortSecurity(Rtnetlink netlink) {
        Map<String, PortSecurity.Entry> expected = BridgeTaps.allPorts(rootDir, netlink.links());
        if (expected.isEmpty()) {
            if (Nftables.unavailabilityCause().isEmpty()) { // without libnftables no port was ever admitted
                security.drop();
            }
        } else {
            security.reconcile(expected);
        }
    }

    /**
     * Deletes the TAPs the last {@link #resolve} chose that still are the very links it saw, forgets their VMs'
     * records, and reconciles this owner's port-security table with the TAPs that remain.
     *
     * @param tapNames the TAPs to reclaim, as {@link #resolve} returned them
     * @throws dev.tapwire.network.DeviceOperationException if a TAP cannot be deleted or nftables refuses
     * @throws dev.tapwire.network.NetworkException if a record cannot be read or removed
     */
    @Override
    public void collect(Set<String> tapNames) {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            List<Link> all = netlink.links();
            List<Link> doomed = all.stream().filter(l -> {
                Link seen = tapNames.contains(l.name()) ? resolved.get(l.name()) : null;
                return seen != null && seen.index() == l.index() && seen.alias().equals(l.alias()) && l.isTap();
            }).toList();
            BridgeTaps.delete(netlink, all, doomed);
            // their VMs are gone: so are the workspaces and port-security entries their configures recorded
            List<String> vms = doomed.stream().map(BridgeTaps::vmIdOf).flatMap(Optional::stream).distinct().toList();
            Map<String, Map<String, PortSecurity.Entry>> recorded = PortRecords.vms(rootDir);
            Map<String, PortSecurity.Entry> ports = new TreeMap<>();
            vms.forEach(vm -> ports.putAll(recorded.getOrDefault(vm, Map.of())));
            security.revoke(ports); // routine; what reconcile finds after this is drift an operator must know of
            vms.forEach(vm -> BridgeTaps.recordWorkspace(rootDir, vm, Optional.empty()));
            new PortPublishing(rootDir).unpublishVms(vms); // the host ports published to them are reclaimed too
            PortRecords.forget(rootDir, vms);
            LOG.debug("bridge GC reclaimed {} TAP(s): {}", doomed.size(), tapNames);
            reconcilePortSecurity(netlink);
        } finally {
            resolved.clear();
        }
    }
}
