package dev.tapwire.network.testkit;

import static dev.tapwire.network.testkit.NetworkAssertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.NicConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

class NetworkAssertionsTest {

    private final NetworkRecord dev = new NetworkRecord("dev", Ipv4Subnet.parse("10.44.1.0/24"),
            Ipv4Address.parse("10.44.1.1"), null, List.of(new Member("w1", Ipv4Address.parse("10.44.1.2"))));

    @Test
    void recordAssertionsPassAndFailWithAClearMessage() {
        assertThat(dev).hasSubnet("10.44.1.0/24").hasGateway("10.44.1.1").hasMember("w1", "10.44.1.2")
                .doesNotHaveMember("w2").hasMemberCount(1).hasConsistentAddresses();
        assertThatThrownBy(() -> assertThat(dev).hasMember("w2")).hasMessageContaining("members are [w1]");
        assertThatThrownBy(() -> assertThat(dev).hasMember("w1", "10.44.1.9")).hasMessageContaining("holds 10.44.1.2");
        assertThatThrownBy(() -> assertThat(dev.withMembers(List.of(new Member("a", Ipv4Address.parse("10.44.1.5")),
                new Member("b", Ipv4Address.parse("10.44.1.5"))))).hasConsistentAddresses()).hasMessageContaining("twice");
    }

    @Test
    void nicAssertionsCatchDuplicatesAndGlobalMacs() {
        MacAddress mac = MacAddress.random();
        List<NicConfig> dup = List.of(new NicConfig("bta-0", mac, 2, 256, "x", "br0", null, null),
                new NicConfig("bta-0", mac, 2, 256, "x", "br0", null, null));
        assertThatThrownBy(() -> assertThat(dup).haveUniqueTapNames()).hasMessageContaining("used twice");
        List<NicConfig> global = List.of(new NicConfig("bta-0", MacAddress.parse("00:11:22:33:44:55"), 2, 256, "x",
                "br0", null, null));
        assertThatThrownBy(() -> assertThat(global).haveLocallyAdministeredMacs()).hasMessageContaining("not locally");
        assertThat(global).hasNics(1).followTheNamingOf("a").areAllOnBridge("br0");
        assertThatThrownBy(() -> assertThat(global).followTheNamingOf("b")).hasMessageContaining("expected btb-0");
    }
}
