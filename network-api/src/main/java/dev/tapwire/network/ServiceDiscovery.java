package dev.tapwire.network;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one discovery mechanism behind {@link NetworkProviders} and {@link NetworkRegistries}: classes named by a
 * system property first, then {@link ServiceLoader}; one implementation per key.
 */
final class ServiceDiscovery {

    private static final Logger LOG = LoggerFactory.getLogger(ServiceDiscovery.class);

    private ServiceDiscovery() {
    }

    /**
     * Discovers implementations of {@code service}, choosing one per key.
     *
     * <p>Classes named (comma-separated) by the system property {@code property} come first and win over
     * discovered ones of the same key. A class that fails to load, or whose key cannot be read, is logged at
     * warn and skipped, never hiding the others. When two discovered classes claim one key, the one whose
     * class name sorts first is chosen and a warning names both.
     *
     * @param service the service interface
     * @param loader the class loader to search
     * @param property the system property that may name classes to use first
     * @param key reads an implementation's key (type or scheme)
     * @param what what an implementation is called in log messages, e.g. {@code network provider factory}
     * @param <F> the service type
     * @return the chosen implementation per key, sorted by key
     */
    static <F> Map<String, F> discover(Class<F> service, ClassLoader loader, String property, Function<F, String> key,
            String what) {
        Map<String, F> forced = new TreeMap<>();
        for (F f : forced(service, loader, property, what)) {
            String k = safeKey(f, key, what);
            if (k != null) {
                forced.putIfAbsent(k, f);
            }
        }
        Map<String, List<F>> found = new TreeMap<>();
        var iterator = ServiceLoader.load(service, loader).iterator();
        while (true) {
            F f;
            try {
                if (!iterator.hasNext()) {
                    break;
                }
                f = iterator.next();
            } catch (ServiceConfigurationError | LinkageError e) {
                LOG.warn("skipping a {} that failed to load: {}", what, e.toString(), e);
                continue;
            }
            String k = safeKey(f, key, what);
            if (k != null) {
                found.computeIfAbsent(k, x -> new ArrayList<>()).add(f);
            }
        }
        Map<String, F> chosen = new TreeMap<>();
        for (var entry : found.entrySet()) {
            List<F> candidates = entry.getValue();
            candidates.sort(Comparator.comparing(f -> f.getClass().getName()));
            F first = candidates.get(0);
            if (candidates.size() > 1 && !forced.containsKey(entry.getKey())) {
                LOG.warn("{} {}s claim \"{}\": {}; using {}", candidates.size(), what, entry.getKey(),
                        candidates.stream().map(f -> f.getClass().getName()).toList(), first.getClass().getName());
            }
            chosen.put(entry.getKey(), first);
        }
        chosen.putAll(forced);
        return chosen;
    }

    private static <F> String safeKey(F f, Function<F, String> key, String what) {
        try {
            String k = key.apply(f);
            if (k == null || k.isBlank()) {
                LOG.warn("skipping {} {}: it reports no name", what, f.getClass().getName());
                return null;
            }
            return k;
        } catch (RuntimeException | LinkageError e) {
            LOG.warn("skipping {} {}: reading its name failed: {}", what, f.getClass().getName(), e.toString(), e);
            return null;
        }
    }

    private static <F> List<F> forced(Class<F> service, ClassLoader loader, String property, String what) {
        String names = System.getProperty(property);
        List<F> result = new ArrayList<>();
        if (names == null || names.isBlank()) {
            return result;
        }
        for (String name : names.split(",")) {
            String className = name.trim();
            if (className.isEmpty()) {
                continue;
            }
            try {
                Class<?> cls = Class.forName(className, true, loader);
                result.add(service.cast(cls.getDeclaredConstructor().newInstance()));
            } catch (ReflectiveOperationException | ClassCastException | LinkageError e) {
                LOG.warn("ignoring {}={}: cannot instantiate {} as a {}: {}", property, names, className, what,
                        e.toString(), e);
            }
        }
        return result;
    }
}
