package dev.tapwire.network.gc;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What one garbage-collection cycle did.
 *
 * @param aborted true when the cycle stopped before collecting anything (a busy lock or a failed snapshot)
 * @param abortReason why it was aborted, or null
 * @param modules one result per module, in the order they ran; empty when aborted
 */
public record GcReport(boolean aborted, String abortReason, List<ModuleResult> modules) {

    /**
     * Copies the module list.
     *
     * @param aborted true when the cycle stopped before collecting anything (a busy lock or a failed snapshot)
     * @param abortReason why it was aborted, or null
     * @param modules one result per module, in the order they ran; empty when aborted
     */
    public GcReport {
        modules = modules == null ? List.of() : List.copyOf(modules);
    }

    /**
     * What one module did in a cycle.
     *
     * @param module the module name
     * @param resolved what the module found to be garbage
     * @param collected what it removed (equal to {@code resolved} unless it failed)
     * @param failure what went wrong, or null
     */
    public record ModuleResult(String module, Set<String> resolved, Set<String> collected, String failure) {

        /**
         * Copies the sets.
         *
         * @param module the module name
         * @param resolved what the module found to be garbage
         * @param collected what it removed (equal to {@code resolved} unless it failed)
         * @param failure what went wrong, or null
         */
        public ModuleResult {
            resolved = resolved == null ? Set.of() : Set.copyOf(resolved);
            collected = collected == null ? Set.of() : Set.copyOf(collected);
        }

        /**
         * Tells whether resolving or collecting failed.
         *
         * @return true on failure
         */
        public boolean failed() {
            return failure != null;
        }
    }

    /**
     * Returns what each module collected.
     *
     * @return collected IDs by module name
     */
    public Map<String, Set<String>> collected() {
        Map<String, Set<String>> map = new TreeMap<>();
        modules.forEach(m -> map.put(m.module(), m.collected()));
        return map;
    }

    /**
     * Returns the failures by module name.
     *
     * @return failure messages by module name, empty when none failed
     */
    public Map<String, String> failures() {
        Map<String, String> map = new TreeMap<>();
        modules.stream().filter(ModuleResult::failed).forEach(m -> map.put(m.module(), m.failure()));
        return map;
    }

    /**
     * Tells whether the cycle ran to the end with no module failing.
     *
     * @return true when nothing was aborted or failed
     */
    public boolean succeeded() {
        return !aborted && failures().isEmpty();
    }
}
