package dev.tapwire.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.NullSource;
import org.junit.jupiter.params.provider.ValueSource;

class Ipv4SubnetTest {

    @Test
    void parseMasksHostBitsAsTheReferenceDoes() {
        Ipv4Subnet subnet = Ipv4Subnet.parse("10.44.1.7/24");
        assertThat(subnet).hasToString("10.44.1.0/24");
        assertThat(subnet.networkAddress()).hasToString("10.44.1.0");
        assertThat(subnet.prefixLength()).isEqualTo(24);
        assertThat(subnet).isEqualTo(Ipv4Subnet.parse("10.44.1.0/24"));
    }

    @ParameterizedTest
    @NullSource
    @ValueSource(strings = {"", "10.44.1.0", "10.44.1.0/", "10.44.1.0/33", "10.44.1.0/-1", "10.44.1.0/+24",
        "10.44.1.0/024", "10.44.1.0/2 4", " 10.44.1.0/24", "10.44.1.0/24 ", "fd00::/64", "::/0", "10.44.1/24",
        "256.0.0.0/8", "10.44.1.0/24/1", "10.44.1.0/a", "/24", "10.44.1.0/100"})
    void rejectsMalformedSubnets(String text) {
        assertThat(Ipv4Subnet.isValid(text)).isFalse();
        assertThatThrownBy(() -> Ipv4Subnet.parse(text))
                .isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("invalid IPv4 subnet")
                .hasMessageContaining("expected CIDR notation");
    }

    @Test
    void ipv6IsRejectedByName() {
        assertThatThrownBy(() -> Ipv4Subnet.parse("fd00::/64")).hasMessageContaining("IPv6 is not supported");
    }

    @Test
    void outOfRangePrefixIsRejectedByName() {
        assertThatThrownBy(() -> Ipv4Subnet.parse("10.0.0.0/33")).hasMessageContaining("larger than /32");
        assertThatThrownBy(() -> new Ipv4Subnet(Ipv4Address.parse("10.0.0.0"), 40))
                .isInstanceOf(InvalidNetworkSpecException.class);
    }

    @ParameterizedTest
    @CsvSource({
        "0.0.0.0/0,       0.0.0.1,      255.255.255.254, 4294967294, 255.255.255.255",
        "10.44.1.0/24,    10.44.1.1,    10.44.1.254,     254,        10.44.1.255",
        "10.44.1.4/30,    10.44.1.5,    10.44.1.6,       2,          10.44.1.7",
        "10.44.1.4/31,    10.44.1.4,    10.44.1.5,       2,          10.44.1.5",
        "10.44.1.9/32,    10.44.1.9,    10.44.1.9,       1,          10.44.1.9",
        "10.44.0.0/16,    10.44.0.1,    10.44.255.254,   65534,      10.44.255.255"})
    void hostRangeAtTheEdges(String cidr, String first, String last, long count, String broadcast) {
        Ipv4Subnet subnet = Ipv4Subnet.parse(cidr);
        assertThat(subnet.firstHost()).hasToString(first);
        assertThat(subnet.lastHost()).hasToString(last);
        assertThat(subnet.hostCount()).isEqualTo(count);
        assertThat(subnet.broadcastAddress()).hasToString(broadcast);
    }

    @Test
    void netmaskMatchesPrefix() {
        assertThat(Ipv4Subnet.parse("10.0.0.0/24").netmask()).hasToString("255.255.255.0");
        assertThat(Ipv4Subnet.parse("0.0.0.0/0").netmask()).hasToString("0.0.0.0");
        assertThat(Ipv4Subnet.parse("10.0.0.1/32").netmask()).hasToString("255.255.255.255");
    }

    @Test
    void containsChecksTheMaskedAddress() {
        Ipv4Subnet subnet = Ipv4Subnet.parse("10.44.1.0/24");
        assertThat(subnet.contains(Ipv4Address.parse("10.44.1.0"))).isTrue();
        assertThat(subnet.contains(Ipv4Address.parse("10.44.1.255"))).isTrue();
        assertThat(subnet.contains(Ipv4Address.parse("10.44.2.0"))).isFalse();
        assertThat(subnet.contains(Ipv4Address.parse("10.44.0.255"))).isFalse();
        assertThat(Ipv4Subnet.parse("0.0.0.0/0").contains(Ipv4Address.parse("255.255.255.255"))).isTrue();
    }

    @ParameterizedTest
    @CsvSource({
        "10.44.1.0/24, 10.44.1.0/25,  true",
        "10.44.1.0/25, 10.44.1.128/25, false",
        "10.44.0.0/16, 10.44.200.0/24, true",
        "10.44.1.0/24, 10.44.2.0/24,  false",
        "0.0.0.0/0,    192.168.0.0/16, true",
        "10.44.1.5/32, 10.44.1.4/31,  true",
        "10.44.1.3/32, 10.44.1.4/31,  false"})
    void overlapIsSymmetric(String a, String b, boolean expected) {
        assertThat(Ipv4Subnet.parse(a).overlaps(Ipv4Subnet.parse(b))).isEqualTo(expected);
        assertThat(Ipv4Subnet.parse(b).overlaps(Ipv4Subnet.parse(a))).isEqualTo(expected);
    }
}
