package dev.tapwire.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullSource;
import org.junit.jupiter.params.provider.ValueSource;

class MacAddressTest {

    @Test
    void parsesEitherCaseAndPrintsLowercase() {
        assertThat(MacAddress.parse("02:AB:cd:00:11:FF")).hasToString("02:ab:cd:00:11:ff");
    }

    @ParameterizedTest
    @NullSource
    @ValueSource(strings = {"", "02:ab:cd:00:11", "02:ab:cd:00:11:ff:00", "02-ab-cd-00-11-ff", "02abcd0011ff",
        "2:ab:cd:00:11:ff0", "02:ab:cd:00:11:fg", " 02:ab:cd:00:11:ff", "02:ab:cd:00:11:f", "02:ab:cd::11:ff",
        "0x:ab:cd:00:11:ff", "02:ab:cd:00:11:+f"})
    void rejectsMalformedMacs(String text) {
        assertThat(MacAddress.isValid(text)).isFalse();
        assertThatThrownBy(() -> MacAddress.parse(text))
                .isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("six colon-separated hex pairs");
    }

    @Test
    void randomIsLocallyAdministeredUnicastAndVaries() {
        Set<MacAddress> seen = new HashSet<>();
        for (int i = 0; i < 200; i++) {
            MacAddress mac = MacAddress.random();
            assertThat(mac.isLocallyAdministered()).isTrue();
            assertThat(mac.isUnicast()).isTrue();
            assertThat(MacAddress.parse(mac.toString())).isEqualTo(mac);
            seen.add(mac);
        }
        assertThat(seen).hasSizeGreaterThan(190);
    }

    @Test
    void bytesRoundTrip() {
        MacAddress mac = MacAddress.parse("fe:01:02:03:04:05");
        assertThat(MacAddress.of(mac.toBytes())).isEqualTo(mac);
        assertThat(mac.isLocallyAdministered()).isTrue();
        assertThat(MacAddress.parse("01:00:5e:00:00:01").isUnicast()).isFalse();
    }

    @Test
    void valueBeyond48BitsIsRejected() {
        assertThatThrownBy(() -> new MacAddress(1L << 48)).isInstanceOf(InvalidNetworkSpecException.class);
    }

    @Test
    void memberAndGatewayMacsAreStableLocallyAdministeredUnicastAndApart() {
        assertThat(MacAddress.forMember("team", "web")).isEqualTo(MacAddress.forMember("team", "web"))
                .isNotEqualTo(MacAddress.forMember("team", "db")).isNotEqualTo(MacAddress.forMember("other", "web"));
        assertThat(MacAddress.forGateway("team")).isEqualTo(MacAddress.forGateway("team"))
                .isNotEqualTo(MacAddress.forGateway("other")).isNotEqualTo(MacAddress.forMember("team", "team"));
        for (MacAddress mac : List.of(MacAddress.forMember("team", "web"), MacAddress.forGateway("team"))) {
            assertThat(mac.isLocallyAdministered()).isTrue();
            assertThat(mac.isUnicast()).isTrue();
        }
        assertThatThrownBy(() -> MacAddress.forGateway(" ")).isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("network name");
    }
}
