package dev.tapwire.network.spi;

import dev.tapwire.network.NetworkProvider;

/**
 * The service interface a backend implements so that {@link dev.tapwire.network.NetworkProviders}
 * finds it through {@link java.util.ServiceLoader}.
 *
 * <p>Register the implementation both in {@code META-INF/services/dev.tapwire.network.spi.NetworkProviderFactory}
 * and with {@code provides} in {@code module-info.java}. The no-arg constructor must be cheap and must
 * not touch native code; probe availability in {@link #create}.
 */
public interface NetworkProviderFactory {

    /**
     * Returns the provider type this factory makes, a short lowercase name such as {@code bridge}.
     *
     * @return the type name
     */
    String type();

    /**
     * Creates a provider with the given settings.
     *
     * @param settings the root directory and backend options
     * @return a ready provider
     * @throws dev.tapwire.network.NetworkException if the settings are invalid or the backend cannot run here
     */
    NetworkProvider create(ProviderSettings settings);
}
