package dev.tapwire.network.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.HostRecord;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.bridge.BridgeNetworkProvider;
import dev.tapwire.network.bridge.HostAgent;
import dev.tapwire.network.bridge.NetworkRealizer;
import dev.tapwire.network.registry.etcd.EtcdNetworkRegistry;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.testkit.EtcdServers;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.NetworkNamespace;
import dev.tapwire.network.testkit.QemuGuest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proof of one named network across hosts, with hosts played by network namespaces: an underlay bridge, three
 * hosts on 198.51.100.0/24, a 3-member etcd listening on their underlay addresses, one host agent per host (its own
 * state directory and host name) and QEMU guests (TCG) on TAPs that tapwire made. Guests of {@code team} on hosts 1
 * and 2 lease their registry addresses, resolve each other, ping each other and move 10 MB over TCP; a guest of
 * {@code other} on host 3 reaches neither, spoofing or not; host 2 dies (agent stopped, links deleted) and host 1
 * drops its entries within TTL + 2 s; the workspace re-created on host 3 keeps its address and MAC and is pinged from
 * host 1 within 2 s — while an etcd member was SIGKILLed early on.
 */
@IsolatedNetns // the test thread too: a client call from it must not leave by the JVM's own routes
class FleetGuestTest {

    private static final Duration BOOT = Duration.ofSeconds(180);
    private static final Duration TTL = Duration.ofSeconds(3);
    private static final int TEN_MB = 10 * 1024 * 1024;

    /** The guest image, built before any namespace (apt-get download needs the host's network). */
    private static Path image;

    @TempDir
    Path state;

    private NetworkNamespace.Hosts fleet;
    private EtcdServers etcd;
    private final Map<Integer, Host> hosts = new TreeMap<>();
    private final List<QemuGuest> guests = new ArrayList<>();

    /** One host: its namespace, registry client, provider (makes the TAPs) and agent. */
    private static final class Host {
        final int n;
        final NetworkNamespace ns;
        final Path root;
        NetworkRegistry registry;
        BridgeNetworkProvider provider;
        HostAgent agent;
        final List<String> vms = new ArrayList<>();

        Host(int n, NetworkNamespace ns, Path root) {
            this.n = n;
            this.ns = ns;
            this.root = root;
        }

        <T> T in(Callable<T> task) throws Exception {
            return ns.run(task);
        }

        /** Stops what runs for this host here, leaving its realization (a stopped agent leaves it in place). */
        void stop() {
            if (agent != null) {
                agent.close();
                agent = null;
            }
            if (provider != null) {
                provider.close();
            }
        }
    }

    @BeforeAll
    static void buildImage() throws Exception {
        List<String> missing = new ArrayList<>();
        NetworkNamespace.unavailabilityCause().ifPresent(missing::add);
        NetworkRealizer.unavailabilityCause().ifPresent(missing::add);
        QemuGuest.unavailabilityCause().ifPresent(missing::add);
        HostRequirements.assume(missing.isEmpty(), String.join("; ", missing));
        EtcdServers.assumeInstalled();
        image = QemuGuest.image(Path.of("target/guest"));
    }

    @AfterEach
    void tearDown() throws Exception {
        guests.forEach(QemuGuest::close);
        for (Host h : hosts.values()) { // agents and followers first: they write under the state directory
            h.stop();
        }
        for (Host h : hosts.values()) {
            try {
                h.in(() -> {
                    if (h.provider != null) {
                        h.provider.delete(h.vms);
                        NetworkRealizer realizer = h.provider.realizer().orElseThrow();
                        realizer.list().forEach(r -> realizer.unrealize(r.network()));
                    }
                    return null;
                });
            } catch (Exception | AssertionError e) {
                // a host cut off has lost its links already; its namespace goes below
            }
            if (h.registry != null) {
                h.registry.close();
            }
        }
        if (etcd != null) {
            etcd.close();
        }
        if (fleet != null) {
            fleet.close();
        }
    }

