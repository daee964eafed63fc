package dev.tapwire.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class RegistryChangeTest {

    private static NetworkRecord network(String name, String subnet, Member... members) {
        Ipv4Subnet s = Ipv4Subnet.parse(subnet);
        return new NetworkRecord(name, s, s.firstHost(), null, List.of(members));
    }

    @Test
    void aSubnetChangeIsReportedBetweenTheMembersLeavingAndJoining() {
        Member before = new Member("w1", Ipv4Address.parse("10.44.1.2"));
        Member after = new Member("w1", Ipv4Address.parse("10.44.9.2"));
        assertThat(RegistryChange.between(new NetworkIndex(List.of(network("dev", "10.44.1.0/24", before))),
                new NetworkIndex(List.of(network("dev", "10.44.9.0/24", after))))).containsExactly(
                        new RegistryChange(RegistryChange.Type.MEMBER_LEFT, "dev", before),
                        new RegistryChange(RegistryChange.Type.NETWORK_CHANGED, "dev", null),
                        new RegistryChange(RegistryChange.Type.MEMBER_JOINED, "dev", after));
    }

    @Test
    void aNetworkWhoseSubnetAndGatewayStayIsNotReportedChanged() {
        NetworkIndex index = new NetworkIndex(List.of(network("dev", "10.44.1.0/24")));
        assertThat(RegistryChange.between(index, index)).isEmpty();
    }

    @Test
    void aResyncNamesNoNetworkAndEveryOtherChangeDoes() {
        assertThat(RegistryChange.resync().type()).isEqualTo(RegistryChange.Type.RESYNC);
        assertThat(RegistryChange.resync().network()).isNull();
        assertThatThrownBy(() -> new RegistryChange(RegistryChange.Type.RESYNC, "dev", null))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new RegistryChange(RegistryChange.Type.NETWORK_CHANGED, null, null))
                .isInstanceOf(NullPointerException.class);
    }
}
