package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.GuestNetwork;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.bridge.PortSecurity.Entry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The journal of which VMs a state directory made TAPs for and what their ports may send. */
class PortRecordsTest {

    private static final Entry STRICT = Entry.strict(MacAddress.parse("02:00:00:00:00:0a"),
            Ipv4Address.parse("10.44.1.10"));

    @TempDir
    Path root;

    @Test
    void aVmIsOwnedFromBeforeItsTapsExistItsLastRecordWinsAndForgettingRemovesIt() {
        PortRecords.own(root, List.of("vm-1", "vm-2"));
        assertThat(PortRecords.vms(root)).containsOnlyKeys("vm-1", "vm-2").allSatisfy((vm, ports) ->
                assertThat(ports).isEmpty());
        PortRecords.record(root, Map.of("vm-1", Map.of("btvm-1-0", STRICT, "btvm-1-1", Entry.open())));
        PortRecords.record(root, Map.of("vm-1", Map.of("btvm-1-0", Entry.macOnly(STRICT.mac().orElseThrow()))));
        PortRecords.own(root, List.of("vm-1")); // a later configure's mark keeps what was recorded
        assertThat(PortRecords.vms(root).get("vm-1")).isEqualTo(Map.of("btvm-1-0",
                Entry.macOnly(STRICT.mac().orElseThrow())));

        PortRecords.forget(root, List.of("vm-1"));
        assertThat(PortRecords.vms(root)).containsOnlyKeys("vm-2");
    }

    @Test
    void aTornOrForeignLineIsSkippedAndTheRestIsRead() throws Exception {
        PortRecords.record(root, Map.of("vm-1", Map.of("btvm-1-0", STRICT)));
        Files.writeString(root.resolve("bridge/ports.journal"), "port vm-1 btvm-1-1 STRICT 02:00:00:00:00:0b 10.4\n"
                + "port vm-1 bad/name OPEN - -\nflush ruleset\n", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        assertThat(PortRecords.vms(root)).isEqualTo(Map.of("vm-1", Map.of("btvm-1-0", STRICT)));
    }

    @Test
    void aJournalThatIsMostlyHistoryIsRewrittenWithTheLiveVmsOnly() throws Exception {
        List<String> gone = new ArrayList<>();
        for (int i = 0; i < 600; i++) {
            PortRecords.record(root, Map.of("vm-" + i, Map.of("bt" + i + "-0", STRICT)));
            gone.add("vm-" + i);
        }
        PortRecords.record(root, Map.of("keep", Map.of("btkeep-0", STRICT)));
        PortRecords.forget(root, gone);
        assertThat(Files.readAllLines(root.resolve("bridge/ports.journal"))).hasSize(3);
        assertThat(PortRecords.vms(root)).isEqualTo(Map.of("keep", Map.of("btkeep-0", STRICT)));
    }

    @Test
    void nicConfigsAreRecordedPerVmInNicOrderReplacedByTheLastRecordAndForgottenWithTheVm() {
        NicConfig named = new NicConfig("btvm-1-0", MacAddress.parse("02:00:00:00:00:0a"), 4, 512, "bridge", "tw-team",
                null, new GuestNetwork(Ipv4Address.parse("10.77.0.2"), Ipv4Address.parse("10.77.0.1"), 24));
        NicConfig plain = new NicConfig("btvm-1-1", MacAddress.parse("02:00:00:00:00:0b"), 4, 512, "bridge", "br0",
                null, null);
        PortRecords.recordNics(root, Map.of("vm-1", List.of(named, plain)));
        PortRecords.recordNics(root, Map.of("vm-2", List.of(plain.withNetwork(null))));
        assertThat(PortRecords.nics(root).get("vm-1")).containsExactly(named, plain);
        PortRecords.recordNics(root, Map.of("vm-1", List.of(named)));
        PortRecords.own(root, List.of("vm-1"));
        assertThat(PortRecords.nics(root).get("vm-1")).containsExactly(named);

        PortRecords.forget(root, List.of("vm-1"));
        assertThat(PortRecords.nics(root)).containsOnlyKeys("vm-2");
        for (int i = 0; i < 700; i++) { // compaction keeps the live NIC records
            PortRecords.recordNics(root, Map.of("vm-x", List.of(plain)));
            PortRecords.forget(root, List.of("vm-x"));
        }
        assertThat(Files.exists(root.resolve("bridge/ports.journal"))).isTrue();
        assertThat(PortRecords.nics(root)).isEqualTo(Map.of("vm-2", List.of(plain)));
    }
}
