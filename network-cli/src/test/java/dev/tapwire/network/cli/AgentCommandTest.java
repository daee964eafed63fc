package dev.tapwire.network.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.HostRecord;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.bridge.NetworkRealizer;
import dev.tapwire.network.registry.FileNetworkRegistry;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code tapwire agent} in a private namespace on the file registry: it registers the host it is given, runs in the
 * foreground until stopped, stops with status 0 on a real SIGTERM, and refuses bad settings as usage errors that say
 * what is accepted.
 */
@IsolatedNetns
class AgentCommandTest {

    @TempDir
    Path state;

    @BeforeEach
    void available() {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
    }

    /** Runs the agent command in-process, with the given environment. */
    private static final class Run {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final AgentCommand agent;
        final CompletableFuture<Integer> status;

        Run(Map<String, String> env, String... args) {
            Tapwire root = new Tapwire(env, 0);
            root.out = new PrintWriter(out, true);
            CommandLine cli = new CommandLine(root);
            agent = (AgentCommand) cli.getSubcommands().get("agent").getCommand(); // registered by Tapwire
            cli.setOut(root.out);
            cli.setErr(new PrintWriter(err, true));
            cli.setParameterExceptionHandler((e, a) -> {
                e.getCommandLine().getErr().println("tapwire: error: " + e.getMessage());
                return 2;
            });
            cli.setExecutionExceptionHandler((e, c, p) -> {
                c.getErr().println("tapwire: error: " + e.getMessage());
                return 1;
            });
            // a platform thread started here stays in the test's namespace
            status = CompletableFuture.supplyAsync(() -> cli.execute(args), r -> new Thread(r).start());
        }

        boolean awaitRunning() throws InterruptedException {
            for (int i = 0; i < 300 && !out.toString().contains("SIGTERM or SIGINT stops it"); i++) {
                if (status.isDone()) {
                    return false;
                }
                Thread.sleep(50);
            }
            return out.toString().contains("SIGTERM or SIGINT stops it");
        }
    }

    private Map<String, String> env() {
        return Map.of("TAPWIRE_STATE_DIR", state.toString(), "HOME", state.resolve("home").toString());
    }

    @Test
    void theAgentRegistersItsHostRunsUntilStoppedAndThenReturnsZero() throws Exception {
        Run run = new Run(env(), "agent", "--host", "host-a", "--ttl", "3s");
        assertThat(run.awaitRunning()).as(run.out + " " + run.err).isTrue();
        assertThat(run.out.toString()).contains("tapwire agent: host host-a, underlay 127.0.0.1, TTL 3000 ms");
        try (NetworkRegistry registry = FileNetworkRegistry.open(state)) {
            assertThat(registry.placements().hosts()).extracting(HostRecord::name).containsExactly("host-a");
        }
        assertThat(run.status).as("it runs in the foreground").isNotDone();
        run.agent.requestStop();
        assertThat(run.status.get(30, TimeUnit.SECONDS)).isZero();
        assertThat(run.out.toString()).contains("tapwire agent: stopped; host host-a stays in the fleet for its TTL");
    }

    @Test
    void theHostAndTheUnderlayComeFromTheEnvironmentWhenNotGiven() throws Exception {
        Map<String, String> env = new java.util.HashMap<>(env());
        env.put("TAPWIRE_HOST", "host-env");
        env.put("TAPWIRE_UNDERLAY", "127.0.0.1");
        Run run = new Run(env, "agent");
        assertThat(run.awaitRunning()).as(run.out + " " + run.err).isTrue();
        assertThat(run.out.toString()).contains("host host-env, underlay 127.0.0.1, TTL 10000 ms");
        run.agent.requestStop();
        assertThat(run.status.get(30, TimeUnit.SECONDS)).isZero();
    }

    @Test
    void badSettingsAreUsageErrorsThatSayWhatIsAccepted() throws Exception {
        Run ttl = new Run(env(), "agent", "--host", "h", "--ttl", "1s");
        assertThat(ttl.status.get(30, TimeUnit.SECONDS)).isEqualTo(2);
        assertThat(ttl.err.toString()).contains("2 s");
        Run underlay = new Run(env(), "agent", "--host", "h", "--underlay", "host-b");
        assertThat(underlay.status.get(30, TimeUnit.SECONDS)).isEqualTo(2);
        assertThat(underlay.err.toString()).contains("underlay \"host-b\" is no IPv4 address");
        Run host = new Run(env(), "agent", "--host", ".h");
        assertThat(host.status.get(30, TimeUnit.SECONDS)).isEqualTo(2);
        assertThat(host.err.toString()).contains("\".h\" is invalid");
        Run absent = new Run(env(), "agent", "--host", "h", "--underlay", "198.51.100.99");
        assertThat(absent.status.get(30, TimeUnit.SECONDS)).as("no device here holds it").isEqualTo(1);
        assertThat(absent.err.toString()).contains("198.51.100.99");
        try (NetworkRegistry registry = FileNetworkRegistry.open(state)) {
            assertThat(registry.placements().hosts()).as("nothing registered").isEmpty();
        }
    }

    @Test
    void aSigtermStopsTheAgentProcessWithStatusZero() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
                AgentMain.class.getName(), "--state-dir", state.toString(), "agent", "--host", "host-a", "--ttl", "3s")
                .redirectErrorStream(true).start(); // started from this thread: in the test's namespace
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        StringBuilder seen = new StringBuilder();
        for (String line; (line = out.readLine()) != null; ) {
            seen.append(line).append('\n');
            if (line.contains("SIGTERM or SIGINT stops it")) {
                break;
            }
        }
        assertThat(seen.toString()).contains("tapwire agent: host host-a");
        p.toHandle().destroy(); // SIGTERM (Process.destroy would close our end of its output too)
        StringBuilder rest = new StringBuilder();
        for (String line; (line = out.readLine()) != null; ) {
            rest.append(line).append('\n');
        }
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(seen + rest.toString()).isZero();
        assertThat(rest.toString()).contains("tapwire agent: stopped");
    }
}
