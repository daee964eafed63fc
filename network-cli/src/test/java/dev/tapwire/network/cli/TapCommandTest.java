package dev.tapwire.network.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.bridge.linux.Nftables;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TAP and GC commands, each test in its own network namespace. */
@IsolatedNetns
class TapCommandTest {

    @TempDir
    Path state;

    CliRunner cli;
    final ObjectMapper json = new ObjectMapper();

    @BeforeEach
    void bridge() {
        NetworkNamespace.createBridge("br0");
        cli = new CliRunner(state);
    }

    @Test
    void createPrintsTheNicConfigsAsJsonAndLsShowsTheTaps() throws Exception {
        CliRunner.Result created = cli.run("tap", "create", "vm-a1b2c3d4", "--bridge", "br0", "--nics", "2", "--cpu", "2");
        assertThat(created.status()).as(created.err()).isZero();
        List<NicConfig> nics = json.readValue(created.out(), new TypeReference<>() { });
        assertThat(nics).extracting(NicConfig::tap).containsExactly("btvm-a1b2c-0", "btvm-a1b2c-1");
        assertThat(nics).allSatisfy(n -> assertThat(n.bridgeDev()).isEqualTo("br0"));

        cli.run("tap", "create", "fc000001", "--bridge", "br0", "--cpu", "4", "--single-queue", "--owner", "1000");
        CliRunner.Result ls = cli.run("tap", "ls");
        assertThat(ls.out()).startsWith("TAP").contains("btvm-a1b2c-0  vm-a1b2c3d4  br0     up     multi")
                .contains("btfc000001-0  fc000001     br0     up     single");
        JsonNode rows = json.readTree(cli.run("tap", "ls", "--json").out());
        assertThat(rows).hasSize(3);
        assertThat(rows.get(0).toString()).as("the library's snake_case JSON, as NicConfig's")
                .isEqualTo("{\"tap\":\"btvm-a1b2c-0\",\"vm\":\"vm-a1b2c3d4\",\"bridge\":\"br0\",\"state\":\"up\","
                        + "\"multi_queue\":true}");
        JsonNode report = json.readTree(cli.run("tap", "verify", "vm-a1b2c3d4", "--bridge", "br0", "--json").out());
        assertThat(report.toString()).isEqualTo("{\"vm\":\"vm-a1b2c3d4\",\"taps\":[\"btvm-a1b2c-0\",\"btvm-a1b2c-1\"],"
                + "\"repaired\":[]}");
        assertThat(json.readTree(cli.run("tap", "verify", "vm-a1b2c3d4", "--json").out()).get("taps")).hasSize(2);

        assertThat(cli.run("tap", "verify", "vm-a1b2c3d4", "--bridge", "br0").out())
                .startsWith("ok: the TAPs of vm-a1b2c3d4 (btvm-a1b2c-0, ...)");
        assertThat(cli.run("tap", "verify", "vm-a1b2c3d4").out()).as("without --bridge: any bridge")
                .isEqualTo("ok: the TAPs of vm-a1b2c3d4 (btvm-a1b2c-0, ...) are as configured, on br0\n");
        CliRunner.Result wrongOwner = cli.run("tap", "verify", "fc000001");
        assertThat(wrongOwner.status()).isEqualTo(1);
        assertThat(wrongOwner.err()).contains("owned by uid 1000");
        assertThat(cli.run("tap", "verify", "fc000001", "--owner", "1000").status()).isZero();
        CliRunner.Result removed = cli.run("tap", "rm", "vm-a1b2c3d4", "fc000001", "never-was", "--json");
        assertThat(removed.status()).as(removed.err()).isZero();
        assertThat(json.readTree(removed.out()).toString())
                .isEqualTo("{\"removed\":[\"vm-a1b2c3d4\",\"fc000001\",\"never-was\"]}");
        assertThat(json.readTree(cli.run("tap", "ls", "--json").out())).isEmpty();
        CliRunner.Result verify = cli.run("tap", "verify", "vm-a1b2c3d4", "--bridge", "br0");
        assertThat(verify.status()).isEqualTo(1);
        assertThat(verify.err()).startsWith("tapwire: error: verify(btvm-a1b2c-0) failed: ENODEV");
    }

