/**
 * The Linux backend: TAP devices on a Linux bridge through JNA ioctls and rtnetlink, registered as
 * provider type {@code bridge}.
 */
module dev.tapwire.network.bridge {
    requires transitive dev.tapwire.network.api;
    requires com.sun.jna;
    requires org.slf4j;

    exports dev.tapwire.network.bridge;
    // dev.tapwire.network.bridge.linux is the internal Linux layer, not API: HostLinks, TapEndpoint and
    // NetworkNamespaces are its public face. The benchmarks measure it through --add-exports (their pom).

    opens dev.tapwire.network.bridge.linux.raw to com.sun.jna;

    provides dev.tapwire.network.spi.NetworkProviderFactory
            with dev.tapwire.network.bridge.BridgeNetworkProviderFactory;
}
