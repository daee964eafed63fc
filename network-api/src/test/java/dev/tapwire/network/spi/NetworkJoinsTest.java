package dev.tapwire.network.spi;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkRecord;
import java.util.List;
import org.junit.jupiter.api.Test;

class NetworkJoinsTest {

    private final NetworkRecord team = new NetworkRecord("team", Ipv4Subnet.parse("10.44.1.0/24"),
            Ipv4Address.parse("10.44.1.1"), null, List.of(new Member("web", Ipv4Address.parse("10.44.1.2"))));

    @Test
    void aMacIsHeldByTheGatewayOrAnotherMemberButNeverByTheWorkspaceItself() {
        assertThat(NetworkJoins.macHolder("team", team, "api", MacAddress.forGateway("team")))
                .contains("the network's gateway");
        assertThat(NetworkJoins.macHolder("team", team, "api", MacAddress.forMember("team", "web")))
                .contains("member web");
        assertThat(NetworkJoins.macHolder("team", team, "web", MacAddress.forMember("team", "web")))
                .as("a member rejoining keeps its own MAC").isEmpty();
        assertThat(NetworkJoins.macHolder("team", team, "api", MacAddress.forMember("team", "api"))).isEmpty();
    }
}