    private Host startHost(int n) throws Exception {
        Path root = Files.createDirectories(state.resolve("host" + n));
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x")); // dnsmasq reads there
        Host h = hosts.computeIfAbsent(n, k -> new Host(k, fleet.host(k), root));
        h.in(() -> {
            if (h.registry == null) { // its client's threads start here, in the host's namespace
                h.registry = EtcdNetworkRegistry.builder(etcd.endpoints()).timeout(Duration.ofSeconds(2))
                        .deadline(Duration.ofSeconds(6)).build();
            }
            h.provider = new BridgeNetworkProvider(ProviderSettings.of(root).withRegistry(h.registry));
            h.agent = HostAgent.start(new HostAgent.Settings(root, h.registry, h.registry.placements(),
                    new HostRecord("host-" + n, Ipv4Address.parse(fleet.underlay(n))), TTL, NetworkNamespace.Hosts.UNDERLAY_MTU,
                    Duration.ofSeconds(1)));
            return null;
        });
        return h;
    }

    private QemuGuest guest(Host h, String vm, String workspace, String network) throws Exception {
        NicConfig nic = h.in(() -> h.provider.configure(vm, 1, VmSpec.of(1).withNetworks(List.of(network))
                .withWorkspace(workspace), List.of()).get(0));
        h.vms.add(vm);
        assertThat(nic.mac()).isEqualTo(MacAddress.forMember(network, workspace));
        QemuGuest g = h.in(() -> QemuGuest.boot(vm, image, nic, null));
        guests.add(g);
        return g;
    }

    /** The MACs host {@code h}'s vxlan device of {@code team} sends to {@code vtep}. */
    private static List<String> fdbTowards(Host h, String vtep) throws Exception {
        return h.in(() -> {
            List<String> macs = new ArrayList<>();
            for (String line : NetworkNamespace.Hosts.exec("bridge", "fdb", "show", "dev", "tx-team").split("\n")) {
                if (line.contains(" dst " + vtep + " ") && line.contains("self")) {
                    macs.add(line.trim().split("\\s+")[0]);
                }
            }
            return macs;
        });
    }

    /** Waits at most {@code bound} for {@code condition}; returns how long it took, or empty when it did not hold. */
    private static Optional<Duration> within(Duration bound, Callable<Boolean> condition) throws Exception {
        long start = System.nanoTime();
        while (!condition.call()) {
            if (System.nanoTime() - start > bound.toNanos()) {
                return Optional.empty();
            }
            Thread.sleep(50);
        }
        return Optional.of(Duration.ofNanos(System.nanoTime() - start));
    }

    /** Moves 10 MB over TCP from {@code from} to {@code to} (busybox nc) and checks every byte arrived; the time. */
    private static Duration transfer(QemuGuest from, QemuGuest to, String toIp) throws Exception {
        // nc's stdin a pipe that stays open: a background job must not read the console, and an nc whose stdin
        // ends half-closes the connection, which makes the sending nc quit
        to.run("rm -f /tmp/received; sleep 600 | nc -l -p 5001 | wc -c > /tmp/received &", Duration.ofSeconds(10));
        Thread.sleep(500);
        long start = System.nanoTime();
        List<String> sent = from.run("dd if=/dev/zero bs=1024 count=10240 2>/dev/null | nc " + toIp + " 5001",
                Duration.ofMinutes(3));
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        List<String> received = new ArrayList<>();
        assertThat(within(Duration.ofSeconds(10), () -> {
            received.clear();
            received.addAll(to.run("cat /tmp/received", Duration.ofSeconds(10)));
            return received.stream().anyMatch(l -> l.trim().equals(Integer.toString(TEN_MB)));
        })).as(() -> "10 MB arrived (full-sized segments, no black hole); sender said " + sent
                + ", receiver counted " + received).isPresent();
        return took;
    }