    @Test
    void aMissingBridgeAndACollisionAreErrors() {
        CliRunner.Result missing = cli.run("tap", "create", "vm1", "--bridge", "nobr");
        assertThat(missing.status()).isEqualTo(1);
        assertThat(missing.err()).contains("bridge nobr does not exist");
        cli.run("tap", "create", "abcdefgh-1", "--bridge", "br0");
        CliRunner.Result collision = cli.run("tap", "create", "abcdefgh-2", "--bridge", "br0");
        assertThat(collision.status()).isEqualTo(1);
        assertThat(collision.err()).startsWith("tapwire: error: TUNSETIFF(btabcdefgh-0) failed: EBUSY")
                .contains("--tap-names hashed");
        CliRunner.Result hashed = cli.run("tap", "create", "abcdefgh-2", "--bridge", "br0", "--tap-names", "hashed");
        assertThat(hashed.status()).as(hashed.err()).isZero();
        assertThat(hashed.out()).containsPattern("\"tap\":\"tw[a-z2-7]{10}-0\"");
        assertThat(cli.run("tap", "verify", "abcdefgh-2", "--bridge", "br0", "--tap-names", "hashed").status()).isZero();
        for (String cpu : new String[] {"2147483647", "100000", "129", "0"}) {
            CliRunner.Result tooMany = cli.run("tap", "create", "cpu00001", "--bridge", "br0", "--cpu", cpu);
            assertThat(tooMany.status()).isEqualTo(1);
            assertThat(tooMany.err()).contains("cpu count " + cpu + " is out of range: expected 1 to 128");
        }
        CliRunner.Result badId = cli.run("tap", "create", "vm/1", "--bridge", "br0");
        assertThat(badId.status()).isEqualTo(1);
        assertThat(badId.err()).contains("invalid character");
    }

    @Test
    void createWithTheSavedConfigsRecoversTheSameTapsAfterAReboot() throws Exception {
        CliRunner.Result created = cli.run("tap", "create", "vm-4ebo07", "--bridge", "br0", "--nics", "2");
        assertThat(created.status()).as(created.err()).isZero();
        Path saved = state.resolve("vm-4ebo07.json");
        Files.writeString(saved, created.out());
        cli.run("tap", "rm", "vm-4ebo07"); // the reboot

        CliRunner.Result recovered = cli.run("tap", "create", "vm-4ebo07", "--bridge", "br0", "--nics", "2",
                "--existing", saved.toString());
        assertThat(recovered.status()).as(recovered.err()).isZero();
        List<NicConfig> before = json.readValue(created.out(), new TypeReference<>() { });
        List<NicConfig> after = json.readValue(recovered.out(), new TypeReference<>() { });
        assertThat(after).extracting(NicConfig::tap, NicConfig::mac)
                .containsExactlyElementsOf(before.stream().map(n -> tuple(n.tap(), n.mac()))
                        .toList());
        assertThat(cli.run("tap", "verify", "vm-4ebo07", "--bridge", "br0").status()).isZero();

        Files.writeString(saved, "not json");
        CliRunner.Result bad = cli.run("tap", "create", "vm-4ebo07", "--bridge", "br0", "--existing", saved.toString());
        assertThat(bad.status()).isEqualTo(2);
        assertThat(bad.err()).contains("--existing " + saved + " is not JSON");
    }

    @Test
    void createTakesThePortSecuritySettingsAndTheRecordKeepsThemForRestore() throws Exception {
        CliRunner.Result created = cli.run("tap", "create", "ps000001", "--bridge", "br0", "--nics", "2",
                "--no-port-security", "1", "--address", "0=192.0.2.10", "--record");
        assertThat(created.status()).as(created.err()).isZero();
        JsonNode record = json.readTree(created.out());
        assertThat(record.get("no_port_security").toString()).isEqualTo("[1]");
        assertThat(record.get("addresses").toString()).isEqualTo("{\"0\":\"192.0.2.10\"}");
        String table = Nftables.run("list ruleset");
        assertThat(table).contains("\"btps000001-0\" . 192.0.2.10").doesNotContain("btps000001-1");
        Path saved = state.resolve("ps.json");
        Files.writeString(saved, "[" + created.out() + "]");
        assertThat(cli.run("tap", "rm", "ps000001").status()).isZero();
        assertThat(Nftables.run("list ruleset")).doesNotContain("btps000001");

        CliRunner.Result restored = cli.run("tap", "restore", saved.toString(), "--bridge", "br0");
        assertThat(restored.status()).as(restored.err()).isZero();
        assertThat(Nftables.run("list ruleset"))
                .contains("\"btps000001-0\" . 192.0.2.10").doesNotContain("btps000001-1");

        CliRunner.Result bad = cli.run("tap", "create", "ps000002", "--bridge", "br0", "--no-port-security", "3");
        assertThat(bad.status()).isNotZero();
        assertThat(bad.err()).contains("VM ps000002 has 1 NIC(s)").contains("port security off for NIC 3");
    }

