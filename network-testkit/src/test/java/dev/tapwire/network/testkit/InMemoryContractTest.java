package dev.tapwire.network.testkit;

import dev.tapwire.network.NetworkProvider;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.NetworkProviders;
import dev.tapwire.network.spi.ProviderSettings;
import java.nio.file.Path;

/** The in-memory provider keeps the same contract as the real backend, found through ServiceLoader. */
class InMemoryContractTest extends NetworkProviderContractKit {

    @Override
    protected NetworkProvider createProvider(Path rootDir) {
        return NetworkProviders.create("memory", ProviderSettings.of(rootDir).with("bridge", "br0"));
    }

    @Override
    protected NetworkProvider createProvider(Path rootDir, NetworkRegistry registry) {
        return NetworkProviders.create("memory", ProviderSettings.of(rootDir).with("bridge", "br0")
                .withRegistry(registry));
    }
}
