package dev.tapwire.network.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.InvalidNetworkSpecException;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;

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
}
