package dev.tapwire.network;

import dev.tapwire.network.spi.NetworkProviderFactory;
import dev.tapwire.network.spi.ProviderSettings;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Finds network providers: the one place where {@link NetworkProviderFactory} implementations are discovered.
 *
 * <p>Order of lookup: the system property {@value #FACTORY_PROPERTY} may name factory classes
 * (comma-separated) that are used first and win over discovered ones of the same type; then
 * {@link java.util.ServiceLoader} with this API's class loader (and the module layer, on the module path). A
 * factory that fails to load is logged at warn and skipped, never hiding the others. When two factories
 * claim one type, the one whose class name sorts first is chosen and a warning names both.
 *
 * <pre>{@code
 * NetworkProvider bridge = NetworkProviders.create("bridge",
 *         ProviderSettings.of(stateDir).with("bridge", "cni0"));
 * }</pre>
 */
public final class NetworkProviders {

    /** The system property that names factory classes to use before {@link java.util.ServiceLoader} discovery. */
    public static final String FACTORY_PROPERTY = "tapwire.network.providerFactory";

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
        return ServiceDiscovery.discover(NetworkProviderFactory.class, loader, FACTORY_PROPERTY,
                NetworkProviderFactory::type, "network provider factory");
    }
}
