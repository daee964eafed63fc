package dev.tapwire.network.registry.etcd;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.testkit.EtcdServers;
import dev.tapwire.network.testkit.RealEtcd;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A join is one round trip to etcd when nothing raced: its candidates come from what the client knows of the
 * network (its own writes and a watch of the registry's keys), guarded by the transaction's compares, so a cache
 * that missed another client's change costs a retry and never a wrong address. Round trips are counted by the
 * server itself (its gRPC metrics for the KV service), so the test sees what went over the wire.
 */
@RealEtcd
class JoinRoundTripTest {

    private static final Pattern KV_CALLS = Pattern.compile(
            "^grpc_server_started_total\\{[^}]*grpc_service=\"etcdserverpb\\.KV\"[^}]*} (\\S+)$", Pattern.MULTILINE);

    static EtcdServers etcd;

    @BeforeAll
    static void etcd(EtcdServers servers) {
        etcd = servers;
    }

    /** Every KV request (Range, Put, DeleteRange, Txn, Compact) the server has received so far. */
    private static long kvCalls() throws IOException {
        try (InputStream in = URI.create(etcd.endpoints()[0] + "/metrics").toURL().openStream()) {
            Matcher m = KV_CALLS.matcher(new String(in.readAllBytes(), StandardCharsets.UTF_8));
            long total = 0;
            while (m.find()) {
                total += (long) Double.parseDouble(m.group(1));
            }
            return total;
        }
    }

    @Test
    @Timeout(60)
    void aJoinAndALeaveAreOneRoundTripEachWhenNothingRaced() throws Exception {
        try (EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix("/rt-a/").build()) {
            registry.create("dev");
            registry.join("dev", "first"); // the first join reads: it primes the cache and starts its watch
            registry.leave("dev", "first");
            long before = kvCalls();
            int pairs = 20;
            for (int i = 0; i < pairs; i++) {
                assertThat(registry.join("dev", "w" + i)).isEqualTo(Ipv4Address.parse("10.44.1.2"));
                registry.leave("dev", "w" + i);
            }
            assertThat(kvCalls() - before).as("KV requests for " + pairs + " joins and leaves").isEqualTo(2L * pairs);
        }
    }

    @Test
    @Timeout(60)
    void anotherClientsLeaveIsSeenThroughTheWatchAndNeverMakesAJoinTakeAWrongAddress() throws Exception {
        try (EtcdNetworkRegistry a = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix("/rt-b/").build();
                EtcdNetworkRegistry b = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix("/rt-b/").build()) {
            a.create("dev");
            List<Ipv4Address> held = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                held.add(a.join("dev", "a" + i)); // 10.44.1.2 .. 10.44.1.9
            }
            // b frees an address a's cache may not have heard of yet: a's next join must take exactly that one
            for (int round = 0; round < 8; round++) {
                int freed = 7 - round;
                b.leave("dev", "a" + freed);
                Ipv4Address again = a.join("dev", "again" + round);
                assertThat(again).as("round " + round + ": the lowest free address").isEqualTo(held.get(freed));
                a.leave("dev", "again" + round);
                a.join("dev", "a" + freed);
            }
            // once its watch has told a client of another client's leave, that client's join needs no read. A
            // client whose cached join lost a race reads first for its next joins: each try is a fresh client
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            long calls;
            Ipv4Address taken;
            do {
                try (EtcdNetworkRegistry c = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix("/rt-b/").build()) {
                    c.join("dev", "probe"); // reads: primes c's cache and starts its watch
                    c.leave("dev", "probe");
                    b.join("dev", "other");
                    b.leave("dev", "other"); // rewrites the hint: c's cache is stale until its watch tells it
                    Thread.sleep(100);
                    long before = kvCalls();
                    taken = c.join("dev", "late");
                    calls = kvCalls() - before;
                    c.leave("dev", "late");
                }
            } while (calls != 1 && System.nanoTime() < deadline);
            assertThat(calls).as("KV requests of a join after the watch saw another client's leave").isEqualTo(1);
            assertThat(taken).as("the lowest free address").isEqualTo(Ipv4Address.parse("10.44.1.10"));
            Map<String, Ipv4Address> members = new java.util.HashMap<>();
            a.get("dev").members().forEach(m -> members.put(m.workspace(), m.ip()));
            Set<Ipv4Address> distinct = new HashSet<>(members.values());
            assertThat(distinct).as("no address twice: " + members).hasSameSizeAs(members.values());
        }
    }
}
