package dev.tapwire.network.registry.etcd;

import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.testkit.EtcdServers;
import dev.tapwire.network.testkit.NetworkRegistryContractKit;
import dev.tapwire.network.testkit.RealEtcd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/** The registry contract against one real etcd; each test gets a fresh key prefix, and so an empty registry. */
@RealEtcd
class EtcdRegistryContractTest extends NetworkRegistryContractKit {

    static EtcdServers etcd;
    private final EtcdClients clients = new EtcdClients();

    @BeforeAll
    static void etcd(EtcdServers servers) {
        etcd = servers;
    }

    @Override
    protected NetworkRegistry createRegistry() {
        clients.freshPrefix("contract");
        return clients.open(etcd.endpoints());
    }

    @Override
    protected NetworkRegistry openAgain(NetworkRegistry registry) {
        return clients.open(etcd.endpoints());
    }

    @AfterEach
    void closeClients() {
        clients.closeAll();
    }
}
