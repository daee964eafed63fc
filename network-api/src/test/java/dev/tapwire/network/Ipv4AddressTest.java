package dev.tapwire.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class Ipv4AddressTest {

    @ParameterizedTest
    @ValueSource(strings = {"0.0.0.0", "10.44.1.2", "255.255.255.255", "192.168.0.1", "1.2.3.4"})
    void parsesAndPrintsCanonicalDottedQuads(String text) {
        assertThat(Ipv4Address.parse(text)).hasToString(text);
        assertThat(Ipv4Address.isValid(text)).isTrue();
    }

    @ParameterizedTest
    @NullSource
    @ValueSource(strings = {"", "256.0.0.1", "1.2.3", "1.2.3.4.5", "+1.2.3.4", "1.-2.3.4", "1..3.4", ".1.2.3",
        "1.2.3.", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4\n", "01.2.3.4", "1.2.3.004", "::1", "fe80::1", "1.2.3.4/24",
        "a.b.c.d", "0x1.2.3.4", "1.2.3.1000", "999.999.999.999", "localhost", "１.2.3.4", "1.2.3.4."})
    void rejectsMalformedAddresses(String text) {
        assertThat(Ipv4Address.isValid(text)).isFalse();
        assertThatThrownBy(() -> Ipv4Address.parse(text))
                .isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("invalid IPv4 address")
                .hasMessageContaining("expected a dotted quad");
    }

    @Test
    void nextIncrementsAcrossOctetBoundaries() {
        assertThat(Ipv4Address.parse("10.44.1.255").next()).hasToString("10.44.2.0");
        assertThat(Ipv4Address.parse("255.255.255.255").next()).hasToString("0.0.0.0");
    }

    @Test
    void comparesAsUnsignedNumbers() {
        assertThat(Ipv4Address.parse("192.168.0.1")).isGreaterThan(Ipv4Address.parse("10.0.0.1"));
        assertThat(Ipv4Address.parse("255.0.0.0").toLong()).isEqualTo(0xff000000L);
    }

    @Test
    void ofBuildsFromOctetsAndRejectsOutOfRange() {
        assertThat(Ipv4Address.of(10, 44, 1, 2)).isEqualTo(Ipv4Address.parse("10.44.1.2"));
        assertThatThrownBy(() -> Ipv4Address.of(10, 256, 1, 2)).isInstanceOf(InvalidNetworkSpecException.class);
    }

    @Test
    void toBytesIsNetworkByteOrder() {
        assertThat(Ipv4Address.parse("10.44.1.2").toBytes()).containsExactly(10, 44, 1, 2);
    }
}
