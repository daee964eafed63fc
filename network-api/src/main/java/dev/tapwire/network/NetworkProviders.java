package dev.tapwire.network;

import dev.tapwire.network.spi.NetworkProviderFactory;
import dev.tapwire.network.spi.ProviderSettings;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds network providers: the one place where {@link NetworkProviderFactory} implementations are discovered.
 *
 * <p>Order of lookup: the system property {@value #FACTORY_PROPERTY} may name factory classes
 * (comma-separated) that are used first and win over discovered ones of the same type; then
 * {@link ServiceLoader} with this API's class loader (and the module layer, on the module path). A
 * factory that fails to load is logged at warn and skipped, never hiding the others. When two factories
 * claim one type, the one whose class name sorts first is chosen and a warning names both.
 *
 * <pre>{@code
 * NetworkProvider bridge = NetworkProviders.create("bridge",
 *         ProviderSettings.of(stateDir).with("bridge", "cni0"));
 * }</pre>
 */
public final class NetworkProviders {

    /** The system property that names factory classes to use before {@link ServiceLoader} discovery. */
    public static final String FACTORY_PROPERTY = "tapwire.network.providerFactory";

    private static final Logger LOG = LoggerFactory.getLogger(NetworkProviders.class);

    private static final Map<String, String> ARTIFACTS = Map.of(
            "bridge", "dev.tapwire:network-bridge-linux",
            "memory", "dev.tapwire:network-testkit");

    private NetworkProviders() {
    }

    /**
     * Creates a provider of {@code type}.
     *
     * @param type the provider type, e.g. {@code bridge}
     * @param settings the settings to create it with
     * @return the provider
     * @throws ProviderNotFoundException if no factory of that type is installed (the message names the
     *     types found and the artifact to add)
     * @throws NetworkException if the factory fails to create the provider
     */
    public static NetworkProvider create(String type, ProviderSettings settings) {
        return factory(type).create(settings);
    }

    /**
     * Returns the factory for {@code type}.
     *
     * @param type the provider type
     * @return the chosen factory
     * @throws ProviderNotFoundException if none is installed
     */
    public static NetworkProviderFactory factory(String type) {
        return factory(type, NetworkProviders.class.getClassLoader());
    }

    static NetworkProviderFactory factory(String type, ClassLoader loader) {
        Map<String, NetworkProviderFactory> byType = discover(loader);
        NetworkProviderFactory factory = byType.get(type);
        if (factory == null) {
            String artifact = ARTIFACTS.getOrDefault(type, "the artifact that provides it");
            throw new ProviderNotFoundException("no network provider of type \"" + type + "\" found; types found: "
                    + (byType.isEmpty() ? "none" : String.join(", ", byType.keySet()))
                    + "; add " + artifact + " to the class path or module path");
        }
        return factory;
    }

    /**
     * Returns the provider types that are installed.
     *
     * @return the type names, sorted
     */
    public static SortedSet<String> types() {
        return new TreeSet<>(discover(NetworkProviders.class.getClassLoader()).keySet());
    }

    /**
     * Discovers factories through the system property and {@code loader}, choosing one per type.
     *
     * @param loader the class loader to search
     * @return the chosen factory per type, sorted by type
     */
    static Map<String, NetworkProviderFactory> discover(ClassLoader loader) {
        Map<String, NetworkProviderFactory> forced = new TreeMap<>();
        for (NetworkProviderFactory f : forcedFactories(loader)) {
            String type = safeType(f);
            if (type != null) {
                forced.putIfAbsent(type, f);
            }
        }
        Map<String, List<NetworkProviderFactory>> found = new TreeMap<>();
        var iterator = ServiceLoader.load(NetworkProviderFactory.class, loader).iterator();
        while (true) {
            NetworkProviderFactory factory;
            try {
                if (!iterator.hasNext()) {
                    break;
                }
                factory = iterator.next();
            } catch (ServiceConfigurationError | LinkageError e) {
                LOG.warn("skipping a network provider factory that failed to load: {}", e.toString(), e);
                continue;
            }
            String type = safeType(factory);
            if (type != null) {
                found.computeIfAbsent(type, t -> new ArrayList<>()).add(factory);
            }
        }
        Map<String, NetworkProviderFactory> chosen = new TreeMap<>();
        for (var entry : found.entrySet()) {
            List<NetworkProviderFactory> candidates = entry.getValue();
            candidates.sort(Comparator.comparing(f -> f.getClass().getName()));
            NetworkProviderFactory first = candidates.get(0);
            if (candidates.size() > 1 && !forced.containsKey(entry.getKey())) {
                LOG.warn("{} network provider factories claim type \"{}\": {}; using {}", candidates.size(),
                        entry.getKey(), candidates.stream().map(f -> f.getClass().getName()).toList(),
                        first.getClass().getName());
            }
            chosen.put(entry.getKey(), first);
        }
        chosen.putAll(forced);
        return chosen;
    }

    private static String safeType(NetworkProviderFactory factory) {
        try {
            String type = factory.type();
            if (type == null || type.isBlank()) {
                LOG.warn("skipping network provider factory {}: it reports no type", factory.getClass().getName());
                return null;
            }
            return type;
        } catch (RuntimeException | LinkageError e) {
            LOG.warn("skipping network provider factory {}: type() failed: {}", factory.getClass().getName(),
                    e.toString(), e);
            return null;
        }
    }

    private static List<NetworkProviderFactory> forcedFactories(ClassLoader loader) {
        String names = System.getProperty(FACTORY_PROPERTY);
        List<NetworkProviderFactory> result = new ArrayList<>();
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
                result.add((NetworkProviderFactory) cls.getDeclaredConstructor().newInstance());
            } catch (ReflectiveOperationException | ClassCastException | LinkageError e) {
                LOG.warn("ignoring {}={}: cannot instantiate {}: {}", FACTORY_PROPERTY, names, className,
                        e.toString(), e);
            }
        }
        return result;
    }
}
