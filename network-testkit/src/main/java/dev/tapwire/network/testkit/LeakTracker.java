package dev.tapwire.network.testkit;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

/** Remembers the in-memory providers made on each thread's watch, for {@link LeakCheck}. */
final class LeakTracker {

    private static final Map<InMemoryNetworkProvider, Long> PROVIDERS = Collections.synchronizedMap(new WeakHashMap<>());
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
