package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.bridge.linux.Nftables;
import dev.tapwire.network.registry.FileNetworkRegistry;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Isolation is never silently absent: a realize SIGKILLed at random points, then the configure path
 * ({@link NetworkRealizer#ensureRealized}) finds the network with its rules in place; a {@code nft flush ruleset}
 * between any two operations is undone by the next one.
 */
@IsolatedNetns
class RealizeCrashTest {

    private static final int KILLS = 20;

    @TempDir
    Path root;
    @TempDir
    Path registryDir;

    NetworkRealizer realizer;

    @BeforeEach
    void network() {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        FileNetworkRegistry registry = FileNetworkRegistry.open(registryDir);
        registry.create("team", Ipv4Subnet.parse("10.77.0.0/24"));
        registry.join("team", "web");
        realizer = new NetworkRealizer(root, registry);
    }

    @AfterEach
    void down() {
        realizer.list().forEach(r -> realizer.unrealize(r.network()));
    }

    private String table() {
        return "inet tapwire_" + NetworkRealizer.ownerTag(root);
    }

    /** Starts a realizing child (in this thread's namespace), waits for its "ready", cues it; returns it. */
    private Process cuedChild() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                RealizeMain.class.getName(), root.toString(), registryDir.toString(), "team", "cue")
                .redirectErrorStream(true).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
        String line;
        while ((line = out.readLine()) != null && !line.equals("ready")) {
            // log lines of the child
        }
        assertThat(line).as("the child got ready").isEqualTo("ready");
        OutputStream in = child.getOutputStream();
        in.write('\n');
        in.flush();
        return child;
    }

    private void assertRealizedWithItsRules() throws Exception {
        Realization r = realizer.ensureRealized("team");
        assertThat(r.bridge()).isEqualTo("tw-team");
        assertThat(Nftables.run("list table " + table())).contains("\"tw-team\"").contains("jump guests_to_host");
        assertThat(realizer.inspect("team").orElseThrow().problems()).isEmpty();
        assertThat(Dns.queryA("10.77.0.1", "web.team")).containsExactly("10.77.0.2");
    }

    @Test
    void aRealizeKilledAtAnyPointLeavesANetworkThatTheNextConfigureFindsWithItsRules() throws Exception {
        Process whole = cuedChild();
        long start = System.nanoTime();
        assertThat(whole.waitFor(30, TimeUnit.SECONDS)).isTrue();
        // kill points spread over the whole realize (and a little after it, where the kill finds it done)
        long realizeMicros = Math.max(1_000, TimeUnit.NANOSECONDS.toMicros(System.nanoTime() - start) * 6 / 5);
        realizer.unrealize("team");
        List<Long> kills = new ArrayList<>();
        for (int i = 0; i < KILLS; i++) {
            Process child = cuedChild();
            long delay = ThreadLocalRandom.current().nextLong(realizeMicros);
            TimeUnit.MICROSECONDS.sleep(delay);
            Crash.sigkill((int) child.pid());
            child.waitFor();
            kills.add(delay);
            assertRealizedWithItsRules();
            if (i % 2 == 0) {
                realizer.unrealize("team"); // the next kill hits a first realize; the others a repeated one
            }
        }
        assertThat(kills).hasSize(KILLS);
    }

    @Test
    void aFlushedRulesetIsRestoredByTheNextSyncConfigureVerifyOrFollowerPass() throws Exception {
        realizer.realize("team", false);
        Nftables.run("flush ruleset");
        realizer.sync("team");
        assertThat(Nftables.run("list table " + table())).contains("tw-team");

        Nftables.run("flush ruleset");
        realizer.ensureRealized("team");
        assertThat(Nftables.run("list table " + table())).contains("tw-team");

        Nftables.run("flush ruleset");
        realizer.syncAll();
        assertThat(Nftables.run("list table " + table())).contains("tw-team");

        Nftables.run("flush ruleset");
        assertThat(realizer.verify("team").problems()).anySatisfy(p -> assertThat(p).startsWith("repaired:")
                .contains("missing"));
        assertThat(realizer.inspect("team").orElseThrow().problems()).isEmpty();

        Nftables.run("add table " + table() + "\nflush table " + table()); // emptied by someone else
        assertThat(realizer.inspect("team").orElseThrow().problems()).anySatisfy(p -> assertThat(p).contains("differs"));
        realizer.ensureRealized("team");
        assertThat(realizer.inspect("team").orElseThrow().problems()).isEmpty();

        try (RegistryWatch following = realizer.follow(Duration.ofMillis(200))) {
            Nftables.run("flush ruleset");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            while (!realizer.inspect("team").orElseThrow().problems().isEmpty()) {
                assertThat(System.nanoTime()).as("the follower restores the table within 2 s").isLessThan(deadline);
                Thread.sleep(20);
            }
        }
    }
}
