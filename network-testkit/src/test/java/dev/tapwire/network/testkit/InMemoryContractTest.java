package dev.tapwire.network.testkit;

import dev.tapwire.network.NetworkProvider;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.NetworkProviders;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.Ipv4Address;
import java.nio.file.Path;
import java.util.List;

/** The in-memory provider keeps the same contract as the real backend, found through ServiceLoader. */
class InMemoryContractTest extends NetworkProviderContractKit {

    @Override
    protected NetworkProvider createProvider(Path rootDir) {
        InMemoryNetworkProvider.hostOf(rootDir).addBridge("br0"); // as BridgeContractTest creates it in its namespace
        return NetworkProviders.create("memory", ProviderSettings.of(rootDir).with("bridge", "br0"));
    }

    @Override
    protected NetworkProvider createProvider(Path rootDir, NetworkRegistry registry) {
        return NetworkProviders.create("memory", ProviderSettings.of(rootDir).withRegistry(registry));
    }

    @Override
    protected List<Ipv4Address> resolve(String network, Ipv4Address gateway, String name) {
        return InMemoryNetworkProvider.hostOf(rootDir).resolve(network, name);
    }

    @Override
    protected NetworkProvider createProvider(ProviderSettings settings) {
        InMemoryNetworkProvider.hostOf(settings.rootDir()).addBridge("br0");
        return NetworkProviders.create("memory", settings);
    }
}
