package dev.tapwire.network.benchmarks;

import dev.tapwire.network.HostLease;
import dev.tapwire.network.HostRecord;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.bridge.HostAgent;
import dev.tapwire.network.bridge.NetworkRealizer;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.registry.etcd.EtcdNetworkRegistry;
import dev.tapwire.network.testkit.EtcdServers;
import dev.tapwire.network.testkit.NetworkNamespace;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.options.WatchOption;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Figure 11, convergence across hosts: a member placed on host 1 until its FDB and neighbour entries are on host 2's
 * vxlan device, p50 and p99 over 100 joins, against the floor — one etcd put on host 1 until a watcher on host 2
 * sees it, same cluster, same run. Hosts are network namespaces on an underlay bridge with a 3-member etcd on their
 * underlay addresses; host 2 runs a {@link HostAgent} over a realized network; host 1 is a lease that places members.
 */
final class FleetBenchmark {

    private static final int AF_INET = 2;
    private static final int AF_BRIDGE = 7;

    private FleetBenchmark() {
    }

    /**
     * Measures figure 11 into the report, or notes why it cannot run here.
     *
     * @param report where the figures go
     * @param quick fewer joins (a smoke run)
     * @throws Exception if the set-up fails
     */
    static void run(Report report, boolean quick) throws Exception {
        List<String> missing = new ArrayList<>();
        NetworkNamespace.unavailabilityCause().ifPresent(missing::add);
        NetworkRealizer.unavailabilityCause().ifPresent(missing::add);
        if (!Files.isExecutable(Path.of("/usr/bin/etcd"))) {
            missing.add("etcd is not installed (Debian package etcd-server)");
        }
        if (!missing.isEmpty()) {
            report.note("fleet convergence (11) skipped: " + String.join("; ", missing));
            return;
        }
        int joins = quick ? 20 : 100;
        try (NetworkNamespace.Hosts fleet = NetworkNamespace.Hosts.create(3)) {
            // everything runs on host 1's threads: the etcd clients' I/O threads start lazily in the namespace of the
            // thread that first needs them, and none may start in the JVM's own (whose routes lead elsewhere)
            fleet.host(1).run(() -> {
                measure(report, fleet, joins);
                return null;
            });
        }
    }

    private static void measure(Report report, NetworkNamespace.Hosts fleet, int joins) throws Exception {
        Path root = Files.createTempDirectory("tapwire-fleet-bench-");
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x")); // dnsmasq reads there
        try (EtcdServers etcd = EtcdServers.startIn(fleet.hosts(),
                        List.of(fleet.underlay(1), fleet.underlay(2), fleet.underlay(3)))) {
            NetworkNamespace host2 = fleet.host(2);
            EtcdNetworkRegistry registry1 = EtcdNetworkRegistry.builder(etcd.endpoints()).build();
            EtcdNetworkRegistry registry2 = host2.run(() -> EtcdNetworkRegistry.builder(etcd.endpoints()).build());
            Client client1 = Client.builder().endpoints(etcd.endpoints()).build();
            Client client2 = host2.run(() -> Client.builder().endpoints(etcd.endpoints()).build());
            HostAgent agent = null;
            NetworkRealizer realizer = null;
            try {
                registry1.create("team", Ipv4Subnet.parse("10.93.0.0/22"));
                HostLease lease1 = registry1.placements().register(
                        new HostRecord("host-1", Ipv4Address.parse(fleet.underlay(1))), Duration.ofSeconds(10));
                NetworkRealizer.Fleet fleet2 = new NetworkRealizer.Fleet(registry2.placements(), "host-2",
                        NetworkNamespace.Hosts.UNDERLAY_MTU);
                realizer = new NetworkRealizer(root, registry2, fleet2);
                NetworkRealizer r2 = realizer;
                agent = host2.run(() -> {
                    r2.realize("team");
                    return HostAgent.start(new HostAgent.Settings(root, registry2, registry2.placements(),
                            new HostRecord("host-2", Ipv4Address.parse(fleet.underlay(2))), Duration.ofSeconds(10),
                            NetworkNamespace.Hosts.UNDERLAY_MTU, Duration.ofSeconds(3)));
                });
                double[] floor = watchFloor(host2, client1, client2, joins);
                double[] converge = host2.run(() -> convergence(registry1, lease1, joins));
                Arrays.sort(floor);
                Arrays.sort(converge);
                for (double q : new double[] {0.50, 0.99}) {
                    String p = q == 0.50 ? "p50" : "p99";
                    double f = percentile(floor, q);
                    double c = percentile(converge, q);
                    report.add(new Report.Row(11, "member placed on host 1 -> FDB+neighbour on host 2, " + p, c, "ms",
                            "one etcd put on host 1 seen by a watcher on host 2, " + p, f, c / f,
                            "<= 2x floor + 10 ms (" + String.format(java.util.Locale.ROOT, "%.1f", 2 * f + 10) + ")"));
                }
                report.note("fleet convergence: " + joins + " members, each joined first (untimed), then placed on"
                        + " host 1 (timed from the place call); host 2's agent reconciles on the placement watch");
                lease1.withdraw();
            } finally {
                if (agent != null) {
                    agent.close();
                }
                if (realizer != null) {
                    NetworkRealizer r = realizer;
                    host2.run(() -> r.unrealize("team"));
                }
                client1.close();
                client2.close();
                registry1.close();
                registry2.close();
            }
        } finally {
            Benchmarks.deleteRecursively(root);
        }
    }

