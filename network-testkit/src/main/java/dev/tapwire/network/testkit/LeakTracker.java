package dev.tapwire.network.testkit;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * Remembers when each in-memory provider was made, so {@link LeakCheck} can find those made since a test
 * began. Marks are global: tests running in parallel would see each other's providers.
 */
final class LeakTracker {

    /** Providers by the generation they were made in; guarded by its own monitor. */
    private static final Map<InMemoryNetworkProvider, Long> PROVIDERS = new WeakHashMap<>();
    private static long generation;

    private LeakTracker() {
    }

    static void track(InMemoryNetworkProvider provider) {
        synchronized (PROVIDERS) {
            PROVIDERS.put(provider, generation);
        }
    }

    static long nextGeneration() {
        synchronized (PROVIDERS) {
            return ++generation;
        }
    }

    static List<InMemoryNetworkProvider> since(long mark) {
        synchronized (PROVIDERS) {
            List<InMemoryNetworkProvider> list = new ArrayList<>();
            PROVIDERS.forEach((p, g) -> {
                if (g >= mark) {
                    list.add(p);
                }
            });
            return list;
        }
    }
}
