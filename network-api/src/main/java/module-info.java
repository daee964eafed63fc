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

    opens dev.tapwire.network to com.fasterxml.jackson.databind;

    uses dev.tapwire.network.spi.NetworkProviderFactory;
}
