package dev.tapwire.network.registry.etcd;

import dev.tapwire.network.testkit.RealEtcd;

/** The registry contract against a real 3-member etcd cluster, clients spread over the members. */
@RealEtcd(members = 3)
class EtcdClusterContractTest extends EtcdRegistryContractTest {
}
