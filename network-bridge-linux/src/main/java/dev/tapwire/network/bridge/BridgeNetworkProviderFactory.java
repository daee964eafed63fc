package dev.tapwire.network.bridge;

import dev.tapwire.network.NetworkProvider;
import dev.tapwire.network.spi.NetworkProviderFactory;
import dev.tapwire.network.spi.ProviderSettings;

/** Makes {@link BridgeNetworkProvider}s; registered for {@link java.util.ServiceLoader} as type {@code bridge}. */
public final class BridgeNetworkProviderFactory implements NetworkProviderFactory {

    /** Creates the factory; cheap, touches no native code. */
    public BridgeNetworkProviderFactory() {
    }

    @Override
    public String type() {
        return BridgeNetworkProvider.TYPE;
    }

    /**
     * Creates a bridge provider.
     *
     * @param settings root directory, options (see {@link BridgeNetworkProvider#OPTIONS}) and, for named networks,
     *     the registry
     * @return the provider; close it when done (it follows the registry while open)
     * @throws dev.tapwire.network.NetworkException if an option is unknown or invalid, the bridge is missing, or
     *     the backend cannot run on this host
     */
    @Override
    public NetworkProvider create(ProviderSettings settings) {
        return new BridgeNetworkProvider(settings);
    }
}
