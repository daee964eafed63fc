package dev.tapwire.network.registry.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.testkit.EtcdServers;
import dev.tapwire.network.testkit.RealEtcd;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A transaction sent to a member that then freezes (SIGSTOP: a GC pause, a stalled disk) is applied when the member
 * resumes — after its caller saw a timeout and other clients moved on. Such a stale commit must never apply: the
 * registry guards on revisions, which never come back, not on values and absences, which do. One client is pinned
 * to the member the test freezes; the others reach the other two; every anomaly is checked from etcd's own keys.
 */
@RealEtcd(members = 3)
class DelayedCommitTest {

    private static final int ITERATIONS = 15;
    private static final AtomicInteger PREFIXES = new AtomicInteger();

    static EtcdServers etcd;
    private final String prefix = "/delayed-" + PREFIXES.incrementAndGet() + "/";
    private final List<AutoCloseable> opened = new ArrayList<>();

    @BeforeAll
    static void etcd(EtcdServers servers) {
        etcd = servers;
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : opened) {
            c.close();
        }
    }

    private EtcdServers.Member frozen() {
        return etcd.members().get(0);
    }

    /** Set to freeze the member just before the pinned client's next commit is sent. */
    private final AtomicBoolean freezeBeforeCommit = new AtomicBoolean();

    /** A client of the member the test freezes only, giving up quickly. */
    private EtcdNetworkRegistry pinned() {
        return open(EtcdNetworkRegistry.builder(frozen().clientUrl()).prefix(prefix)
                .timeout(Duration.ofMillis(700)).deadline(Duration.ofMillis(700)).beforeCommit(() -> {
                    if (freezeBeforeCommit.getAndSet(false)) {
                        try {
                            frozen().pause(); // after the join's read: the commit itself waits in the frozen member
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    }
                }).build());
    }

    /** A client of the two members that keep running. */
    private EtcdNetworkRegistry others() {
        return open(EtcdNetworkRegistry.builder(etcd.endpoints()[1], etcd.endpoints()[2]).prefix(prefix).build());
    }

    private <T extends AutoCloseable> T open(T closeable) {
        opened.add(closeable);
        return closeable;
    }

    /** Lets the frozen member run again and waits until it has handled what was sent to it meanwhile. */
    private void resumeAndSettle(EtcdKeys keys) throws Exception {
        frozen().resume();
        try (EtcdKeys onFrozen = new EtcdKeys(frozen().clientUrl())) {
            onFrozen.client().getKVClient().get(EtcdKeys.bytes(prefix)).get(20, TimeUnit.SECONDS); // it answers again
        }
        Thread.sleep(300); // the request it held was read before the one just answered; let its commit finish
        keys.client().getKVClient().get(EtcdKeys.bytes(prefix)).get(20, TimeUnit.SECONDS);
    }

    @Test
    @Timeout(120)
    void aLeaveHeldByAFrozenMemberNeverDeletesTheMemberThatJoinedAgain() throws Exception {
        EtcdNetworkRegistry pinned = pinned();
        EtcdNetworkRegistry others = others();
        EtcdKeys keys = open(new EtcdKeys(etcd.endpoints()[1], etcd.endpoints()[2]));
        others.create("dev");
        List<String> anomalies = new ArrayList<>();
        for (int i = 0; i < ITERATIONS; i++) {
            String ws = "w" + i;
            Ipv4Address first = pinned.join("dev", ws); // the pinned client knows the member: its leave is one commit
            frozen().pause();
            assertThatThrownBy(() -> pinned.leave("dev", ws)).isInstanceOf(NetworkException.class);
            others.leave("dev", ws);
            Ipv4Address again = others.join("dev", ws);
            assertThat(again).as("the lowest free address again").isEqualTo(first);
            resumeAndSettle(keys);
            Map<String, String> members = keys.under(prefix, "m/");
            Map<String, String> addresses = keys.under(prefix, "a/");
            if (!(members.size() == 1 && members.get("m/dev/" + ws) != null
                    && members.get("m/dev/" + ws).startsWith(again.toString()) && addresses.size() == 1
                    && addresses.containsValue(ws))) {
                anomalies.add("iteration " + i + ": members " + members + ", addresses " + addresses);
            }
            others.leave("dev", ws);
        }
        assertThat(anomalies).as("stale leaves applied after the re-join").isEmpty();
    }

    @Test
    @Timeout(120)
    void aJoinHeldByAFrozenMemberNeverBringsBackAWorkspaceThatLeft() throws Exception {
        assertStaleJoinsNeverApply(ITERATIONS, (registry, ws) -> registry.join("dev", ws), "stale joins");
    }

    @Test
    @Timeout(120)
    void aJoinRequestingAnAddressHeldByAFrozenMemberNeverBringsBackAWorkspaceThatLeft() throws Exception {
        // the stale commit's member and address keys are absent again after the leave: only revisions tell
        Ipv4Address requested = Ipv4Address.parse("10.44.1.50");
        assertStaleJoinsNeverApply(5, (registry, ws) -> registry.join("dev", ws, requested), "stale requested joins");
    }

    /**
     * A join sent to the pinned member, frozen before its commit, then the same workspace joined and left through
     * the others, then the member resumed: etcd must hold no member and no address afterwards.
     */
    private void assertStaleJoinsNeverApply(int iterations, BiConsumer<EtcdNetworkRegistry, String> join,
            String what) throws Exception {
        EtcdNetworkRegistry pinned = pinned();
        EtcdNetworkRegistry others = others();
        EtcdKeys keys = open(new EtcdKeys(etcd.endpoints()[1], etcd.endpoints()[2]));
        others.create("dev");
        List<String> anomalies = new ArrayList<>();
        for (int i = 0; i < iterations; i++) {
            String ws = "w" + i;
            freezeBeforeCommit.set(true);
            assertThatThrownBy(() -> join.accept(pinned, ws)).isInstanceOf(NetworkException.class);
            join.accept(others, ws);
            others.leave("dev", ws);
            resumeAndSettle(keys);
            Map<String, String> members = keys.under(prefix, "m/");
            Map<String, String> addresses = keys.under(prefix, "a/");
            if (!members.isEmpty() || !addresses.isEmpty()) {
                anomalies.add("iteration " + i + ": members " + members + ", addresses " + addresses);
                others.leave("dev", ws);
            }
        }
        assertThat(anomalies).as(what + " applied after the leave").isEmpty();
    }
}
