package dev.tapwire.network.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.NetworkRegistries;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.ProviderNotFoundException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Registries are opened by URI through the factory of the scheme, as providers are by type. */
class RegistryDiscoveryTest {

    @TempDir
    Path state;

    @Test
    void aFileUriOpensTheFileRegistryUnderThatDirectory() {
        NetworkRegistry registry = NetworkRegistries.open(state.toUri());
        registry.create("dev");
        registry.join("dev", "w1");
        assertThat(Files.exists(FileNetworkRegistry.indexPath(state))).isTrue();
        assertThat(FileNetworkRegistry.open(state).get("dev").workspaces()).containsExactly("w1");
        assertThat(NetworkRegistries.schemes()).contains("file");
    }

    @Test
    void queryParametersSetTheAutoAllocation() {
        NetworkRegistry registry = NetworkRegistries.open(URI.create(state.toUri() + "?pool=10.50.0.0/16&subnet-prefix=26"));
        assertThat(registry.create("dev").subnet()).isEqualTo(Ipv4Subnet.parse("10.50.0.64/26"));
    }

    @Test
    void badUrisSayWhatIsAccepted() {
        assertThatThrownBy(() -> NetworkRegistries.open(URI.create(state.toUri() + "?colour=blue")))
                .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("colour")
                .hasMessageContaining("accepted: pool, subnet-prefix");
        assertThatThrownBy(() -> NetworkRegistries.open(URI.create("file://otherhost/var/lib/x")))
                .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("file:///absolute/path");
        assertThatThrownBy(() -> NetworkRegistries.open(URI.create("var/lib/x")))
                .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("has no scheme");
        assertThatThrownBy(() -> NetworkRegistries.open(URI.create("etcd://127.0.0.1:2379/tapwire/")))
                .isInstanceOf(ProviderNotFoundException.class).hasMessageContaining("\"etcd\"")
                .hasMessageContaining("schemes found: file").hasMessageContaining("dev.tapwire:network-registry-etcd");
    }

    @Test
    void formatAndParseMoveAnIndexBetweenStoresByteForByte() throws Exception {
        FileNetworkRegistry registry = FileNetworkRegistry.open(state);
        registry.create("zeta");
        registry.create("alpha");
        registry.join("zeta", "w<1>");
        byte[] onDisk = Files.readAllBytes(registry.indexFile());
        assertThat(FileNetworkRegistry.formatIndex(registry.readIndex())).isEqualTo(onDisk);
        assertThat(FileNetworkRegistry.parseIndex(onDisk, registry.indexFile())).isEqualTo(registry.readIndex());
    }
}