    @Test
    void attachAddsANicToTheRecordAndDetachRemovesItLeavingTheOthers() throws Exception {
        CliRunner.Result created = cli.run("tap", "create", "at000001", "--bridge", "br0", "--cpu", "2", "--record");
        assertThat(created.status()).as(created.err()).isZero();
        Path saved = state.resolve("at.json");
        Files.writeString(saved, created.out());

        CliRunner.Result attached = cli.run("tap", "attach", "at000001", "--bridge", "br0", "--record", saved.toString(),
                "--no-port-security");
        assertThat(attached.status()).as(attached.err()).isZero();
        JsonNode record = json.readTree(attached.out());
        assertThat(record.get("nics")).hasSize(2);
        assertThat(record.get("nics").get(1).get("tap").asText()).isEqualTo("btat000001-1");
        assertThat(record.get("nics").get(1).get("num_queues").asInt()).isEqualTo(4);
        assertThat(record.get("no_port_security").toString()).isEqualTo("[1]");
        assertThat(record.get("nics").get(0)).isEqualTo(json.readTree(created.out()).get("nics").get(0));
        assertThat(cli.run("tap", "verify", "at000001", "--bridge", "br0").status()).isZero();

        CliRunner.Result both = cli.run("tap", "attach", "at000001", "--network", "team", "--bridge", "br0");
        assertThat(both.status()).isEqualTo(2);
        assertThat(both.err()).contains("exactly one of --network NAME");

        CliRunner.Result nicZero = cli.run("tap", "detach", "at000001", "btat000001-0");
        assertThat(nicZero.status()).isNotZero();
        assertThat(nicZero.err()).contains("NIC 0 of VM at000001").contains("delete the VM instead");
        CliRunner.Result detached = cli.run("tap", "detach", "at000001", "btat000001-1", "--json");
        assertThat(detached.status()).as(detached.err()).isZero();
        assertThat(json.readTree(detached.out()).get("detached").asText()).isEqualTo("btat000001-1");
        assertThat(json.readTree(cli.run("tap", "ls", "--json").out())).extracting(r -> r.get("tap").asText())
                .containsExactly("btat000001-0");
        assertThat(cli.run("tap", "verify", "at000001", "--bridge", "br0").status()).isZero();
        CliRunner.Result fewer = cli.run("tap", "create", "at000001", "--bridge", "br0", "--cpu", "1", "--existing",
                saved.toString());
        assertThat(fewer.status()).as("a recovery with another CPU count").isNotZero();
        assertThat(fewer.err()).contains("num_queues");
        assertThat(cli.run("tap", "rm", "at000001").status()).isZero();
    }

    @Test
    void restoreRecreatesManyVmsFromTheirRecordsInOneBatch() throws Exception {
        CliRunner.Result fc = cli.run("tap", "create", "fc000002", "--bridge", "br0", "--cpu", "4", "--single-queue",
                "--record");
        CliRunner.Result ch = cli.run("tap", "create", "ch000002", "--bridge", "br0", "--cpu", "2", "--nics", "2",
                "--record");
        assertThat(fc.status()).as(fc.err()).isZero();
        JsonNode fcRecord = json.readTree(fc.out());
        assertThat(fcRecord.get("vm").asText()).isEqualTo("fc000002");
        assertThat(fcRecord.get("single_queue").asBoolean()).isTrue();
        assertThat(fcRecord.get("nics")).hasSize(1);
        Path one = state.resolve("fc.json");
        Path many = state.resolve("all.json");
        Files.writeString(one, fc.out());
        Files.writeString(many, "[" + ch.out() + "]");
        String before = cli.run("tap", "ls").out();
        assertThat(cli.run("tap", "rm", "fc000002", "ch000002").status()).isZero(); // the reboot

        CliRunner.Result restored = cli.run("tap", "restore", one.toString(), many.toString(), "--bridge", "br0");
        assertThat(restored.status()).as(restored.err()).isZero();
        JsonNode records = json.readTree(restored.out());
        assertThat(records).hasSize(2);
        assertThat(records.get(0).get("nics")).isEqualTo(fcRecord.get("nics"));
        assertThat(records.get(1).get("nics")).isEqualTo(json.readTree(ch.out()).get("nics"));
        assertThat(cli.run("tap", "ls").out()).as("the same TAPs, queue modes and bridge").isEqualTo(before);
        assertThat(cli.run("tap", "verify", "ch000002", "--bridge", "br0").status()).isZero();

        CliRunner.Result noBridge = cli.run("tap", "restore", one.toString());
        assertThat(noBridge.status()).isEqualTo(2);
        assertThat(noBridge.err()).contains("--bridge is required: VM fc000002 has NICs on no named network");
        Files.writeString(one, "[1, 2]");
        CliRunner.Result bad = cli.run("tap", "restore", one.toString(), "--bridge", "br0");
        assertThat(bad.status()).isEqualTo(2);
        assertThat(bad.err()).contains("is not a VM record as tap create --record prints it");
    }

