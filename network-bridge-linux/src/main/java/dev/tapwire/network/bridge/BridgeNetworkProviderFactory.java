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
     * @param settings root directory and options ({@code bridge} required)
     * @return the provider
     * @throws dev.tapwire.network.NetworkException if the bridge is missing or invalid
     * @throws IllegalStateException if the backend cannot run on this host
     */
    @Override
    public NetworkProvider create(ProviderSettings settings) {
        return new BridgeNetworkProvider(settings);
    }
}
