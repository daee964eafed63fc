package dev.tapwire.network.registry.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NetworkAlreadyExistsException;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.testkit.EtcdServers;
import dev.tapwire.network.testkit.RealEtcd;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.options.GetOption;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A transaction that commits but whose reply is lost (jetcd does not retry writes) — through a seam that drops the
 * reply, and through a TCP proxy that cuts the connection after the commit: the operation must neither
 * leak an address nor hand out a second one, nor fail an operation that took effect.
 */
@RealEtcd
class LostReplyTest {

    static EtcdServers etcd;
    private static final AtomicInteger PREFIXES = new AtomicInteger();

    @BeforeAll
    static void etcd(EtcdServers servers) {
        etcd = servers;
    }

    /** Lets the next {@code count} commits reach etcd, then answers them as a dropped connection would. */
    private static final class ReplyLoss {
        final AtomicInteger toLose = new AtomicInteger();

        CompletableFuture<TxnResponse> apply(CompletableFuture<TxnResponse> reply) {
            if (toLose.getAndUpdate(n -> Math.max(0, n - 1)) == 0) {
                return reply;
            }
            CompletableFuture<TxnResponse> lost = new CompletableFuture<>();
            reply.whenComplete((r, e) -> lost.completeExceptionally(
                    new RuntimeException("UNAVAILABLE: io exception (the reply was lost after the commit)")));
            return lost;
        }
    }

    private final ReplyLoss loss = new ReplyLoss();
    private final String prefix = "/lost-" + PREFIXES.incrementAndGet() + "/";

    private EtcdNetworkRegistry registry() {
        return EtcdNetworkRegistry.builder(etcd.endpoints()).prefix(prefix).interceptReplies(loss::apply).build();
    }

    private long keys(String under) throws Exception {
        try (Client client = Client.builder().endpoints(etcd.endpoints()).build()) {
            return client.getKVClient().get(ByteSequence.from(prefix + under, StandardCharsets.UTF_8),
                    GetOption.builder().isPrefix(true).withCountOnly(true).build()).get(5, TimeUnit.SECONDS).getCount();
        }
    }

    @Test
    void aJoinWhoseReplyIsLostReturnsTheAddressItTookAndLeaksNone() throws Exception {
        try (EtcdNetworkRegistry registry = registry()) {
            registry.create("dev");
            loss.toLose.set(1);
            Ipv4Address ip = registry.join("dev", "w1");
            assertThat(ip).isEqualTo(Ipv4Address.parse("10.44.1.2"));
            assertThat(registry.get("dev").members()).hasSize(1);
            assertThat(keys("a/dev/")).as("address keys").isEqualTo(1);
            assertThat(registry.join("dev", "w2")).isEqualTo(Ipv4Address.parse("10.44.1.3"));
        }
    }

    @Test
    void aCreateRemoveAndLeaveWhoseRepliesAreLostSucceed() throws Exception {
        try (EtcdNetworkRegistry registry = registry()) {
            loss.toLose.set(1);
            NetworkRecord dev = registry.create("dev");
            assertThat(registry.get("dev")).isEqualTo(dev);

            registry.join("dev", "w1");
            loss.toLose.set(1);
            registry.leave("dev", "w1");
            assertThat(registry.get("dev").members()).isEmpty();
            assertThat(keys("a/dev/")).isZero();

            loss.toLose.set(5); // the mark and the delete of a remove, and more
            registry.remove("dev", false);
            assertThat(registry.find("dev")).isEmpty();
            assertThat(keys("")).as("only the version counter is left").isEqualTo(1);
        }
    }

    @Test
    void aJoinWhoseConnectionIsCutAfterTheCommitReturnsTheAddressItTook() throws Exception {
        int port = Integer.parseInt(etcd.endpoints()[0].substring(etcd.endpoints()[0].lastIndexOf(':') + 1));
        try (CuttingProxy proxy = new CuttingProxy(port)) {
            AtomicInteger commits = new AtomicInteger();
            try (EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(proxy.endpoint()).prefix(prefix)
                    .timeout(java.time.Duration.ofSeconds(3)).beforeCommit(() -> {
                        if (commits.incrementAndGet() == 2) { // the create's commit passes, the join's is cut
                            proxy.arm();
                        }
                    }).build()) {
                registry.create("dev");
                Ipv4Address ip = registry.join("dev", "w1");
                assertThat(proxy.cuts).as("the connection was cut after the commit").hasValue(1);
                assertThat(ip).isEqualTo(Ipv4Address.parse("10.44.1.2"));
                assertThat(keys("m/dev/")).isEqualTo(1);
                assertThat(keys("a/dev/")).as("no address leaked").isEqualTo(1);
                assertThat(registry.join("dev", "w2")).isEqualTo(Ipv4Address.parse("10.44.1.3"));
            }
        }
    }

    @Test
    void aJoinWhoseReplyIsLostAndWhoseRetriesRunOutSaysTheOutcomeIsUnknownAndARetryReturnsTheAddressItTook()
            throws Exception {
        EtcdServers.Member member = etcd.members().get(0);
        java.util.concurrent.atomic.AtomicBoolean freeze = new java.util.concurrent.atomic.AtomicBoolean();
        try (EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix(prefix)
                .timeout(java.time.Duration.ofMillis(500)).deadline(java.time.Duration.ofSeconds(2))
                .interceptReplies(reply -> {
                    if (!freeze.getAndSet(false)) {
                        return reply;
                    }
                    CompletableFuture<TxnResponse> lost = new CompletableFuture<>();
                    reply.whenComplete((r, e) -> { // committed; then etcd stops answering until the deadline
                        try {
                            member.pause();
                        } catch (Exception pauseFailed) {
                            lost.completeExceptionally(pauseFailed);
                        }
                        lost.completeExceptionally(new RuntimeException("UNAVAILABLE: io exception (reply lost)"));
                    });
                    return lost;
                }).build()) {
            registry.create("dev");
            freeze.set(true);
            try {
                assertThatThrownBy(() -> registry.join("dev", "w1")).isInstanceOf(NetworkException.class)
                        .hasMessageContaining("outcome is unknown")
                        .hasMessageContaining("a join returns the address it took");
            } finally {
                member.resume();
            }
            assertThat(keys("m/dev/")).as("etcd holds the member").isEqualTo(1);
            assertThat(registry.join("dev", "w1")).isEqualTo(Ipv4Address.parse("10.44.1.2"));
            assertThat(keys("a/dev/")).isEqualTo(1);
        }
    }

    @Test
    void twoCreatesOfOneNameInOneSecondOneOfWhoseRepliesIsLostDoNotBothSucceed() throws Exception {
        java.time.Clock second = java.time.Clock.fixed(java.time.Instant.parse("2026-01-02T03:04:05Z"),
                java.time.ZoneOffset.UTC);
        AtomicInteger commits = new AtomicInteger();
        try (EtcdNetworkRegistry first = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix(prefix).clock(second)
                        .build();
                EtcdNetworkRegistry late = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix(prefix).clock(second)
                        .interceptReplies(loss::apply).beforeCommit(() -> {
                            if (commits.incrementAndGet() == 1) {
                                first.create("dev"); // commits between the late create's read and its commit
                            }
                        }).build()) {
            loss.toLose.set(1); // the late create's commit (which fails: dev exists now) loses its reply
            assertThatThrownBy(() -> late.create("dev")).isInstanceOf(NetworkAlreadyExistsException.class);
            assertThat(first.get("dev").createdAt()).isEqualTo(java.time.Instant.parse("2026-01-02T03:04:05Z"));
        }
    }
}
