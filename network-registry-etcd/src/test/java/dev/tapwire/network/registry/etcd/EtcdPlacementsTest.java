package dev.tapwire.network.registry.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.HostLease;
import dev.tapwire.network.HostRecord;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.Placement;
import dev.tapwire.network.PlacementChange;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.testkit.EtcdServers;
import dev.tapwire.network.testkit.RealEtcd;
import io.etcd.jetcd.KeyValue;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** What only a registry shared by hosts shows: hosts seeing each other, movement, expiry within the TTL, a lost lease. */
@RealEtcd
class EtcdPlacementsTest {

    private static final Duration TTL = Duration.ofSeconds(2);
    private static final MacAddress MAC_1 = MacAddress.parse("02:00:00:00:00:01");
    private static final MacAddress MAC_2 = MacAddress.parse("02:00:00:00:00:02");

    static EtcdServers etcd;
    private final EtcdClients clients = new EtcdClients();
    private String prefix;

    @BeforeAll
    static void etcd(EtcdServers servers) {
        etcd = servers;
    }

    @BeforeEach
    void freshPrefix() {
        prefix = clients.freshPrefix("placements");
    }

    @AfterEach
    void closeClients() {
        clients.closeAll();
    }

    /** A registry client: one per "host" of a test. */
    private EtcdNetworkRegistry host() {
        return clients.open(etcd.endpoints());
    }

    private static HostRecord record(String name, String underlay) {
        return new HostRecord(name, Ipv4Address.parse(underlay));
    }

