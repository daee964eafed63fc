package dev.tapwire.network.registry.etcd;

import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.testkit.EtcdServers;
import dev.tapwire.network.testkit.PlacementRegistryContractKit;
import dev.tapwire.network.testkit.RealEtcd;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/** The placement contract against one real etcd; each test gets a fresh key prefix, and a second client is a second registry. */
@RealEtcd
class EtcdPlacementContractTest extends PlacementRegistryContractKit {

    static EtcdServers etcd;
    private static final AtomicInteger TESTS = new AtomicInteger();
    private final List<EtcdNetworkRegistry> opened = new ArrayList<>();
    private String prefix;

    @BeforeAll
    static void etcd(EtcdServers servers) {
        etcd = servers;
    }

    @Override
    protected NetworkRegistry createRegistry() {
        prefix = "/placement-contract-" + TESTS.incrementAndGet() + "/";
        return open();
    }

    @Override
    protected NetworkRegistry openAgain(NetworkRegistry registry) {
        return open();
    }

    private EtcdNetworkRegistry open() {
        EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix(prefix).build();
        opened.add(registry);
        return registry;
    }

    @AfterEach
    void closeClients() {
        opened.forEach(EtcdNetworkRegistry::close);
        opened.clear();
    }
}
