/**
 * What users and backend authors test with: the in-memory provider (type {@code memory}), the provider
 * contract kit, JUnit 5 extensions (isolated network namespace, temporary registry, leak check), real QEMU
 * guests for tests ({@code QemuGuest}, over {@code network-guest}) and AssertJ assertions.
 */
module dev.tapwire.network.testkit {
    requires transitive dev.tapwire.network.api;
    requires transitive org.junit.jupiter.api;
    requires transitive org.assertj.core;
    requires transitive dev.tapwire.network.guest; // QemuGuest wraps its Guest and GuestImage
    requires dev.tapwire.network.registry;
    requires com.sun.jna;
    requires org.junit.jupiter.params;

    exports dev.tapwire.network.testkit;

    opens dev.tapwire.network.testkit to org.junit.platform.commons;
    opens dev.tapwire.network.testkit.internal to com.sun.jna;

    provides dev.tapwire.network.spi.NetworkProviderFactory
            with dev.tapwire.network.testkit.InMemoryNetworkProviderFactory;
}