    private static PlacementChange next(BlockingQueue<PlacementChange> seen, PlacementChange.Type type)
            throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < end) {
            PlacementChange c = seen.poll(100, TimeUnit.MILLISECONDS);
            if (c != null && c.type() == type) {
                return c;
            }
        }
        throw new AssertionError("no " + type + " within 15 s");
    }

    @Test
    @Timeout(60)
    void twoHostsSeeEachOthersPlacementsAndAMoveReplacesTheOldPlacementAtOnce() throws Exception {
        EtcdNetworkRegistry a = host();
        EtcdNetworkRegistry b = host();
        a.create("team");
        a.join("team", "alpha");
        b.join("team", "beta");
        HostLease la = a.placements().register(record("node-a", "198.51.100.1"), TTL);
        HostLease lb = b.placements().register(record("node-b", "198.51.100.2"), TTL);
        la.place("team", "alpha", MAC_1);
        lb.place("team", "beta", MAC_2);
        assertThat(b.placements().placements("team")).containsExactly(new Placement("team", "alpha", "node-a", MAC_1),
                new Placement("team", "beta", "node-b", MAC_2));
        assertThat(a.placements().hosts()).containsExactly(record("node-a", "198.51.100.1"),
                record("node-b", "198.51.100.2"));

        lb.place("team", "alpha", MAC_1); // the workspace re-created on node-b
        assertThat(a.placements().placements("team")).containsExactly(new Placement("team", "alpha", "node-b", MAC_1),
                new Placement("team", "beta", "node-b", MAC_2));
        la.unplace("team", "alpha"); // node-a cleaning up after the move: not its placement any more
        assertThat(a.placements().placements("team")).extracting(Placement::host).containsExactly("node-b", "node-b");

        la.close();
        long end = System.nanoTime() + TTL.plusSeconds(2).toNanos();
        while (a.placements().hosts().size() > 1 && System.nanoTime() < end) {
            Thread.sleep(50);
        }
        assertThat(a.placements().hosts()).extracting(HostRecord::name).containsExactly("node-b");
        assertThat(a.placements().placements("team")).as("bound to node-b's lease: node-a's end leaves them")
                .hasSize(2);
        lb.withdraw();
    }

    @Test
    @Timeout(60)
    void aHostThatStopsRenewingVanishesForTheOthersWithinItsTtlAndItsMembersKeepTheirAddresses() throws Exception {
        EtcdNetworkRegistry a = host();
        EtcdNetworkRegistry b = host();
        a.create("team");
        Ipv4Address ip = a.join("team", "alpha");
        BlockingQueue<PlacementChange> seen = new LinkedBlockingQueue<>();
        try (RegistryWatch watch = b.placements().watch(seen::add)) {
            HostLease la = a.placements().register(record("node-a", "198.51.100.1"), TTL);
            la.place("team", "alpha", MAC_1);
            assertThat(next(seen, PlacementChange.Type.PLACED).host()).isEqualTo("node-a");
            long stopped = System.nanoTime();
            la.close(); // as an agent that is killed: no withdrawal
            assertThat(next(seen, PlacementChange.Type.HOST_DOWN).host()).isEqualTo("node-a");
            Duration after = Duration.ofNanos(System.nanoTime() - stopped);
            assertThat(after).as("gone within TTL + 2 s").isLessThan(TTL.plusSeconds(2));
            assertThat(after).as("but not before a renewal's worth of the TTL").isGreaterThan(TTL.dividedBy(2));
            assertThat(b.placements().placements("team")).isEmpty();
            assertThat(b.get("team").member("alpha").orElseThrow().ip()).isEqualTo(ip);
        }
    }

    @Test
    @Timeout(60)
    void aLeaseLostInEtcdIsInvalidTellsThisRegistrysWatchesAndRefusesToPlace() throws Exception {
        EtcdNetworkRegistry a = host();
        a.create("team");
        a.join("team", "alpha");
        a.join("team", "beta");
        BlockingQueue<PlacementChange> seen = new LinkedBlockingQueue<>();
        HostLease la = a.placements().register(record("node-a", "198.51.100.1"), TTL);
        la.place("team", "alpha", MAC_1);
        try (RegistryWatch watch = a.placements().watch(seen::add);
                EtcdKeys keys = new EtcdKeys(etcd.endpoints())) {
            KeyValue hostKey = keys.client().getKVClient().get(EtcdKeys.bytes(prefix + "p/h/node-a"))
                    .get(10, TimeUnit.SECONDS).getKvs().get(0);
            keys.client().getLeaseClient().revoke(hostKey.getLease()).get(10, TimeUnit.SECONDS); // etcd lost it
            // the next renewal (a third of the TTL later at most) finds the lease gone: not the TTL's end
            long end = System.nanoTime() + TTL.dividedBy(3).plusMillis(500).toNanos();
            while (la.isValid() && System.nanoTime() < end) {
                Thread.sleep(20);
            }
            assertThat(la.isValid()).as("invalid within a renewal period").isFalse();
            assertThat(next(seen, PlacementChange.Type.HOST_DOWN).host()).isEqualTo("node-a");
        }
        assertThatThrownBy(() -> la.place("team", "beta", MAC_2)).isInstanceOf(NetworkException.class)
                .hasMessageContaining("node-a").hasMessageContaining("lost").hasMessageContaining("register");
        assertThat(a.placements().placements("team")).isEmpty();
        HostLease again = a.placements().register(record("node-a", "198.51.100.1"), TTL);
        again.place("team", "beta", MAC_2);
        assertThat(a.placements().placements("team")).containsExactly(new Placement("team", "beta", "node-a", MAC_2));
        again.withdraw();
    }

    @Test
    @Timeout(60)
    void aRestartedAgentTakesOverEveryPlacementOfItsHostInBatches() throws Exception {
        EtcdNetworkRegistry first = host();
        first.create("team");
        HostLease old = first.placements().register(record("node-a", "198.51.100.1"), TTL);
        for (int i = 0; i < 70; i++) { // more than one batch of moves
            first.join("team", "w" + i);
            old.place("team", "w" + i, MacAddress.parse(String.format("02:00:00:00:01:%02x", i)));
        }
        old.close(); // the agent stops; a new one starts within the TTL
        HostLease taken = host().placements().register(record("node-a", "198.51.100.1"), TTL);
        Thread.sleep(TTL.plusSeconds(1).toMillis()); // past the old lease's TTL: what stayed on it would be gone
        assertThat(taken.isValid()).isTrue();
        assertThat(first.placements().placements("team")).hasSize(70).extracting(Placement::host).containsOnly("node-a");
        taken.withdraw();
        assertThat(first.placements().placements("team")).isEmpty();
    }

    @Test
    @Timeout(60)
    void placementsAreNoRegistryChangesAndLeaveTheIndexAsItWas() throws Exception {
        EtcdNetworkRegistry a = host();
        a.create("team");
        a.join("team", "alpha");
        dev.tapwire.network.NetworkIndex before = a.readIndex();
        BlockingQueue<dev.tapwire.network.RegistryChange> changes = new LinkedBlockingQueue<>();
        try (RegistryWatch watch = host().watch(changes::add)) {
            HostLease lease = a.placements().register(record("node-a", "198.51.100.1"), TTL);
            lease.place("team", "alpha", MAC_1);
            lease.vni("team");
            lease.withdraw();
            Ipv4Address beta = a.join("team", "beta");
            assertThat(changes.poll(15, TimeUnit.SECONDS)).as("the first change the registry's watch reports")
                    .isEqualTo(new dev.tapwire.network.RegistryChange(dev.tapwire.network.RegistryChange.Type.MEMBER_JOINED,
                            "team", new dev.tapwire.network.Member("beta", beta)));
        }
        a.leave("team", "beta");
        assertThat(a.readIndex()).isEqualTo(before);
    }

    @Test
    @Timeout(120)
    void twoHostsClaimingOneNameAtOnceExactlyOneIsRegisteredTheOtherIsRefused() throws Exception {
        EtcdNetworkRegistry a = host();
        EtcdNetworkRegistry b = host();
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 10; round++) {
                String name = "node-" + round;
                java.util.concurrent.CountDownLatch start = new java.util.concurrent.CountDownLatch(1);
                List<java.util.concurrent.Future<HostLease>> claims = new java.util.ArrayList<>();
                for (EtcdNetworkRegistry client : List.of(a, b)) {
                    String underlay = client == a ? "198.51.100.1" : "198.51.100.2";
                    claims.add(pool.submit(() -> {
                        start.await();
                        try {
                            return client.placements().register(record(name, underlay), TTL);
                        } catch (dev.tapwire.network.HostConflictException e) {
                            assertThat(e.host()).isEqualTo(name);
                            return null;
                        }
                    }));
                }
                start.countDown();
                List<HostLease> won = new java.util.ArrayList<>();
                for (java.util.concurrent.Future<HostLease> f : claims) {
                    if (f.get() != null) {
                        won.add(f.get());
                    }
                }
                assertThat(won).as("round " + round).hasSize(1);
                assertThat(a.placements().hosts()).filteredOn(h -> h.name().equals(name))
                        .containsExactly(won.get(0).host());
                won.get(0).withdraw();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    @Timeout(120)
    void placementsOfANetworkLargerThanOnePageAreReadWholeAtOneRevision() throws Exception {
        EtcdNetworkRegistry a = host();
        List<String> workspaces = new java.util.ArrayList<>();
        for (int i = 0; i < 4500; i++) { // more than two pages of 2,000
            workspaces.add(String.format("w%05d", i));
        }
        HostLease lease;
        try (EtcdKeys keys = new EtcdKeys(etcd.endpoints())) {
            keys.writeNetwork(prefix, "big", "10.60.0.0/18", workspaces);
            lease = a.placements().register(record("node-a", "198.51.100.1"), Duration.ofSeconds(30));
            long id = keys.client().getKVClient().get(EtcdKeys.bytes(prefix + "p/h/node-a")).get(10, TimeUnit.SECONDS)
                    .getKvs().get(0).getLease();
            List<io.etcd.jetcd.op.Op> puts = new java.util.ArrayList<>();
            for (int i = 0; i < workspaces.size(); i++) { // as place() writes them, bound to the host's lease
                puts.add(io.etcd.jetcd.op.Op.put(EtcdKeys.bytes(prefix + "p/m/big/" + workspaces.get(i)),
                        EtcdKeys.bytes(String.format("node-a 02:00:00:00:%02x:%02x", i >> 8, i & 0xff)),
                        io.etcd.jetcd.options.PutOption.builder().withLeaseId(id).build()));
            }
            for (int from = 0; from < puts.size(); from += 100) {
                keys.client().getKVClient().txn().Then(puts.subList(from, Math.min(puts.size(), from + 100))
                        .toArray(io.etcd.jetcd.op.Op[]::new)).commit().get(30, TimeUnit.SECONDS);
            }
        }
        List<Placement> all = a.placements().placements("big");
        assertThat(all).hasSize(4500).extracting(Placement::workspace).isSorted().doesNotHaveDuplicates();
        assertThat(all.get(4499)).isEqualTo(new Placement("big", "w04499", "node-a",
                MacAddress.parse("02:00:00:00:11:93")));
        lease.withdraw();
        assertThat(a.placements().placements("big")).isEmpty();
    }

    @Test
    void theDefaultUnderlayIsTheSourceAddressTowardsTheFirstEndpoint() {
        EtcdNetworkRegistry registry = host();
        URI first = URI.create(etcd.endpoints()[0]);
        assertThat(registry.placements().defaultUnderlayTarget())
                .contains(InetSocketAddress.createUnresolved(first.getHost(), first.getPort()));
        assertThat(ProviderSettings.of(Path.of("/tmp")).withRegistry(registry).underlay())
                .isEqualTo(Ipv4Address.parse("127.0.0.1"));
        assertThat(registry.placements().spansHosts()).isTrue();
    }
}
