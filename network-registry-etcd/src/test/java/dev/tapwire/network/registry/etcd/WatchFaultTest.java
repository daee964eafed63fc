package dev.tapwire.network.registry.etcd;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.RegistryChange;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.testkit.EtcdServers;
import dev.tapwire.network.testkit.RealEtcd;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A watch either delivers every change or tells its listener to resync: across a compaction of the revisions it
 * missed while its member was frozen, across a partition of its member (a proxy that black-holes the connection),
 * and for a subnet change that writeIndex makes.
 */
@RealEtcd(members = 3)
class WatchFaultTest {

    static EtcdServers etcd;
    private static final AtomicInteger PREFIXES = new AtomicInteger();
    private final String prefix = "/watch-" + PREFIXES.incrementAndGet() + "/";

    @BeforeAll
    static void etcd(EtcdServers servers) {
        etcd = servers;
    }

    private EtcdNetworkRegistry others() {
        return EtcdNetworkRegistry.builder(etcd.endpoints()[1], etcd.endpoints()[2]).prefix(prefix).build();
    }

    /** The changes seen until {@code done} holds of them, waiting at most {@code seconds}. */
    private static List<RegistryChange> awaitChanges(BlockingQueue<RegistryChange> seen, int seconds,
            java.util.function.Predicate<List<RegistryChange>> done) throws InterruptedException {
        List<RegistryChange> got = new ArrayList<>();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!done.test(got) && System.nanoTime() < end) {
            RegistryChange c = seen.poll(100, TimeUnit.MILLISECONDS);
            if (c != null) {
                got.add(c);
            }
        }
        return got;
    }

    private static Set<String> joined(List<RegistryChange> changes) {
        Set<String> names = new HashSet<>();
        for (RegistryChange c : changes) {
            if (c.type() == RegistryChange.Type.MEMBER_JOINED) {
                names.add(c.member().workspace());
            }
        }
        return names;
    }

    @Test
    @Timeout(120)
    void aWatchWhoseMissedRevisionsWereCompactedTellsItsListenerToResyncAndGoesOn() throws Exception {
        EtcdServers.Member down = etcd.members().get(0);
        try (EtcdNetworkRegistry watched = EtcdNetworkRegistry.builder(down.clientUrl()).prefix(prefix)
                        .timeout(Duration.ofSeconds(2)).build();
                EtcdNetworkRegistry others = others();
                EtcdKeys keys = new EtcdKeys(etcd.endpoints()[1], etcd.endpoints()[2])) {
            others.create("dev");
            BlockingQueue<RegistryChange> seen = new LinkedBlockingQueue<>();
            try (RegistryWatch watch = watched.watch(seen::add)) { // its only member goes down next
                others.join("dev", "before");
                assertThat(joined(awaitChanges(seen, 10, c -> joined(c).contains("before")))).contains("before");
                down.kill();
                for (int i = 0; i < 17; i++) {
                    others.join("dev", "during-" + i);
                }
                long now = keys.client().getKVClient().get(EtcdKeys.bytes(prefix)).get(10, TimeUnit.SECONDS)
                        .getHeader().getRevision();
                keys.client().getKVClient().compact(now).get(10, TimeUnit.SECONDS);
                down.restart();
                List<RegistryChange> got = awaitChanges(seen, 20, c -> c.contains(RegistryChange.resync()));
                assertThat(got).as("a RESYNC within 20 s of the member's return").contains(RegistryChange.resync());
                others.join("dev", "after");
                assertThat(joined(awaitChanges(seen, 20, c -> joined(c).contains("after"))))
                        .as("changes after it arrive").contains("after");
            }
        }
    }

    /** What a test does to the member that serves the watch: its index, and the proxy in front of it. */
    @FunctionalInterface
    private interface Fault {
        void apply(int member, CuttingProxy proxy) throws Exception;
    }

    /**
     * Watches through a proxy per member, finds the one that carries the watch (the one the events came through),
     * applies {@code fault} to it, makes 50 joins through the other members and returns how long it took until the
     * watch had delivered all of them (failing if not within 15 s).
     */
    private long failOverAfter(String what, Fault fault) throws Exception {
        List<CuttingProxy> proxies = new ArrayList<>();
        for (EtcdServers.Member m : etcd.members()) {
            proxies.add(new CuttingProxy(m.clientPort()));
        }
        try (EtcdNetworkRegistry watched = EtcdNetworkRegistry.builder(proxies.stream().map(CuttingProxy::endpoint)
                        .toArray(String[]::new)).prefix(prefix).timeout(Duration.ofSeconds(2)).build();
                EtcdNetworkRegistry setup = others()) {
            setup.create("dev");
            BlockingQueue<RegistryChange> seen = new LinkedBlockingQueue<>();
            try (RegistryWatch watch = watched.watch(seen::add)) {
                proxies.forEach(p -> p.fromServer.set(0));
                for (int i = 0; i < 20; i++) {
                    setup.join("dev", "before-" + i);
                }
                assertThat(joined(awaitChanges(seen, 10, c -> joined(c).contains("before-19")))).contains("before-19");
                int carrier = 0;
                for (int i = 1; i < proxies.size(); i++) {
                    carrier = proxies.get(i).fromServer.get() > proxies.get(carrier).fromServer.get() ? i : carrier;
                }
                List<String> running = new ArrayList<>(List.of(etcd.endpoints()));
                running.remove(carrier);
                fault.apply(carrier, proxies.get(carrier));
                long start = System.nanoTime();
                Set<String> expected = new HashSet<>();
                try (EtcdNetworkRegistry others = EtcdNetworkRegistry.builder(running.toArray(String[]::new))
                        .prefix(prefix).build()) {
                    for (int i = 0; i < 50; i++) {
                        others.join("dev", "during-" + i);
                        expected.add("during-" + i);
                    }
                }
                List<RegistryChange> got = awaitChanges(seen, 15, c -> joined(c).containsAll(expected));
                long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertThat(joined(got)).as("every join after %s, within 15 s", what).containsAll(expected);
                System.out.printf("watch fail-over after %s: all 50 changes delivered %d ms after it%n", what, millis);
                return millis;
            }
        } finally {
            for (CuttingProxy p : proxies) {
                p.close();
            }
        }
    }

    @Test
    @Timeout(120)
    void aWatchWhoseMemberIsPartitionedMovesToAnotherWithinBoundedTimeAndMissesNothing() throws Exception {
        failOverAfter("a partition", (member, proxy) -> proxy.blackHole(true));
    }

    @Test
    @Timeout(120)
    void aWatchWhoseMemberIsFrozenMovesToAnotherWithinBoundedTimeAndMissesNothing() throws Exception {
        List<EtcdServers.Member> frozen = new ArrayList<>();
        try {
            failOverAfter("SIGSTOP", (member, proxy) -> {
                frozen.add(etcd.members().get(member));
                etcd.members().get(member).pause();
            });
        } finally {
            for (EtcdServers.Member m : frozen) {
                m.resume();
            }
        }
    }

    @Test
    @Timeout(60)
    void aSubnetChangeByWriteIndexIsReported() throws Exception {
        try (EtcdNetworkRegistry registry = others()) {
            Ipv4Subnet before = Ipv4Subnet.parse("10.44.1.0/24");
            Ipv4Subnet after = Ipv4Subnet.parse("10.44.9.0/24");
            registry.writeIndex(new NetworkIndex(List.of(new NetworkRecord("dev", before, before.firstHost(), null,
                    List.of()))));
            BlockingQueue<RegistryChange> seen = new LinkedBlockingQueue<>();
            try (RegistryWatch watch = registry.watch(seen::add)) {
                registry.writeIndex(new NetworkIndex(List.of(new NetworkRecord("dev", after, after.firstHost(), null,
                        List.of(new Member("w1", Ipv4Address.parse("10.44.9.2")))))));
                List<RegistryChange> got = awaitChanges(seen, 10, c -> c.size() >= 2);
                assertThat(got).containsExactly(new RegistryChange(RegistryChange.Type.NETWORK_CHANGED, "dev", null),
                        new RegistryChange(RegistryChange.Type.MEMBER_JOINED, "dev",
                                new Member("w1", Ipv4Address.parse("10.44.9.2"))));
            }
        }
    }
}
