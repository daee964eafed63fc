package dev.tapwire.network.bridge;

import dev.tapwire.network.NetworkProvider;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.NetworkNamespace;
import dev.tapwire.network.testkit.NetworkProviderContractKit;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;

/** The bridge backend keeps the provider contract, each test in its own network namespace. */
@IsolatedNetns
class BridgeContractTest extends NetworkProviderContractKit {

    @BeforeEach
    void bridge() {
        NetworkNamespace.createBridge("br0");
    }

    @Override
    protected NetworkProvider createProvider(Path rootDir) {
        return new BridgeNetworkProvider(ProviderSettings.of(rootDir).with("bridge", "br0"));
    }

    @Override
    protected boolean keepsRecords() {
        return false;
    }
}