    @Test
    void guestsOnTwoHostsShareANetworkAndOneOnAThirdHostOfAnotherReachesNeither() throws Exception {
        fleet = NetworkNamespace.Hosts.create(3);
        etcd = EtcdServers.startIn(fleet.hosts(), List.of(1, 2, 3).stream().map(n -> fleet.underlay(n).toString())
                .toList());
        Host h1 = startHost(1);
        Host h2 = startHost(2);
        Host h3 = startHost(3);
        h1.registry.create("team", Ipv4Subnet.parse("10.91.0.0/24"));
        h1.registry.create("other", Ipv4Subnet.parse("10.92.0.0/24"));

        QemuGuest alpha = guest(h1, "vm-alpha", "alpha", "team");
        QemuGuest beta = guest(h2, "vm-beta", "beta", "team");
        QemuGuest gamma = guest(h3, "vm-gamma", "gamma", "other");
        QemuGuest delta = guest(h1, "vm-delta", "delta", "team"); // beside alpha: the same transfer on one host
        String alphaIp = h1.registry.get("team").member("alpha").orElseThrow().ip().toString();
        String betaIp = h1.registry.get("team").member("beta").orElseThrow().ip().toString();
        for (var g : List.of(alpha, beta, gamma, delta)) {
            Matcher lease = g.await("TAPWIRE-LEASE ip=(\\S+)/\\S+ router=(\\S+) .* mtu=(\\S*)", BOOT);
            assertThat(lease.group(3)).as("option 26: the underlay's 1500 less VXLAN's 50").isEqualTo("1450");
        }
        assertThat(alpha.console()).contains("TAPWIRE-LEASE ip=" + alphaIp + "/24 router=10.91.0.1");
        assertThat(beta.console()).contains("TAPWIRE-LEASE ip=" + betaIp + "/24 router=10.91.0.1");

        etcd.members().get(1).kill(); // SIGKILL: nothing below may notice

        for (String name : List.of("beta", "beta.team")) {
            assertThat(alpha.resolve(name)).as(name + " from host 1").containsExactly(betaIp);
        }
        assertThat(beta.resolve("alpha.team")).as("from host 2").containsExactly(alphaIp);
        assertThat(alpha.ping(betaIp, 3)).as("host 1 to host 2").isEqualTo(3);
        assertThat(beta.ping(alphaIp, 2)).isEqualTo(2);
        assertThat(alpha.ping("10.91.0.1", 1)).as("the gateway, answered on host 1").isEqualTo(1);

        // nc's stdin a pipe that stays open: a background job must not read the console, and an nc whose stdin
        // ends half-closes the connection, which makes the sending nc quit
        Duration across = transfer(alpha, beta, betaIp);
        Duration oneHost = transfer(alpha, delta, h1.registry.get("team").member("delta").orElseThrow().ip()
                .toString());
        System.out.printf("fleet proof: 10 MB guest to guest (TCG) across hosts in %d ms, on one host in %d ms%n",
                across.toMillis(), oneHost.toMillis());

        assertThat(gamma.ping(alphaIp, 2)).as("other on host 3 reaches no team member").isZero();
        assertThat(gamma.ping(betaIp, 2)).isZero();
        gamma.run("ip link set eth0 down; ip link set eth0 address " + MacAddress.forMember("team", "alpha")
                + "; ip addr add " + alphaIp + "/24 dev eth0; ip link set eth0 up", Duration.ofSeconds(10));
        assertThat(gamma.ping(betaIp, 2)).as("claiming alpha's MAC and address gets it nowhere").isZero();
        assertThat(alpha.ping(betaIp, 2)).as("and alpha is unharmed").isEqualTo(2);

        // host 2 dies: its agent stops renewing, its links go (its guest with them)
        h2.stop();
        long died = System.nanoTime();
        fleet.cutOff(2);
        Optional<Duration> dropped = within(TTL.plusSeconds(2),
                () -> fdbTowards(h1, fleet.underlay(2).toString()).isEmpty());
        assertThat(dropped).as("host 1 drops host 2's entries within TTL + 2 s").isPresent();
        System.out.printf("fleet proof: host 2's entries gone from host 1 %d ms after its agent stopped%n",
                Duration.ofNanos(System.nanoTime() - died).toMillis());
        assertThat(h1.registry.get("team").member("beta")).as("beta keeps its address").isPresent();

        // beta re-created on host 3: same address, same MAC
        QemuGuest moved = guest(h3, "vm-beta-2", "beta", "team");
        Optional<Duration> pointed = within(Duration.ofSeconds(2),
                () -> fdbTowards(h1, fleet.underlay(3).toString()).contains(MacAddress.forMember("team", "beta")
                        .toString()));
        assertThat(pointed).as("host 1 points at host 3 within 2 s of the configure").isPresent();
        moved.await("TAPWIRE-LEASE ip=" + betaIp.replace(".", "\\.") + "/24", BOOT);
        long leased = System.nanoTime();
        assertThat(within(Duration.ofSeconds(2), () -> alpha.ping(betaIp, 1) == 1))
                .as("pinged from host 1 within 2 s").isPresent();
        System.out.printf("fleet proof: moved beta answered host 1 %d ms after its lease%n",
                Duration.ofNanos(System.nanoTime() - leased).toMillis());
    }
}
