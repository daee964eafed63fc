package dev.tapwire.network.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NetworkException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProviderSettingsTest {

    private final ProviderSettings base = ProviderSettings.of(Path.of("/tmp/state"));

    @Test
    void knownOptionsPassAndUnknownOnesAreNamedWithTheKnownOnes() {
        Set<String> known = Set.of("bridge", "owner");
        assertThat(base.with("bridge", "br0").requireKnownOptions("bridge", known).option("bridge")).contains("br0");
        assertThat(base.requireKnownOptions("bridge", known)).isSameAs(base);
        assertThatThrownBy(() -> base.with("ownr", "1000").requireKnownOptions("bridge", known))
                .isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessage("the bridge provider has no option ownr; its options are bridge, owner");
        assertThatThrownBy(() -> base.with("ownr", "1000").with("tap-name", "hashed").requireKnownOptions("bridge", known))
                .hasMessage("the bridge provider has no options ownr, tap-name; its options are bridge, owner");
    }

    @Test
    void theFleetSettingsAreKnownToEveryBackend() {
        ProviderSettings fleet = base.withHost("node-1").withUnderlay(Ipv4Address.parse("198.51.100.1"))
                .withHostTtl(Duration.ofSeconds(5));
        assertThat(fleet.requireKnownOptions("bridge", Set.of("bridge"))).isSameAs(fleet);
        assertThat(fleet.host()).isEqualTo("node-1");
        assertThat(fleet.underlay()).isEqualTo(Ipv4Address.parse("198.51.100.1"));
        assertThat(fleet.hostTtl()).isEqualTo(Duration.ofSeconds(5));
        assertThat(base.with("host-ttl", "2500ms").hostTtl()).isEqualTo(Duration.ofMillis(2500));
        assertThat(base.with("host-ttl", "7").hostTtl()).isEqualTo(Duration.ofSeconds(7));
        assertThat(base.hostTtl()).isEqualTo(Duration.ofSeconds(10));
    }

    @Test
    void badFleetSettingsAreRefusedSayingWhatIsAccepted() {
        assertThatThrownBy(() -> base.withHost("-node")).isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("-node").hasMessageContaining("1-253 characters");
        assertThatThrownBy(() -> new ProviderSettings(Path.of("/tmp"), Map.of("host", "a b")))
                .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("\"a b\"");
        assertThatThrownBy(() -> base.with("underlay", "198.51.100")).isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("198.51.100").hasMessageContaining("dotted quad");
        assertThatThrownBy(() -> base.withUnderlay(null)).isInstanceOf(InvalidNetworkSpecException.class);
        assertThatThrownBy(() -> base.withHostTtl(Duration.ofMillis(1500))).isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("at least 2 s");
        assertThatThrownBy(() -> base.with("host-ttl", "ten")).isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("\"ten\"");
    }

    @Test
    void theDefaultHostIsTheKernelsHostName(@TempDir Path dir) throws Exception {
        Path hostname = dir.resolve("hostname");
        Files.writeString(hostname, "node-7\n");
        assertThat(ProviderSettings.defaultHost(hostname)).isEqualTo("node-7");
        assertThat(ProviderSettings.defaultHost(dir.resolve("missing"))).as("falls back to the resolver's name")
                .isEqualTo(java.net.InetAddress.getLocalHost().getHostName());
        Files.writeString(hostname, "bad name\n");
        assertThatThrownBy(() -> ProviderSettings.defaultHost(hostname)).isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("--host");
        assertThat(base.host()).isEqualTo(Files.readString(Path.of("/proc/sys/kernel/hostname")).strip());
    }

    @Test
    void theDefaultUnderlayIsTheKernelsSourceAddressTowardsTheRegistryOrLoopbackForOneHost() {
        assertThat(base.underlay()).as("no registry: a single host").isEqualTo(ProviderSettings.SINGLE_HOST_UNDERLAY);
        assertThat(ProviderSettings.routeSource(new InetSocketAddress("127.0.0.9", 2379)))
                .isEqualTo(Ipv4Address.parse("127.0.0.1"));
        assertThat(ProviderSettings.routeSource(InetSocketAddress.createUnresolved("localhost", 2379)))
                .isEqualTo(Ipv4Address.parse("127.0.0.1"));
        assertThatThrownBy(() -> ProviderSettings.routeSource(InetSocketAddress.createUnresolved("no-such-host.invalid",
                2379))).isInstanceOf(NetworkException.class).hasMessageContaining("--underlay");
    }
}
