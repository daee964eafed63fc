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
 * live VM's resources. Snapshots are taken resources first and liveness last
 * ({@link GcModule#reportsLiveness()}): a VM marked active at any time before its resources were listed is
 * seen as active. Then each module resolves against the other modules' snapshots and collects; a
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
            Map<String, Object> snapshots = new LinkedHashMap<>();
            List<GcModule<?>> resourcesThenLiveness = new ArrayList<>(ordered);
            resourcesThenLiveness.sort(Comparator.comparing(GcModule::reportsLiveness)); // stable: name order kept
            for (GcModule<?> module : resourcesThenLiveness) {
                try {
                    snapshots.put(module.name(), module.snapshot());
                } catch (RuntimeException e) {
                    return abort("snapshot of module " + module.name() + " failed: " + e.getMessage());
                }
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
