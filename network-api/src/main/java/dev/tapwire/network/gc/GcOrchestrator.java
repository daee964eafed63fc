package dev.tapwire.network.gc;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.lock.Lease;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs garbage-collection cycles across registered {@link GcModule}s.
 *
 * <p>A cycle try-locks every module in name order and <b>aborts the whole cycle</b> (releasing what it
 * took) when any lock is busy or any snapshot fails: deciding garbage from a partial view could reclaim a
 * live VM's resources. Snapshots are taken resources first and liveness last: modules that
 * {@linkplain GcModule#reportsLiveness() say} they report liveness go last, and a module whose snapshot is an
 * {@link ActiveVmSnapshot} without saying so is snapshotted again after the resources, so a VM marked active at
 * any time before its resources were listed is seen as active whatever a module author forgot. Then each module resolves against the other modules' snapshots and collects; a
 * module that fails is reported and the others still run. Thread-safe; cycles are serialized.
 *
 * <pre>{@code
 * GcOrchestrator gc = new GcOrchestrator();
 * gc.register(ActiveVms.of(Set.of("vm-1")));
 * provider.registerGc(gc);
 * GcReport report = gc.runOnce();
 * }</pre>
 */
public final class GcOrchestrator {

    private static final Logger LOG = LoggerFactory.getLogger(GcOrchestrator.class);

    private final Map<String, GcModule<?>> modules = new LinkedHashMap<>();

    /** Creates an orchestrator with no modules. */
    public GcOrchestrator() {
    }

    /**
     * Adds a module.
     *
     * @param module the module
     * @throws InvalidNetworkSpecException if a module of the same name is registered already
     */
    public synchronized void register(GcModule<?> module) {
        if (modules.putIfAbsent(module.name(), module) != null) {
            throw new InvalidNetworkSpecException("a GC module named \"" + module.name() + "\" is registered already");
        }
    }

    /**
     * Returns the registered module names, in registration order.
     *
     * @return the names
     */
    public synchronized List<String> moduleNames() {
        return List.copyOf(modules.keySet());
    }

    /**
     * Runs one cycle.
     *
     * @return what the cycle did; never throws for a module's failure
     */
    public synchronized GcReport runOnce() {
        List<GcModule<?>> ordered = new ArrayList<>(modules.values());
        ordered.sort((a, b) -> a.name().compareTo(b.name()));
        List<Lease> leases = new ArrayList<>();
        try {
            for (GcModule<?> module : ordered) {
                Optional<Lease> lease;
                try {
                    lease = module.tryLock();
                } catch (RuntimeException e) {
                    return abort("lock of module " + module.name() + " failed: " + e.getMessage());
                }
                if (lease.isEmpty()) {
                    return abort("lock of module " + module.name() + " is busy");
                }
                leases.add(lease.get());
            }
            Map<String, Object> snapshots;
            try {
                snapshots = snapshotResourcesThenLiveness(ordered);
            } catch (SnapshotFailed e) {
                return abort(e.getMessage());
            }
            List<GcReport.ModuleResult> results = new ArrayList<>();
            for (GcModule<?> module : ordered) {
                results.add(runModule(module, snapshots));
            }
            return new GcReport(false, null, results);
        } finally {
            for (int i = leases.size() - 1; i >= 0; i--) {
                leases.get(i).close();
            }
        }
    }

    /**
     * Takes every module's snapshot so that each liveness snapshot is taken after every resource snapshot. The
     * flagged liveness modules go last; then any module whose snapshot turned out to be an {@link ActiveVmSnapshot}
     * although a resource snapshot came after it (a module that does not override
     * {@link GcModule#reportsLiveness()}) is snapshotted once more, and that later snapshot is the one used. So the
     * safe order rests on the kind of snapshot a module returns, not on a flag its author may forget.
     *
     * @return the snapshots by module name
     * @throws SnapshotFailed naming the module whose snapshot failed
     */
    private static Map<String, Object> snapshotResourcesThenLiveness(List<GcModule<?>> ordered) {
        List<GcModule<?>> resourcesThenLiveness = new ArrayList<>(ordered);
        resourcesThenLiveness.sort(Comparator.comparing(GcModule::reportsLiveness)); // stable: name order kept
        Map<String, Object> snapshots = new LinkedHashMap<>();
        int lastResource = -1;
        for (int i = 0; i < resourcesThenLiveness.size(); i++) {
            GcModule<?> module = resourcesThenLiveness.get(i);
            Object snapshot = snapshot(module);
            snapshots.put(module.name(), snapshot);
            if (!(snapshot instanceof ActiveVmSnapshot)) {
                lastResource = i;
            }
        }
        for (int i = 0; i < lastResource; i++) {
            GcModule<?> module = resourcesThenLiveness.get(i);
            if (snapshots.get(module.name()) instanceof ActiveVmSnapshot) {
                LOG.debug("GC module {} reports liveness without saying so (reportsLiveness); snapshotting it again"
                        + " after the resources", module.name());
                snapshots.put(module.name(), snapshot(module));
            }
        }
        return snapshots;
    }

    private static Object snapshot(GcModule<?> module) {
        try {
            return module.snapshot();
        } catch (RuntimeException e) {
            throw new SnapshotFailed("snapshot of module " + module.name() + " failed: " + e.getMessage());
        }
    }

    /** A snapshot failed: the cycle aborts. */
    private static final class SnapshotFailed extends RuntimeException {
        private static final long serialVersionUID = 1L;

        SnapshotFailed(String message) {
            super(message, null, false, false);
        }
    }

    private static GcReport abort(String reason) {
        LOG.warn("GC cycle aborted: {}", reason);
        return new GcReport(true, reason, List.of());
    }

    private static <S> GcReport.ModuleResult runModule(GcModule<S> module, Map<String, Object> snapshots) {
        Map<String, Object> others = new LinkedHashMap<>(snapshots);
        @SuppressWarnings("unchecked")
        S own = (S) others.remove(module.name());
        Set<String> resolved;
        try {
            resolved = module.resolve(own, Map.copyOf(others));
        } catch (RuntimeException e) {
            LOG.warn("GC module {} failed to resolve: {}", module.name(), e.toString());
            return new GcReport.ModuleResult(module.name(), Set.of(), Set.of(), "resolve failed: " + e.getMessage());
        }
        if (resolved.isEmpty()) {
            LOG.debug("GC module {}: nothing to collect", module.name());
            return new GcReport.ModuleResult(module.name(), resolved, Set.of(), null);
        }
        try {
            module.collect(resolved);
            LOG.debug("GC module {} collected {}", module.name(), resolved);
            return new GcReport.ModuleResult(module.name(), resolved, resolved, null);
        } catch (RuntimeException e) {
            LOG.warn("GC module {} failed to collect {}: {}", module.name(), resolved, e.toString());
            return new GcReport.ModuleResult(module.name(), resolved, Set.of(), "collect failed: " + e.getMessage());
        }
    }
}
