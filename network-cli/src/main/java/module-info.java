/** The {@code tapwire} command over the library. */
module dev.tapwire.network.cli {
    requires dev.tapwire.network.api;
    requires dev.tapwire.network.registry;
    requires dev.tapwire.network.registry.etcd; // found through NetworkRegistries for etcd:// URIs
    requires dev.tapwire.network.bridge;
    requires dev.tapwire.network.guest; // Guest and GuestImage, for the demo's guests
    requires info.picocli;
    requires com.fasterxml.jackson.databind;
    requires org.slf4j;
    requires java.logging; // to quieten gRPC, which logs through java.util.logging

    opens dev.tapwire.network.cli to info.picocli, com.fasterxml.jackson.databind; // commands; tap restore's records
}