    @Test
    void gcKeepsTheActiveVmsAndReportsWhatItCollected() throws Exception {
        cli.run("tap", "create", "live0001", "--bridge", "br0");
        cli.run("tap", "create", "dead0001", "--bridge", "br0", "--nics", "2");
        CliRunner.Result gc = cli.run("gc", "--bridge", "br0", "--active", "live0001");
        assertThat(gc.status()).as(gc.err()).isZero();
        assertThat(gc.out()).contains("bridge      2          btdead0001-0,btdead0001-1").contains("active-vms  0          -");
        assertThat(cli.run("tap", "ls").out()).contains("btlive0001-0").doesNotContain("btdead0001");
        JsonNode report = json.readTree(cli.run("gc", "--bridge", "br0", "--active", "live0001", "--json").out());
        assertThat(report.get("aborted").asBoolean()).isFalse();
        CliRunner.Result neither = cli.run("gc", "--bridge", "br0");
        assertThat(neither.status()).as("--active or --none-active is required").isEqualTo(2);
        assertThat(neither.err()).contains("say which VMs are alive").contains("--none-active");

        cli.run("tap", "create", "live0002", "--bridge", "br0");
        CliRunner.Result typo = cli.run("gc", "--active", "bad/id");
        assertThat(typo.status()).isEqualTo(1);
        assertThat(typo.err()).contains("VM ID \"bad/id\" has an invalid character");
        assertThat(cli.run("gc", "--active", "live0001,live0002").status()).as("comma-separated, without --bridge")
                .isZero();
        assertThat(cli.run("tap", "ls").out()).contains("btlive0001-0").contains("btlive0002-0");
    }

    @Test
    void gcWithNoOrEmptyActiveIdsIsAUsageErrorAndNoneActiveMustBeSaid() throws Exception {
        cli.run("tap", "create", "live0003", "--bridge", "br0");
        for (String[] args : List.of(new String[] {"gc", "--active"}, new String[] {"gc", "--active", ""},
                new String[] {"gc", "--active", ","}, new String[] {"gc", "--active", "live0003", "--none-active"})) {
            CliRunner.Result gc = cli.run(args);
            assertThat(gc.status()).as(String.join(" ", args) + ": " + gc.err()).isEqualTo(2);
            assertThat(cli.run("tap", "ls").out()).as(String.join(" ", args)).contains("btlive0003-0");
        }
        assertThat(cli.run("gc", "--active", "").err()).contains("--active got an empty VM ID");

        CliRunner.Result none = cli.run("gc", "--none-active");
        assertThat(none.status()).as(none.err()).isZero();
        assertThat(none.out()).contains("btlive0003-0");
        assertThat(json.readTree(cli.run("tap", "ls", "--json").out())).isEmpty();
    }

    @Test
    void createWithoutTheSavedConfigsOfItsOwnTapSaysToPassThemAndTakesARecordAsTheSavedConfigs() throws Exception {
        CliRunner.Result created = cli.run("tap", "create", "vm-own0001", "--bridge", "br0", "--record");
        assertThat(created.status()).as(created.err()).isZero();
        Path record = state.resolve("vm-own0001.json");
        Files.writeString(record, created.out());

        CliRunner.Result again = cli.run("tap", "create", "vm-own0001", "--bridge", "br0");
        assertThat(again.status()).isEqualTo(1);
        assertThat(again.err()).contains("carries tapwire:vm-own0001: this VM's TAP exists; pass its saved configs")
                .doesNotContain("another VM");

        CliRunner.Result recovered = cli.run("tap", "create", "vm-own0001", "--bridge", "br0", "--existing",
                record.toString());
        assertThat(recovered.status()).as(recovered.err()).isZero();
        assertThat(json.readTree(recovered.out())).isEqualTo(json.readTree(created.out()).get("nics"));

        CliRunner.Result otherVm = cli.run("tap", "create", "vm-other01", "--bridge", "br0", "--existing",
                record.toString());
        assertThat(otherVm.status()).isEqualTo(2);
        assertThat(otherVm.err()).contains("is the record of VM vm-own0001, not of vm-other01");
        Files.writeString(record, "[" + created.out() + "]");
        CliRunner.Result records = cli.run("tap", "create", "vm-own0001", "--bridge", "br0", "--existing",
                record.toString());
        assertThat(records.status()).isEqualTo(2);
        assertThat(records.err()).contains("holds VM records, which tap restore reads").doesNotContain("START_OBJECT");
        cli.run("tap", "rm", "vm-own0001");
    }
}
