/**
 * tapwire's API: value types, the registry model and contract, the provider contract and SPI, provider
 * discovery, the garbage-collection contract and a cross-process file lock.
 */
module dev.tapwire.network.api {
    requires transitive com.fasterxml.jackson.annotation;
    requires org.slf4j;

    exports dev.tapwire.network;
    exports dev.tapwire.network.spi;
    exports dev.tapwire.network.gc;
    exports dev.tapwire.network.lock;

    // The model records are read and written by whichever JSON library the user has (jackson-databind 2,
    // tools.jackson 3, ...), so the package is open to all rather than to one module name.
    opens dev.tapwire.network;

    uses dev.tapwire.network.spi.NetworkProviderFactory;
    uses dev.tapwire.network.spi.NetworkRegistryFactory;
}
