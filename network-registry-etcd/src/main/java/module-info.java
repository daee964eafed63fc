/**
 * The registry of named networks on etcd: {@link dev.tapwire.network.registry.etcd.EtcdNetworkRegistry}, opened for
 * {@code etcd://} URIs through {@link dev.tapwire.network.NetworkRegistries}.
 */
module dev.tapwire.network.registry.etcd {
    requires transitive dev.tapwire.network.api;
    requires jetcd.core;
    requires io.netty.handler;
    requires org.slf4j;

    exports dev.tapwire.network.registry.etcd;

    provides dev.tapwire.network.spi.NetworkRegistryFactory
            with dev.tapwire.network.registry.etcd.EtcdNetworkRegistryFactory;
}
