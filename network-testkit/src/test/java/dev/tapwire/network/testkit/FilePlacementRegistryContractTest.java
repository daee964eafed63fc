package dev.tapwire.network.testkit;

import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.registry.FileNetworkRegistry;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** The file registry's single-host placements keep the placement contract; a second client is a second registry. */
class FilePlacementRegistryContractTest extends PlacementRegistryContractKit {

    @TempDir
    Path stateDir;

    @Override
    protected NetworkRegistry createRegistry() {
        return FileNetworkRegistry.open(stateDir);
    }

    @Override
    protected NetworkRegistry openAgain(NetworkRegistry registry) {
        return FileNetworkRegistry.open(stateDir);
    }
}
