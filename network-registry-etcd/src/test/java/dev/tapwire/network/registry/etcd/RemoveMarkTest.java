package dev.tapwire.network.registry.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkInUseException;
import dev.tapwire.network.testkit.EtcdServers;
import dev.tapwire.network.testkit.RealEtcd;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A remove that fails, or whose client dies half-way, never makes an existing network unjoinable. */
@RealEtcd
class RemoveMarkTest {

    static EtcdServers etcd;
    private static final AtomicInteger PREFIXES = new AtomicInteger();
    private final String prefix = "/remove-" + PREFIXES.incrementAndGet() + "/";

    @BeforeAll
    static void etcd(EtcdServers servers) {
        etcd = servers;
    }

    @Test
    @Timeout(60)
    void joinsOfABusyNetworkNeverFailWhileRemovesOfItKeepFailing() throws Exception {
        try (EtcdNetworkRegistry remover = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix(prefix).build();
                EtcdNetworkRegistry joiner = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix(prefix).build()) {
            remover.create("busy", dev.tapwire.network.Ipv4Subnet.parse("10.44.0.0/18")); // room for every join
            joiner.join("busy", "first");
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger refused = new AtomicInteger();
            Thread removes = new Thread(() -> {
                while (!stop.get()) {
                    try {
                        remover.remove("busy", false);
                    } catch (NetworkInUseException expected) {
                        refused.incrementAndGet();
                    }
                }
            });
            removes.start();
            List<String> failed = new CopyOnWriteArrayList<>();
            int joins = 0;
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            for (int i = 0; System.nanoTime() < end; i++, joins++) {
                try {
                    joiner.join("busy", "w" + i);
                } catch (NetworkException e) {
                    failed.add(e.getMessage());
                }
            }
            stop.set(true);
            removes.join();
            assertThat(refused.get()).as("removes refused meanwhile").isPositive();
            assertThat(joins).isPositive();
            assertThat(failed).as("joins that failed beside the failing removes").isEmpty();
            assertThat(remover.get("busy").members()).hasSize(joins + 1);
        }
    }

    @Test
    @Timeout(60)
    void aRemoveWhoseClientHangsAfterMarkingLeavesTheNetworkJoinableOnceItsLeaseExpires() throws Exception {
        CountDownLatch marked = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger commits = new AtomicInteger();
        try (EtcdNetworkRegistry setup = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix(prefix).build();
                EtcdNetworkRegistry hanging = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix(prefix)
                        .timeout(Duration.ofSeconds(2)).deadline(Duration.ofSeconds(30)).beforeCommit(() -> {
                            if (commits.incrementAndGet() == 2) { // the mark is made: hang before the delete
                                marked.countDown();
                                try {
                                    release.await();
                                } catch (InterruptedException e) {
                                    Thread.currentThread().interrupt();
                                }
                            }
                        }).build();
                EtcdNetworkRegistry joiner = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix(prefix)
                        .timeout(Duration.ofSeconds(2)).deadline(Duration.ofSeconds(10)).build()) {
            setup.create("quiet");
            CompletableFuture<Void> remove = CompletableFuture.runAsync(() -> hanging.remove("quiet", false));
            assertThat(marked.await(10, TimeUnit.SECONDS)).as("the remove marked the network").isTrue();
            Ipv4Address ip = joiner.join("quiet", "w1"); // waits out the mark's lease (2 s), does not fail
            assertThat(ip).isEqualTo(Ipv4Address.parse("10.44.1.2"));
            release.countDown();
            assertThatThrownBy(remove::join).as("the remove, released, finds the member that joined meanwhile")
                    .hasCauseInstanceOf(NetworkInUseException.class);
            assertThat(setup.get("quiet").workspaces()).containsExactly("w1");
        }
    }
}
