package dev.tapwire.network.testkit;

import dev.tapwire.network.NetworkProvider;
import dev.tapwire.network.spi.NetworkProviderFactory;
import dev.tapwire.network.spi.ProviderSettings;

/** Makes {@link InMemoryNetworkProvider}s; registered for {@link java.util.ServiceLoader} as type {@code memory}. */
public final class InMemoryNetworkProviderFactory implements NetworkProviderFactory {

    /** Creates the factory. */
    public InMemoryNetworkProviderFactory() {
    }

    @Override
    public String type() {
        return InMemoryNetworkProvider.TYPE;
    }

    /**
     * Creates an in-memory provider on the fake host shared by every provider of the same root directory.
     *
     * @param settings root directory and options ({@code bridge}, default {@code br0}; see
     *     {@link InMemoryNetworkProvider#OPTIONS})
     * @return the provider
     * @throws dev.tapwire.network.InvalidNetworkSpecException if an option key is unknown or a value invalid
     */
    @Override
    public NetworkProvider create(ProviderSettings settings) {
        return new InMemoryNetworkProvider(settings);
    }
}
