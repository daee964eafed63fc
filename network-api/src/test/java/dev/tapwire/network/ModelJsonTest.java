package dev.tapwire.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class ModelJsonTest {

    private final ObjectMapper json = new ObjectMapper();

    @Test
    void valueTypesAreTheirStringForm() throws Exception {
        assertThat(json.writeValueAsString(Ipv4Address.parse("10.44.1.2"))).isEqualTo("\"10.44.1.2\"");
        assertThat(json.writeValueAsString(Ipv4Subnet.parse("10.44.1.7/24"))).isEqualTo("\"10.44.1.0/24\"");
        assertThat(json.writeValueAsString(MacAddress.parse("02:AA:bb:cc:dd:ee"))).isEqualTo("\"02:aa:bb:cc:dd:ee\"");
        assertThat(json.readValue("\"10.44.1.2\"", Ipv4Address.class)).isEqualTo(Ipv4Address.parse("10.44.1.2"));
        assertThat(json.readValue("\"10.44.1.0/24\"", Ipv4Subnet.class)).isEqualTo(Ipv4Subnet.parse("10.44.1.0/24"));
        assertThat(json.readValue("\"02:aa:bb:cc:dd:ee\"", MacAddress.class)).isEqualTo(MacAddress.parse("02:aa:bb:cc:dd:ee"));
    }

    @Test
    void malformedValueInJsonFailsWithTheParseMessage() {
        assertThatThrownBy(() -> json.readValue("\"10.44.1.300\"", Ipv4Address.class))
                .hasRootCauseInstanceOf(InvalidNetworkSpecException.class);
    }

    @Test
    void memberUsesTheReferenceFieldNames() throws Exception {
        Member member = new Member("w1", Ipv4Address.parse("10.44.1.2"));
        assertThat(json.writeValueAsString(member)).isEqualTo("{\"workspace\":\"w1\",\"ip\":\"10.44.1.2\"}");
        assertThat(json.readValue("{\"workspace\":\"w1\",\"ip\":\"10.44.1.2\",\"future\":1}", Member.class))
                .isEqualTo(member);
    }

    @Test
    void networkRecordUsesSnakeCaseAndOmitsEmptyFields() throws Exception {
        NetworkRecord bare = new NetworkRecord("dev", Ipv4Subnet.parse("10.44.1.0/24"), Ipv4Address.parse("10.44.1.1"),
                null, null);
        assertThat(json.writeValueAsString(bare))
                .isEqualTo("{\"name\":\"dev\",\"subnet\":\"10.44.1.0/24\",\"gateway\":\"10.44.1.1\"}");
        assertThat(bare.members()).isEmpty();

        NetworkRecord full = bare.withMembers(List.of(new Member("w1", Ipv4Address.parse("10.44.1.2"))));
        full = new NetworkRecord(full.name(), full.subnet(), full.gateway(), Instant.parse("2026-11-22T18:38:30Z"),
                full.members());
        String text = json.writeValueAsString(full);
        assertThat(text).isEqualTo("{\"name\":\"dev\",\"subnet\":\"10.44.1.0/24\",\"gateway\":\"10.44.1.1\","
                + "\"created_at\":\"2026-11-22T18:38:30Z\",\"members\":[{\"workspace\":\"w1\",\"ip\":\"10.44.1.2\"}]}");
        assertThat(json.readValue(text, NetworkRecord.class)).isEqualTo(full);
        assertThat(full.member("w1")).map(Member::ip).contains(Ipv4Address.parse("10.44.1.2"));
        assertThat(full.member("w2")).isEmpty();
    }

    @Test
    void createdAtIsWrittenAsTheGoReferenceDoes() throws Exception {
        NetworkRecord r = NetworkRecord.fromJson("dev", Ipv4Subnet.parse("10.44.1.0/24"), Ipv4Address.parse("10.44.1.1"),
                "2026-11-22T19:38:30.120+01:00", null);
        assertThat(r.createdAt()).isEqualTo(Instant.parse("2026-11-22T18:38:30.12Z"));
        assertThat(r.createdAtText()).isEqualTo("2026-11-22T18:38:30.12Z");
        assertThatThrownBy(() -> NetworkRecord.fromJson("dev", r.subnet(), r.gateway(), "yesterday", null))
                .hasMessageContaining("invalid created_at");
    }

    @Test
    void networkIndexReadsNullNetworksAsEmpty() throws Exception {
        assertThat(json.readValue("{\"networks\":null}", NetworkIndex.class).networks()).isEmpty();
        assertThat(json.readValue("{}", NetworkIndex.class).networks()).isEmpty();
        NetworkIndex index = new NetworkIndex(List.of(new NetworkRecord("b", Ipv4Subnet.parse("10.44.2.0/24"),
                Ipv4Address.parse("10.44.2.1"), null, List.of())));
        assertThat(json.readValue(json.writeValueAsString(index), NetworkIndex.class)).isEqualTo(index);
    }

    @Test
    void nicConfigOmitsEmptyFieldsAndRoundTrips() throws Exception {
        NicConfig nic = new NicConfig("bt12345678-0", MacAddress.parse("02:00:00:00:00:01"), 4, 256, "bridge", "br0",
                null, null);
        String text = json.writeValueAsString(nic);
        assertThat(text).isEqualTo("{\"tap\":\"bt12345678-0\",\"mac\":\"02:00:00:00:00:01\",\"num_queues\":4,"
                + "\"queue_size\":256,\"backend\":\"bridge\",\"bridge_dev\":\"br0\"}");
        assertThat(json.readValue(text, NicConfig.class)).isEqualTo(nic);

        NicConfig routed = new NicConfig("t0", MacAddress.parse("02:00:00:00:00:02"), 2, 256, "memory", null,
                "/run/netns/x", new GuestNetwork(Ipv4Address.parse("10.44.1.2"), Ipv4Address.parse("10.44.1.1"), 24));
        JsonNode tree = json.readTree(json.writeValueAsString(routed));
        assertThat(tree.get("netns_path").asText()).isEqualTo("/run/netns/x");
        assertThat(tree.get("network").toString()).isEqualTo("{\"ip\":\"10.44.1.2\",\"gateway\":\"10.44.1.1\",\"prefix\":24}");
        assertThat(json.readValue(tree.toString(), NicConfig.class)).isEqualTo(routed);
    }

    @Test
    void recordsRejectInvalidShapes() {
        assertThatThrownBy(() -> new Member(" ", Ipv4Address.parse("10.0.0.1"))).isInstanceOf(InvalidNetworkSpecException.class);
        assertThatThrownBy(() -> new NetworkRecord("Bad_Name", Ipv4Subnet.parse("10.44.1.0/24"),
                Ipv4Address.parse("10.44.1.1"), null, null)).hasMessageContaining("invalid network name");
        assertThatThrownBy(() -> new NetworkRecord("dev", Ipv4Subnet.parse("10.44.1.0/24"),
                Ipv4Address.parse("10.44.2.1"), null, null)).hasMessageContaining("outside its subnet");
        assertThatThrownBy(() -> new NicConfig("", MacAddress.random(), 2, 256, null, null, null, null))
                .isInstanceOf(InvalidNetworkSpecException.class);
    }
}
