package dev.tapwire.network.registry.etcd;

import dev.tapwire.network.testkit.EtcdServers;
import org.junit.jupiter.api.BeforeAll;

/** The registry contract against a real 3-member etcd cluster, clients spread over the members. */
class EtcdClusterContractTest extends EtcdRegistryContractTest {

    @BeforeAll
    static void startEtcd() throws Exception {
        etcd = EtcdServers.start(3);
    }
}
