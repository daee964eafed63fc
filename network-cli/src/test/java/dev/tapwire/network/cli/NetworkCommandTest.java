package dev.tapwire.network.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tapwire.network.HostLease;
import dev.tapwire.network.HostRecord;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.registry.FileNetworkRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class NetworkCommandTest {

    @TempDir
    Path state;

    CliRunner cli;
    final ObjectMapper json = new ObjectMapper();

    @BeforeEach
    void runner() {
        cli = new CliRunner(state);
    }

    @Test
    void createPrintsTheRecordAsATableOrAsTheLibrarysJson() throws Exception {
        CliRunner.Result table = cli.run("network", "create", "dev");
        assertThat(table.status()).isZero();
        assertThat(table.out()).startsWith("NAME").contains("dev   10.44.1.0/24  10.44.1.1  0");

        CliRunner.Result created = cli.run("--json", "network", "create", "ops", "--subnet", "10.50.0.7/24");
        assertThat(created.status()).isZero();
        NetworkRecord record = json.readValue(created.out(), NetworkRecord.class); // one object, as join prints
        assertThat(record.subnet()).hasToString("10.50.0.0/24");
        assertThat(Files.exists(FileNetworkRegistry.indexPath(state))).isTrue();
    }

    @Test
    void inspectShowsTheHostEachMemberIsPlacedOn() throws Exception {
        cli.run("network", "create", "dev");
        cli.run("network", "join", "dev", "w1");
        cli.run("network", "join", "dev", "w2");
        try (FileNetworkRegistry registry = FileNetworkRegistry.open(state);
                HostLease lease = registry.placements().register(
                        new HostRecord("host-a", Ipv4Address.parse("127.0.0.1")), Duration.ofSeconds(10))) {
            lease.place("dev", "w1", MacAddress.forMember("dev", "w1"));

            CliRunner.Result inspect = cli.run("network", "inspect", "dev");
            assertThat(inspect.out()).contains("HOST").containsPattern("w1 .* host-a")
                    .containsPattern("w2 .*10\\.44\\.1\\.3 .* -");
            Map<String, Object> shown = json.readValue(cli.run("--json", "network", "inspect", "dev").out(),
                    new TypeReference<>() { });
            assertThat(shown.get("placements")).asList().singleElement().isEqualTo(Map.of("network", "dev",
                    "workspace", "w1", "host", "host-a", "mac", MacAddress.forMember("dev", "w1").toString()));
            lease.withdraw();
        }
        assertThat(cli.run("--json", "network", "inspect", "dev").out()).doesNotContain("placements");
    }

    @Test
    void joinLeaveAndInspectWorkTogether() throws Exception {
        cli.run("network", "create", "dev");
        CliRunner.Result join = cli.run("network", "join", "dev", "w1");
        assertThat(join.status()).isZero();
        assertThat(join.out().strip()).isEqualTo("10.44.1.2");
        Member member = json.readValue(cli.run("network", "join", "dev", "w2", "--json").out(), Member.class);
        assertThat(member.ip()).hasToString("10.44.1.3");

        CliRunner.Result inspect = cli.run("network", "inspect", "dev");
        assertThat(inspect.out()).contains("WORKSPACE  IP").contains("w1         10.44.1.2").contains("w2         10.44.1.3");
        NetworkRecord record = json.readValue(cli.run("--json", "network", "inspect", "dev").out(), NetworkRecord.class);
        assertThat(record.workspaces()).containsExactly("w1", "w2");

        assertThat(cli.run("network", "leave", "dev", "w1").status()).isZero();
        assertThat(cli.run("network", "leave", "dev", "w1").status()).isZero();
        cli.run("network", "create", "ops");
        cli.run("network", "join", "ops", "w2");
        assertThat(cli.run("network", "leave-all", "w2").status()).isZero();
        List<NetworkRecord> all = json.readValue(cli.run("network", "ls", "--json").out(), new TypeReference<>() { });
        assertThat(all).extracting(NetworkRecord::name).containsExactly("dev", "ops");
        assertThat(all).allSatisfy(n -> assertThat(n.members()).isEmpty());
    }

    @Test
    void removeRefusesWhileInUseUnlessForced() {
        cli.run("network", "create", "dev");
        cli.run("network", "join", "dev", "w1");
        CliRunner.Result refused = cli.run("network", "rm", "dev");
        assertThat(refused.status()).isEqualTo(1);
        assertThat(refused.err()).startsWith("tapwire: error: network \"dev\" is in use by 1 workspace(s): w1");
        assertThat(cli.run("network", "rm", "dev", "--force").status()).isZero();
        assertThat(cli.run("network", "ls").out()).doesNotContain("dev");
    }

    @Test
    void joinWithIpTakesThatAddressAndRefusesOneHeldByAnotherMemberNamingIt() throws Exception {
        cli.run("network", "create", "dev");
        CliRunner.Result join = cli.run("network", "join", "dev", "w1", "--ip", "10.44.1.20");
        assertThat(join.status()).as(join.err()).isZero();
        assertThat(join.out().strip()).isEqualTo("10.44.1.20");
        Member again = json.readValue(cli.run("--json", "network", "join", "dev", "w1", "--ip", "10.44.1.20").out(),
                Member.class);
        assertThat(again).isEqualTo(new Member("w1", dev.tapwire.network.Ipv4Address.parse("10.44.1.20")));

        CliRunner.Result held = cli.run("network", "join", "dev", "w2", "--ip", "10.44.1.20");
        assertThat(held.status()).isEqualTo(1);
        assertThat(held.err()).startsWith("tapwire: error: address 10.44.1.20 on network dev is held by member w1");
        CliRunner.Result gateway = cli.run("network", "join", "dev", "w2", "--ip", "10.44.1.1");
        assertThat(gateway.status()).isEqualTo(1);
        assertThat(gateway.err()).contains("gateway");
        assertThat(FileNetworkRegistry.open(state).get("dev").workspaces()).containsExactly("w1");
    }

    @Test
    void joinWithAMalformedIpIsAUsageErrorSayingWhatIsAccepted() {
        cli.run("network", "create", "dev");
        for (String bad : List.of("10.44.1.300", "10.44.1", "w1", "")) {
            CliRunner.Result r = cli.run("network", "join", "dev", "w1", "--ip", bad);
            assertThat(r.status()).as(bad).isEqualTo(2);
            assertThat(r.err()).as(bad).startsWith("tapwire: error: ").contains("invalid IPv4 address")
                    .contains("dotted quad");
        }
        assertThat(FileNetworkRegistry.open(state).get("dev").members()).isEmpty();
    }

    @Test
    void failuresExitOneWithAnErrorLine() {
        CliRunner.Result badCidr = cli.run("network", "create", "dev", "--subnet", "10.0.0.0/33");
        assertThat(badCidr.status()).isEqualTo(1);
        assertThat(badCidr.err()).startsWith("tapwire: error: invalid IPv4 subnet \"10.0.0.0/33\"");
        CliRunner.Result unknown = cli.run("network", "join", "ghost", "w1");
        assertThat(unknown.status()).isEqualTo(1);
        assertThat(unknown.err()).isEqualTo("tapwire: error: network \"ghost\" not found\n");
        CliRunner.Result badName = cli.run("network", "create", "Bad_Name");
        assertThat(badName.status()).isEqualTo(1);
        assertThat(badName.err()).contains("invalid network name");
    }

    @Test
    void usageErrorsExitTwo() {
        for (String[] args : List.of(new String[] {"network", "create"}, new String[] {"network", "frobnicate"},
                new String[] {"--no-such-flag"}, new String[] {"network", "join", "dev"},
                new String[] {"tap", "create", "vm1"})) {
            CliRunner.Result r = cli.run(args);
            assertThat(r.status()).as(String.join(" ", args)).isEqualTo(2);
            assertThat(r.err()).startsWith("tapwire: error: ");
        }
    }

    @Test
    void helpAndVersionExitZero() {
        CliRunner.Result help = cli.run("--help");
        assertThat(help.status()).isZero();
        assertThat(help.out()).contains("network").contains("tap").contains("gc").contains("demo");
        CliRunner.Result version = cli.run("--version");
        assertThat(version.status()).isZero();
        assertThat(version.out()).startsWith("tapwire ");
    }

    @Test
    void theStateDirectoryComesFromTheOptionTheEnvironmentOrXdg() {
        Path option = state.resolve("option");
        cli.run("--state-dir", option.toString(), "network", "create", "a");
        assertThat(FileNetworkRegistry.indexPath(option)).exists();

        Path xdg = state.resolve("xdg");
        CliRunner noExplicit = new CliRunner(state).env("TAPWIRE_STATE_DIR", null).env("XDG_STATE_HOME", xdg.toString());
        noExplicit.run("network", "create", "b");
        assertThat(FileNetworkRegistry.indexPath(xdg.resolve("tapwire"))).exists();

        CliRunner home = new CliRunner(state).env("TAPWIRE_STATE_DIR", null).env("XDG_STATE_HOME", null);
        home.run("network", "create", "c");
        assertThat(FileNetworkRegistry.indexPath(state.resolve("home/.local/state/tapwire"))).exists();
    }

    @Test
    void rootsDefaultStateDirectoryIsTheSystemOneAndAnExplicitOneStillWins() {
        CliRunner root = new CliRunner(state).asUid(0).env("TAPWIRE_STATE_DIR", null)
                .env("XDG_STATE_HOME", state.resolve("xdg").toString());
        CliRunner.Result help = root.run("network", "--help");
        assertThat(help.out()).contains("/var/lib/tapwire");
        Tapwire asRoot = new Tapwire(Map.of("HOME", "/root", "XDG_STATE_HOME", "/root/.local/state"), 0);
        assertThat(asRoot.stateDir()).isEqualTo(Path.of("/var/lib/tapwire"));
        Tapwire user = new Tapwire(Map.of("HOME", "/home/u"), 1000);
        assertThat(user.stateDir()).isEqualTo(Path.of("/home/u/.local/state/tapwire"));
        Tapwire explicit = new Tapwire(Map.of("TAPWIRE_STATE_DIR", "/srv/mgr"), 0);
        assertThat(explicit.stateDir()).isEqualTo(Path.of("/srv/mgr"));
        root.env("TAPWIRE_STATE_DIR", state.resolve("explicit").toString()).run("network", "create", "d");
        assertThat(FileNetworkRegistry.indexPath(state.resolve("explicit"))).exists();
    }

    @Test
    void everyLeafCommandAnswersHelp() {
        List<CommandLine> leaves = new ArrayList<>();
        collectLeaves(new CommandLine(new Tapwire(Map.of(), 1000)), leaves);
        assertThat(leaves).hasSizeGreaterThan(15);
        for (CommandLine leaf : leaves) {
            List<String> path = new ArrayList<>(List.of(leaf.getCommandSpec().qualifiedName(" ").split(" ")));
            path.remove(0); // "tapwire"
            path.add("--help");
            CliRunner.Result help = cli.run(path.toArray(String[]::new));
            assertThat(help.status()).as(String.join(" ", path) + ": " + help.err()).isZero();
            assertThat(help.out()).as(String.join(" ", path))
                    .contains("Usage: " + leaf.getCommandSpec().qualifiedName(" ") + " ");
            assertThat(help.err()).isEmpty();
        }
    }

    private static void collectLeaves(CommandLine command, List<CommandLine> leaves) {
        if (command.getSubcommands().isEmpty()) {
            leaves.add(command);
        }
        command.getSubcommands().values().stream().distinct().forEach(c -> collectLeaves(c, leaves));
    }

    @Test
    void theLibrarysWarningsReachTheOperatorOnStderr() throws Exception {
        Path index = FileNetworkRegistry.indexPath(state);
        Files.createDirectories(index.getParent());
        Files.writeString(index, "{\"networks\": [{\"name\": \"a\", \"subnet\": \"10.44.1.0/25\", \"gateway\": "
                + "\"10.44.1.1\"}, {\"name\": \"b\", \"subnet\": \"10.44.1.0/24\", \"gateway\": \"10.44.1.1\"}]}");
        Process cli = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), Tapwire.class.getName(),
                "--state-dir", state.toString(), "network", "ls").start();
        String out = new String(cli.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        String err = new String(cli.getErrorStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(cli.waitFor()).isZero();
        assertThat(out).contains("a ").contains("b ");
        assertThat(err).startsWith("WARN registry index " + index)
                .contains("network b (10.44.1.0/24) overlaps network a (10.44.1.0/25)");
    }

    @Test
    void exportPrintsIndexJsonAndImportMovesItIntoAnotherRegistry() throws Exception {
        cli.run("network", "create", "dev");
        cli.run("network", "join", "dev", "w1");
        CliRunner.Result exported = cli.run("network", "export");
        assertThat(exported.status()).isZero();
        assertThat(exported.out()).isEqualTo(Files.readString(FileNetworkRegistry.indexPath(state)));

        Path file = Files.writeString(state.resolve("exported.json"), exported.out());
        Path other = state.resolve("other");
        CliRunner.Result imported = cli.run("--registry", other.toUri().toString(), "network", "import", file.toString());
        assertThat(imported.status()).as(imported.err()).isZero();
        assertThat(imported.out()).contains("imported 1 network(s)");
        assertThat(Files.readString(FileNetworkRegistry.indexPath(other))).isEqualTo(exported.out());

        CliRunner.Result viaEnv = cli.env("TAPWIRE_REGISTRY", other.toUri().toString()).run("network", "inspect", "dev");
        assertThat(viaEnv.out()).contains("w1").contains("10.44.1.2");
        Files.writeString(file, "{\"networks\": 7}");
        CliRunner.Result bad = cli.run("network", "import", file.toString());
        assertThat(bad.status()).isEqualTo(1);
        assertThat(bad.err()).startsWith("tapwire: error: " + file + " is not a valid index at line 1, column 14:"
                + " networks has the wrong type").endsWith("; the registry was not changed\n")
                .doesNotContain("backup").doesNotContain("left untouched");
        String twice = "{\"networks\": [{\"name\": \"a\", \"subnet\": \"10.44.1.0/24\", \"gateway\": \"10.44.1.1\","
                + " \"members\": [{\"workspace\": \"w\", \"ip\": \"10.44.1.2\"}, {\"workspace\": \"w\", \"ip\":"
                + " \"10.44.1.3\"}]}]}";
        Files.writeString(file, twice);
        CliRunner.Result rule = cli.run("network", "import", file.toString());
        assertThat(rule.status()).isEqualTo(1);
        assertThat(rule.err()).startsWith("tapwire: error: " + file + " is not a valid index: ")
                .endsWith("; the registry was not changed\n").doesNotContain("backup");
        assertThat(cli.run("network", "inspect", "dev").out()).as("unchanged").contains("w1");
        CliRunner.Result unknown = cli.run("--registry", "consul://127.0.0.1:8500/x", "network", "ls");
        assertThat(unknown.status()).isEqualTo(1);
        assertThat(unknown.err()).contains("\"consul\"").contains("schemes found: etcd, file");
    }
}
