package dev.tapwire.network.spi;

import dev.tapwire.network.NetworkRegistry;
import java.net.URI;

/**
 * Opens {@link NetworkRegistry registries} of one URI scheme ({@code file}, {@code etcd}, ...); found by
 * {@link dev.tapwire.network.NetworkRegistries} through {@link java.util.ServiceLoader}.
 *
 * <p>The no-argument constructor must be cheap; connect in {@link #open(URI)}. Register the factory in
 * {@code META-INF/services/dev.tapwire.network.spi.NetworkRegistryFactory} and, on the module path, with
 * {@code provides dev.tapwire.network.spi.NetworkRegistryFactory with ...}.
 */
public interface NetworkRegistryFactory {

    /**
     * Returns the URI scheme this factory opens, e.g. {@code file}.
     *
     * @return the scheme, lower case
     */
    String scheme();

    /**
     * Opens the registry a URI of this factory's scheme names.
     *
     * @param uri the registry's URI, e.g. {@code file:///var/lib/mymanager}
     * @return the registry
     * @throws dev.tapwire.network.InvalidNetworkSpecException if the URI is not one this factory accepts (the
     *     message says what is accepted)
     * @throws dev.tapwire.network.NetworkException if the store cannot be reached
     */
    NetworkRegistry open(URI uri);
}
