package dev.tapwire.network;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.spi.NetworkRegistryFactory;
import java.net.URI;
import java.util.Map;
import org.junit.jupiter.api.Test;

class NetworkRegistriesTest {

    private static final NetworkRegistryFactory ETCD = new NetworkRegistryFactory() {
        @Override
        public String scheme() {
            return "etcd";
        }

        @Override
        public NetworkRegistry open(URI uri) {
            throw new UnsupportedOperationException("not opened in this test");
        }
    };

    @Test
    void aSchemeWithATransportGoesToTheFactoryOfItsBase() {
        Map<String, NetworkRegistryFactory> byScheme = Map.of("etcd", ETCD);
        assertThat(NetworkRegistries.baseScheme("etcd+https", byScheme)).isEqualTo("etcd");
        assertThat(NetworkRegistries.baseScheme("etcd", byScheme)).isEqualTo("etcd");
        assertThat(NetworkRegistries.baseScheme("file", byScheme)).isEqualTo("file");
        assertThat(NetworkRegistries.baseScheme("+x", byScheme)).isEqualTo("+x");
    }

    @Test
    void aFactoryOfTheWholeSchemeWinsOverItsBase() {
        assertThat(NetworkRegistries.baseScheme("etcd+https", Map.of("etcd", ETCD, "etcd+https", ETCD)))
                .isEqualTo("etcd+https");
    }
}
