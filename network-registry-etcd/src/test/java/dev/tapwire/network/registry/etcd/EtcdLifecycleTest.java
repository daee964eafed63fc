package dev.tapwire.network.registry.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.NetworkException;
import dev.tapwire.network.testkit.EtcdServers;
import dev.tapwire.network.testkit.RealEtcd;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Closing a registry releases everything it started, and a closed registry says so. */
@RealEtcd
class EtcdLifecycleTest {

    private static long watchThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
                .filter(t -> t.getName().startsWith("tapwire-etcd-watch")).count();
    }

    @Test
    @Timeout(60)
    void aRegistryClosedWithItsWatchStillOpenLeavesNoWatchThread(EtcdServers etcd) throws Exception {
        long before = watchThreads();
        for (int i = 0; i < 20; i++) {
            EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix("/lifecycle/").build();
            CountDownLatch delivered = new CountDownLatch(1);
            registry.watch(change -> delivered.countDown()); // never closed by the caller
            registry.create("n" + i);
            assertThat(delivered.await(10, TimeUnit.SECONDS)).as("a change was delivered").isTrue();
            registry.close();
        }
        assertThat(watchThreads()).as("watch threads left after 20 rounds").isEqualTo(before);
    }

    @Test
    void anOperationOnAClosedRegistrySaysItIsClosed(EtcdServers etcd) {
        EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix("/lifecycle/").build();
        registry.close();
        assertThatThrownBy(registry::list).isInstanceOf(NetworkException.class).hasMessageContaining("is closed");
        assertThatThrownBy(() -> registry.join("dev", "w1")).isInstanceOf(NetworkException.class)
                .hasMessageContaining("is closed");
        assertThatThrownBy(() -> registry.watch(change -> { })).isInstanceOf(NetworkException.class)
                .hasMessageContaining("is closed");
    }
}
