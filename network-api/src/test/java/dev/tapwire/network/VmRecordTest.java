package dev.tapwire.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A VM's network record: its JSON form (the CLI's tap create --record shape) and the NICs attach adds to it. */
class VmRecordTest {

    private final ObjectMapper json = new ObjectMapper();
    private final NicConfig nic0 = new NicConfig("btvm-1-0", MacAddress.parse("02:00:00:00:00:0a"), 4, 256, "bridge",
            "tw-team", null, new GuestNetwork(Ipv4Address.parse("10.77.0.2"), Ipv4Address.parse("10.77.0.1"), 24));
    private final NicConfig nic1 = new NicConfig("btvm-1-1", MacAddress.parse("02:00:00:00:00:0b"), 4, 256, "bridge",
            "br0", null, null);

    @Test
    void theJsonFormIsSnakeCaseAndReadsBackToAnEqualRecord() throws Exception {
        VmRecord record = new VmRecord("vm-1", VmSpec.of(2).withNetworks(List.of("team")).withWorkspace("web")
                .withoutPortSecurity(1).withAddress(1, Ipv4Address.parse("10.9.0.5")), List.of(nic0, nic1));
        String text = json.writeValueAsString(record);
        assertThat(text).isEqualTo("{\"vm\":\"vm-1\",\"cpu\":2,\"queue_size\":256,\"single_queue\":false,"
                + "\"workspace\":\"web\",\"networks\":[\"team\"],\"no_port_security\":[1],"
                + "\"addresses\":{\"1\":\"10.9.0.5\"},\"nics\":[" + json.writeValueAsString(nic0) + ","
                + json.writeValueAsString(nic1) + "]}");
        assertThat(json.readValue(text, VmRecord.class)).isEqualTo(record);
    }

    @Test
    void aRecordWrittenBeforeQueueSizeWasRecordedReadsWithTheDefault() throws Exception {
        VmRecord old = json.readValue("{\"vm\":\"vm-2\",\"cpu\":1,\"single_queue\":true,\"networks\":[],"
                + "\"nics\":[],\"future\":true}", VmRecord.class);
        assertThat(old.spec()).isEqualTo(VmSpec.of(1).withMultiQueue(false));
        assertThat(json.writeValueAsString(old)).doesNotContain("workspace").doesNotContain("no_port_security")
                .doesNotContain("addresses");
    }

    @Test
    void anAttachedNicIsAddedToTheSpecAndTheConfigs() {
        VmRecord one = new VmRecord("vm-1", VmSpec.of(2).withNetworks(List.of("team")), List.of(nic0));
        VmRecord two = one.withAttached(NicSpec.onBridge().withoutPortSecurity(), nic1, 1);
        assertThat(two.nics()).containsExactly(nic0, nic1);
        assertThat(two.spec()).isEqualTo(VmSpec.of(2).withNetworks(List.of("team")).withoutPortSecurity(1));

        assertThatThrownBy(() -> two.withAttached(NicSpec.on("db"), nic1, 2))
                .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("on none");
        assertThatThrownBy(() -> one.withAttached(NicSpec.onBridge(), nic1, 3))
                .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("not the next NIC");
    }

    @Test
    void aRecordWithMoreNetworksThanNicsIsRefused() {
        assertThatThrownBy(() -> new VmRecord("vm-1", VmSpec.of(1).withNetworks(List.of("a", "b")), List.of(nic0)))
                .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("one network per NIC");
        assertThatThrownBy(() -> new VmRecord("vm/1", VmSpec.of(1), List.of()))
                .isInstanceOf(InvalidNetworkSpecException.class);
    }
}