    /** Milliseconds from a put on host 1's client until host 2's watcher has it, {@code samples} times. */
    private static double[] watchFloor(NetworkNamespace host2, Client client1, Client client2, int samples)
            throws Exception {
        BlockingQueue<Long> seen = new LinkedBlockingQueue<>();
        ByteSequence prefix = bytes("/floor/");
        Watch.Watcher watcher = host2.run(() -> client2.getWatchClient().watch(prefix,
                WatchOption.builder().isPrefix(true).build(), response -> seen.add(System.nanoTime())));
        try {
            client1.getKVClient().put(bytes("/floor/warm"), bytes("0")).get(10, TimeUnit.SECONDS);
            seen.poll(10, TimeUnit.SECONDS); // the watch is established and warm
            double[] ms = new double[samples];
            for (int i = 0; i < samples; i++) {
                long t0 = System.nanoTime();
                client1.getKVClient().put(bytes("/floor/k"), bytes(Integer.toString(i))).get(10, TimeUnit.SECONDS);
                Long t1 = seen.poll(10, TimeUnit.SECONDS);
                if (t1 == null) {
                    throw new IllegalStateException("the watcher on host 2 did not see put " + i + " within 10 s");
                }
                ms[i] = (t1 - t0) / 1e6;
            }
            return ms;
        } finally {
            watcher.close();
        }
    }

    /**
     * On host 2's thread: per member, joins it (untimed), places it on host 1 and polls host 2's vxlan device of the
     * network (every 0.2 ms) until both its FDB entry (towards host 1) and its neighbour entry are there.
     */
    private static double[] convergence(EtcdNetworkRegistry registry1, HostLease lease1, int joins) throws Exception {
        double[] ms = new double[joins];
        try (Rtnetlink netlink = Rtnetlink.open()) {
            int index = netlink.link("tx-team").map(Link::index).orElseThrow(() -> new IllegalStateException(
                    "host 2 has no vxlan device tx-team: its agent did not make the overlay"));
            for (int i = 0; i < joins; i++) {
                String workspace = "w" + i;
                Ipv4Address ip = registry1.join("team", workspace);
                MacAddress mac = MacAddress.forMember("team", workspace);
                long t0 = System.nanoTime();
                lease1.place("team", workspace, mac);
                long deadline = t0 + TimeUnit.SECONDS.toNanos(10);
                while (!present(netlink, index, mac, ip)) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException(workspace + " not programmed on host 2 within 10 s");
                    }
                    Thread.onSpinWait();
                    TimeUnit.MICROSECONDS.sleep(200);
                }
                ms[i] = (System.nanoTime() - t0) / 1e6;
            }
        }
        return ms;
    }

    private static boolean present(Rtnetlink netlink, int index, MacAddress mac, Ipv4Address ip) {
        boolean fdb = netlink.neighbours(AF_BRIDGE, index).stream()
                .anyMatch(n -> n.master() == 0 && mac.equals(n.mac()) && n.destination() != null);
        return fdb && netlink.neighbours(AF_INET, index).stream()
                .anyMatch(n -> ip.equals(n.destination()) && mac.equals(n.mac()));
    }

    private static double percentile(double[] sorted, double q) {
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    private static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    /** Runs figure 11 alone and prints it: {@code FleetBenchmark [--quick]}. */
    public static void main(String[] args) throws Exception {
        Report report = new Report();
        run(report, Arrays.asList(args).contains("--quick"));
        Optional.ofNullable(System.getProperty("tapwire.bench.out")).map(Path::of)
                .ifPresent(dir -> {
                    try {
                        report.write(dir, "# tapwire fleet convergence");
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
    }
}
