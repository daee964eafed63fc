package dev.tapwire.network.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tapwire.network.gc.GcReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --json} is one shape everywhere: every registry command prints exactly one JSON value on stdout, its keys
 * the library's snake_case names, and every failure is {@code {"error": …}} on stderr with the exit status it has
 * without {@code --json}.
 */
class JsonOutputTest {

    @TempDir
    Path state;

    CliRunner cli;
    final ObjectMapper json = new ObjectMapper();

    @BeforeEach
    void runner() {
        cli = new CliRunner(state);
    }

    @Test
    void everyRegistryCommandPrintsOneJsonValueWithSnakeCaseKeys() throws Exception {
        JsonNode created = jsonOf("network", "create", "dev");
        assertThat(created.isObject()).as("create prints an object, as join does").isTrue();
        assertThat(created.get("name").asText()).isEqualTo("dev");
        assertThat(created.get("created_at").asText()).endsWith("Z");
        assertThat(jsonOf("network", "join", "dev", "web").get("ip").asText()).isEqualTo("10.44.1.2");
        jsonOf("network", "join", "dev", "api");
        assertThat(jsonOf("network", "ls")).hasSize(1);
        assertThat(jsonOf("network", "inspect", "dev").get("members")).hasSize(2);

        JsonNode hosts = jsonOf("network", "hosts", "dev");
        assertThat(hosts).hasSize(2);
        assertThat(hosts.get(0).get("ip").asText()).isEqualTo("10.44.1.2");
        assertThat(hosts.get(0).get("names")).extracting(JsonNode::asText).containsExactly("web.dev", "web");

        JsonNode left = jsonOf("network", "leave", "dev", "web");
        assertThat(left.get("workspace").asText()).isEqualTo("web");
        assertThat(left.get("networks")).extracting(JsonNode::asText).containsExactly("dev");
        jsonOf("network", "create", "ops");
        jsonOf("network", "join", "ops", "api");
        assertThat(jsonOf("network", "leave-all", "api").get("networks")).extracting(JsonNode::asText)
                .containsExactly("dev", "ops");

        Path exported = Files.writeString(state.resolve("exported.json"), cli.run("--json", "network", "export").out());
        assertThat(jsonOf("network", "import", exported.toString()).get("networks")).hasSize(2);
        JsonNode down = jsonOf("network", "down", "ops");
        assertThat(down.get("network").asText()).isEqualTo("ops");
        assertThat(down.get("removed").asBoolean()).as("never realized here").isFalse();
        assertThat(jsonOf("network", "rm", "ops").get("name").asText()).isEqualTo("ops");
        assertThat(jsonOf("network", "ls")).extracting(n -> n.get("name").asText()).containsExactly("dev");
    }

    @Test
    void aFailureUnderJsonIsOneErrorObjectOnStderrWithTheSameStatus() throws Exception {
        CliRunner.Result text = cli.run("network", "inspect", "ghost");
        CliRunner.Result failed = cli.run("--json", "network", "inspect", "ghost");
        assertThat(failed.status()).isEqualTo(text.status()).isEqualTo(1);
        assertThat(failed.out()).isEmpty();
        JsonNode error = json.readTree(failed.err());
        assertThat(fieldNames(error)).containsExactly("error");
        assertThat(text.err()).isEqualTo("tapwire: error: " + error.get("error").asText() + "\n");
        assertThat(error.get("error").asText()).contains("ghost");
        assertThat(failed.err().lines()).hasSize(1);
    }

    @Test
    void aUsageErrorUnderJsonIsAnErrorObjectWithStatusTwo() throws Exception {
        for (List<String> args : List.of(List.of("network", "create", "--json"),
                List.of("--json", "network", "join", "dev", "web", "--ip", "10.44.1.300"),
                List.of("network", "no-such-command", "--json"))) {
            CliRunner.Result text = cli.run(args.stream().filter(a -> !a.equals("--json")).toArray(String[]::new));
            CliRunner.Result failed = cli.run(args.toArray(String[]::new));
            assertThat(failed.status()).as(args.toString()).isEqualTo(text.status()).isEqualTo(2);
            JsonNode error = json.readTree(failed.err());
            assertThat(fieldNames(error)).as(args.toString()).containsExactly("error");
            assertThat(text.err()).startsWith("tapwire: error: " + error.get("error").asText());
        }
    }

    @Test
    void theCommandsOwnRecordsAreWrittenInSnakeCaseAsTheLibrarysAre() throws Exception {
        JsonNode row = json.readTree(Json.write(new TapCommand.TapRow("btvm-1-0", "vm-1", "br0", "up", true)));
        assertThat(fieldNames(row)).containsExactly("tap", "vm", "bridge", "state", "multi_queue");
        JsonNode report = json.readTree(Json.write(new GcReport(true, "the lock is busy", List.of())));
        assertThat(fieldNames(report)).contains("abort_reason").doesNotContain("abortReason");
        JsonNode inspection = json.readTree(Json.write(new NetworkCommand.Realized("twbr1", true, false, true, false,
                List.of("8080/tcp"), 1500, false, 42, List.of())));
        assertThat(fieldNames(inspection)).contains("bridge_up", "port_security", "host_ports", "dnsmasq_pid");
    }

    /** Runs a command with {@code --json}: status 0, one line on stdout that is one JSON value, snake_case keys. */
    private JsonNode jsonOf(String... args) throws Exception {
        List<String> withJson = new ArrayList<>(List.of(args));
        withJson.add("--json");
        CliRunner.Result r = cli.run(withJson.toArray(String[]::new));
        assertThat(r.status()).as(withJson + ": " + r.err()).isZero();
        if (!args[1].equals("export")) {
            assertThat(r.out().lines()).as(withJson + " prints one line").hasSize(1);
        }
        JsonNode value = json.readTree(r.out());
        assertThat(value).as(withJson + " prints JSON").isNotNull();
        assertThat(keysOf(value)).as(withJson + " keys").allMatch(k -> k.matches("[a-z][a-z0-9_]*"));
        return value;
    }

    private static List<String> fieldNames(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    private static Set<String> keysOf(JsonNode node) {
        Set<String> keys = new java.util.TreeSet<>();
        if (node.isObject()) {
            for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                keys.add(k);
                keys.addAll(keysOf(node.get(k)));
            }
        } else if (node.isArray()) {
            node.forEach(e -> keys.addAll(keysOf(e)));
        }
        return keys;
    }
}
