package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.registry.FileNetworkRegistry;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.QemuGuest;
import dev.tapwire.network.testkit.TemporaryRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DNS stays up through membership changes, seen from real guests: one guest resolves another continuously while a
 * third leaves and re-joins the network twenty times, and not one query fails; a member that leaves stops
 * resolving within 2 s; a DHCP hostname a guest sends never becomes a name. The state directory is JUnit's
 * private {@code @TempDir}, as a user's test would have it.
 */
@IsolatedNetns
class DnsContinuityGuestTest {

    private static final Duration BOOT = Duration.ofSeconds(120);

    @TempDir
    Path root;

    private static Path image;

    private final List<QemuGuest> guests = new ArrayList<>();
    private BridgeNetworkProvider provider;

    @BeforeAll
    static void buildImage() throws Exception {
        image = Guests.imageOrSkip();
    }

    @AfterEach
    void stop() {
        Guests.tearDown(guests, provider, List.of("alpha", "beta", "gamma"));
    }

    @Test
    void leavesNeverInterruptDnsAndNoDhcpHostnameBecomesAName(@TemporaryRegistry FileNetworkRegistry registry)
            throws Exception {
        registry.create("team", Ipv4Subnet.parse("10.83.0.0/24"));
        provider = new BridgeNetworkProvider(ProviderSettings.of(root).withRegistry(registry));
        NicConfig alpha = nic("alpha", "alpha");
        NicConfig beta = nic("beta", "beta");
        NicConfig gamma = nic("gamma", "gamma_ws"); // no DNS label: the member a DHCP hostname could name
        QemuGuest a = boot("alpha", alpha);
        QemuGuest b = boot("beta", beta);
        QemuGuest c = boot("gamma", gamma);
        for (QemuGuest g : List.of(a, b, c)) {
            g.await("TAPWIRE-READY", BOOT);
        }
        String betaIp = beta.network().ip().toString();
        assertThat(a.resolve("beta.team")).containsExactly(betaIp);

        try (RegistryWatch following = provider.realizer().orElseThrow().follow()) { // shared if the provider follows
            // one process per query, so the guest queries as often as it can: a refused query fails at once
            a.run(": > /tmp/fail; : > /tmp/ok; (while [ ! -e /tmp/stop ]; do if nslookup beta.team > /tmp/q 2>&1;"
                    + " then echo ok >> /tmp/ok; else cat /tmp/q >> /tmp/fail; echo FAILED >> /tmp/fail; fi; done;"
                    + " echo done > /tmp/stopped) > /dev/null 2>&1 &", Duration.ofSeconds(10));
            Path dhcp = NetworkRealizer.runtimeDir(root).resolve("team/dhcp");
            NetworkRealizer realizer = provider.realizer().orElseThrow();
            int dnsmasq = realizer.inspect("team").orElseThrow().dnsmasqPid().orElseThrow();
            for (int cycle = 0; cycle < 20; cycle++) { // alpha queries after every change, not only between them
                registry.leave("team", "gamma_ws"); // no sync call: the follower sees it
                awaitEntries(dhcp, 2);
                awaitMoreQueries(a);
                registry.join("team", "gamma_ws");
                awaitEntries(dhcp, 3);
                awaitMoreQueries(a);
            }
            a.run("touch /tmp/stop; while [ ! -e /tmp/stopped ]; do sleep 0.1; done", Duration.ofSeconds(30));
            List<String> failed = a.run("cat /tmp/fail", Duration.ofSeconds(10));
            int answered = number(a, "wc -l < /tmp/ok");
            assertThat(failed).as("queries that failed through 20 leave/re-join cycles").isEmpty();
            assertThat(realizer.inspect("team").orElseThrow().dnsmasqPid()).as("dnsmasq was never restarted")
                    .hasValue(dnsmasq);
            assertThat(answered).as("queries answered").isGreaterThan(40);
            System.err.println("DnsContinuityGuestTest: " + answered + " queries answered, none failed");

            // gamma sends hostname "admin" (and then a member's name): neither becomes a name
            assertThat(String.join("\n", c.run("udhcpc -i eth0 -n -q -t 5 -T 1 -x hostname:admin -s /bin/true",
                    Duration.ofSeconds(30)))).contains("lease of " + gamma.network().ip());
            assertThat(a.resolve("admin")).isEmpty();
            assertThat(a.resolve("admin.team")).isEmpty();

            // a member that leaves, through another registry instance, stops resolving within 2 s
            NetworkRegistry elsewhere = FileNetworkRegistry.open(registry.indexFile().getParent().getParent());
            elsewhere.leave("team", "beta");
            long left = System.nanoTime();
            while (!a.resolve("beta.team").isEmpty()) {
                assertThat(Duration.ofNanos(System.nanoTime() - left)).as("beta still resolves")
                        .isLessThan(Duration.ofSeconds(2));
            }
            assertThat(a.resolve("beta")).isEmpty();
        }
    }

    /** Waits until the guest's resolver loop has made two more queries (answered or not). */
    private static void awaitMoreQueries(QemuGuest g) throws Exception {
        int before = queries(g);
        long start = System.nanoTime();
        while (queries(g) < before + 2) {
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("the guest's resolver loop stalled")
                    .isLessThan(Duration.ofSeconds(30));
        }
    }

    private static int queries(QemuGuest g) throws Exception {
        return number(g, "echo $(( $(wc -l < /tmp/ok) + $(grep -c FAILED /tmp/fail) ))");
    }

    /** Runs a command that prints a number (the console may wrap the echoed command: the number is its own line). */
    private static int number(QemuGuest g, String command) throws Exception {
        List<String> out = g.run(command, Duration.ofSeconds(10));
        return out.stream().map(String::strip).filter(l -> l.matches("\\d+")).reduce((x, y) -> y)
                .map(Integer::parseInt).orElseThrow(() -> new AssertionError(command + " printed " + out));
    }

    private static void awaitEntries(Path dir, int count) throws Exception {
        long start = System.nanoTime();
        while (entries(dir) != count) {
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as(dir + " should hold " + count + " entries")
                    .isLessThan(Duration.ofSeconds(2));
            Thread.sleep(10);
        }
    }

    private static long entries(Path dir) throws Exception {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> !f.getFileName().toString().startsWith(".")).count();
        }
    }

    private NicConfig nic(String vm, String workspace) {
        return provider.configure(vm, 1, VmSpec.of(1).withNetworks(List.of("team")).withWorkspace(workspace),
                List.of()).get(0);
    }

    private QemuGuest boot(String name, NicConfig nic) throws Exception {
        QemuGuest g = QemuGuest.boot(name, image, nic, null);
        guests.add(g);
        return g;
    }
}
