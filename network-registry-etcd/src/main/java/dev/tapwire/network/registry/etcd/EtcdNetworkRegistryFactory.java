package dev.tapwire.network.registry.etcd;

import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.spi.NetworkRegistryFactory;
import java.net.URI;

/** Opens {@link EtcdNetworkRegistry etcd registries} for {@code etcd:} URIs. */
public final class EtcdNetworkRegistryFactory implements NetworkRegistryFactory {

    /** Creates the factory; {@link java.util.ServiceLoader} does this. */
    public EtcdNetworkRegistryFactory() {
    }

    /** Returns {@code etcd}. */
    @Override
    public String scheme() {
        return "etcd";
    }

    /**
     * Opens the registry {@code uri} names; see {@link EtcdNetworkRegistry#fromUri(URI)}.
     *
     * @throws dev.tapwire.network.InvalidNetworkSpecException if the URI is malformed
     */
    @Override
    public NetworkRegistry open(URI uri) {
        return EtcdNetworkRegistry.fromUri(uri);
    }
}
