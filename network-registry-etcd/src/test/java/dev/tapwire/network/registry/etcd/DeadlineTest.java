package dev.tapwire.network.registry.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.testkit.EtcdServers;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** One deadline per operation, whatever fails: quorum lost, a member frozen; and reads fail over like writes. */
class DeadlineTest {

    @Test
    @Timeout(120)
    void withQuorumLostEveryOperationFailsWithinItsDeadline() throws Exception {
        try (EtcdServers etcd = EtcdServers.start(3);
                EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix("/quorum/")
                        .timeout(Duration.ofSeconds(1)).deadline(Duration.ofSeconds(3)).build()) {
            registry.create("dev");
            registry.join("dev", "w1");
            etcd.members().get(1).kill();
            etcd.members().get(2).kill();
            Map<String, Consumer<NetworkRegistry>> operations = new LinkedHashMap<>();
            operations.put("join", r -> r.join("dev", "w2"));
            operations.put("leave", r -> r.leave("dev", "w1"));
            operations.put("create", r -> r.create("other"));
            operations.put("remove", r -> r.remove("dev", true));
            operations.put("list", NetworkRegistry::list);
            operations.put("find", r -> r.find("dev"));
            operations.put("watch", r -> r.watch(change -> { }).close());
            Map<String, Long> took = new LinkedHashMap<>();
            for (Map.Entry<String, Consumer<NetworkRegistry>> op : operations.entrySet()) {
                long start = System.nanoTime();
                assertThatThrownBy(() -> op.getValue().accept(registry)).as(op.getKey())
                        .isInstanceOf(NetworkException.class).hasMessageContaining("deadline of 3000 ms");
                took.put(op.getKey(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
            }
            System.out.println("without quorum, deadline 3000 ms, each operation failed after (ms): " + took);
            assertThat(took.values()).as("milliseconds each operation took").allMatch(ms -> ms < 4500);
        }
    }

    @Test
    @Timeout(120)
    void readsFailOverWhenAMemberIsFrozenAndQuorumHolds() throws Exception {
        try (EtcdServers etcd = EtcdServers.start(3);
                EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix("/reads/")
                        .timeout(Duration.ofSeconds(1)).build()) {
            registry.create("dev");
            registry.join("dev", "w1");
            etcd.members().get(0).pause();
            try {
                for (int i = 0; i < 9; i++) {
                    assertThat(registry.find("dev")).as("find %d", i).isPresent();
                    assertThat(registry.list()).as("list %d", i).hasSize(1);
                    assertThat(registry.readIndex().networks()).as("readIndex %d", i).hasSize(1);
                }
            } finally {
                etcd.members().get(0).resume();
            }
        }
    }
}
