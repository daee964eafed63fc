/**
 * The file-backed registry of named networks: {@link dev.tapwire.network.registry.FileNetworkRegistry}.
 */
module dev.tapwire.network.registry {
    requires transitive dev.tapwire.network.api;
    requires com.fasterxml.jackson.databind;
    requires org.slf4j;

    exports dev.tapwire.network.registry;

    provides dev.tapwire.network.spi.NetworkRegistryFactory
            with dev.tapwire.network.registry.FileNetworkRegistryFactory;
}
