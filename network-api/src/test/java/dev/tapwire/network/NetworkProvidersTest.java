package dev.tapwire.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.spi.ProviderSettings;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class NetworkProvidersTest {

    private final ProviderSettings settings = ProviderSettings.of(Path.of("/tmp/unused"));

    @AfterEach
    void clearOverride() {
        System.clearProperty(NetworkProviders.FACTORY_PROPERTY);
    }

    @Test
    void zeroProvidersNameTheArtifactToAdd() {
        ClassLoader empty = new URLClassLoader(new URL[0], null);
        assertThat(NetworkProviders.discover(empty)).isEmpty();
        assertThatThrownBy(() -> NetworkProviders.factory("bridge", empty))
                .isInstanceOf(ProviderNotFoundException.class)
                .hasMessageContaining("no network provider of type \"bridge\"")
                .hasMessageContaining("types found: none")
                .hasMessageContaining("dev.tapwire:network-bridge-linux");
    }

    @Test
    void unknownTypeListsTheTypesFound() {
        assertThatThrownBy(() -> NetworkProviders.create("nope", settings))
                .isInstanceOf(ProviderNotFoundException.class)
                .hasMessageContaining("types found: solo, twin");
    }

    @Test
    void oneProviderOfATypeIsCreated() {
        NetworkProvider provider = NetworkProviders.create("solo", settings);
        assertThat(provider.type()).isEqualTo("solo");
        assertThat(((TestFactories.Made) provider).madeBy()).isEqualTo("Solo");
    }

    @Test
    void twoProvidersOfATypeResolveDeterministicallyByClassName() {
        for (int i = 0; i < 3; i++) {
            assertThat(((TestFactories.Made) NetworkProviders.create("twin", settings)).madeBy()).isEqualTo("TwinAlpha");
        }
    }

    @Test
    void brokenProvidersAreSkippedAndHideNothing() {
        assertThat(NetworkProviders.types()).containsExactly("solo", "twin");
    }

    @Test
    void systemPropertyForcesAFactory() {
        System.setProperty(NetworkProviders.FACTORY_PROPERTY, TestFactories.Forced.class.getName());
        assertThat(((TestFactories.Made) NetworkProviders.create("twin", settings)).madeBy()).isEqualTo("Forced");
        assertThat(NetworkProviders.types()).containsExactly("solo", "twin");
    }

    @Test
    void anUnloadableForcedFactoryIsIgnored() {
        System.setProperty(NetworkProviders.FACTORY_PROPERTY, "com.example.Missing");
        assertThat(NetworkProviders.types()).containsExactly("solo", "twin");
    }

    @Test
    void settingsCarryTypedOptions() {
        ProviderSettings s = settings.with("bridge", "br0").with("owner", "1000");
        assertThat(s.option("bridge")).contains("br0");
        assertThat(s.intOption("owner")).contains(1000);
        assertThat(s.intOption("group")).isEmpty();
        assertThatThrownBy(() -> s.with("group", "staff").intOption("group"))
                .isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("group=staff");
    }
}
