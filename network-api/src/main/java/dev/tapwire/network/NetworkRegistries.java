package dev.tapwire.network;

import dev.tapwire.network.spi.NetworkRegistryFactory;
import java.net.URI;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Opens registries by URI — the one place where {@link NetworkRegistryFactory} implementations are discovered,
 * the same way {@link NetworkProviders} discovers providers: the classes named by the system property
 * {@value #FACTORY_PROPERTY} first, then {@link java.util.ServiceLoader}.
 *
 * <p>A registry is {@link AutoCloseable}: the etcd registry holds a client and its connections until it is
 * closed, so open it with try-with-resources (closing a file registry does nothing, and costs nothing).
 *
 * <pre>{@code
 * try (NetworkRegistry fleet = NetworkRegistries.open(URI.create("etcd://10.0.0.1:2379,10.0.0.2:2379/tapwire/"))) {
 *     fleet.join("team", "workspace-1");
 * }
 * }</pre>
 */
public final class NetworkRegistries {

    /** The system property that names factory classes to use before {@link java.util.ServiceLoader} discovery. */
    public static final String FACTORY_PROPERTY = "tapwire.network.registryFactory";

    private static final Map<String, String> ARTIFACTS = Map.of(
            "file", "dev.tapwire:network-registry",
            "etcd", "dev.tapwire:network-registry-etcd");

    private NetworkRegistries() {
    }

    /**
     * Opens the registry {@code uri} names, through the factory of its scheme. A scheme with a transport after a
     * {@code +} ({@code etcd+https}) goes to the factory of the part before it ({@code etcd}) when no factory
     * claims the whole scheme.
     *
     * @param uri e.g. {@code file:///var/lib/mymanager}
     * @return the registry; close it when done ({@link NetworkRegistry#close()}: the etcd registry's client and
     *     watches are released then)
     * @throws InvalidNetworkSpecException if the URI has no scheme
     * @throws ProviderNotFoundException if no factory of that scheme is installed (the message names the schemes
     *     found and the artifact to add)
     * @throws NetworkException if the factory cannot open it
     */
    public static NetworkRegistry open(URI uri) {
        Objects.requireNonNull(uri, "uri");
        if (uri.getScheme() == null) {
            throw new InvalidNetworkSpecException("registry URI \"" + uri + "\" has no scheme; expected e.g."
                    + " file:///var/lib/mymanager or etcd://host:2379/prefix");
        }
        return factory(uri.getScheme().toLowerCase(Locale.ROOT), NetworkRegistries.class.getClassLoader()).open(uri);
    }

    /** The factory's scheme for a URI scheme: itself if a factory has it, else the part before a {@code +}. */
    static String baseScheme(String scheme, Map<String, NetworkRegistryFactory> byScheme) {
        int plus = scheme.indexOf('+');
        return byScheme.containsKey(scheme) || plus <= 0 ? scheme : scheme.substring(0, plus);
    }

    /**
     * Returns the URI schemes whose factories are installed.
     *
     * @return the schemes, sorted
     */
    public static SortedSet<String> schemes() {
        return new TreeSet<>(discover(NetworkRegistries.class.getClassLoader()).keySet());
    }

    static NetworkRegistryFactory factory(String scheme, ClassLoader loader) {
        Map<String, NetworkRegistryFactory> byScheme = discover(loader);
        NetworkRegistryFactory factory = byScheme.get(baseScheme(scheme, byScheme));
        if (factory == null) {
            throw new ProviderNotFoundException("no network registry for URI scheme \"" + scheme + "\" found; schemes"
                    + " found: " + (byScheme.isEmpty() ? "none" : String.join(", ", byScheme.keySet())) + "; add "
                    + ARTIFACTS.getOrDefault(scheme, "the artifact that provides it")
                    + " to the class path or module path");
        }
        return factory;
    }

    static Map<String, NetworkRegistryFactory> discover(ClassLoader loader) {
        return ServiceDiscovery.discover(NetworkRegistryFactory.class, loader, FACTORY_PROPERTY,
                NetworkRegistryFactory::scheme, "network registry factory");
    }
}
