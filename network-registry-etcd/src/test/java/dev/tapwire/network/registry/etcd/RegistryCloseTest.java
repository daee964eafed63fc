package dev.tapwire.network.registry.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.HostLease;
import dev.tapwire.network.HostRecord;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkRegistries;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.PlacementChange;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.testkit.EtcdServers;
import dev.tapwire.network.testkit.RealEtcd;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A registry opened by URI is AutoCloseable, and closing it releases its client, its watches and its leases. */
@RealEtcd
class RegistryCloseTest {

    @Test
    @Timeout(60)
    void closingARegistryOpenedByUriEndsItsClientItsPlacementWatchesAndTheRenewalOfItsLeases(EtcdServers etcd)
            throws Exception {
        URI uri = URI.create("etcd://" + URI.create(etcd.endpoints()[0]).getAuthority() + "/close-test/");
        BlockingQueue<PlacementChange> seen = new LinkedBlockingQueue<>();
        NetworkRegistry kept;
        HostLease lease;
        RegistryWatch watch;
        try (NetworkRegistry registry = NetworkRegistries.open(uri)) {
            kept = registry;
            registry.create("team");
            lease = registry.placements().register(new HostRecord("node-1", Ipv4Address.parse("127.0.0.1")),
                    Duration.ofSeconds(2));
            watch = registry.placements().watch(seen::add);
            assertThat(seen.poll(15, TimeUnit.SECONDS)).isEqualTo(PlacementChange.resync());
        }
        assertThatThrownBy(kept::list).isInstanceOf(NetworkException.class).hasMessageContaining("closed");
        assertThatThrownBy(() -> kept.placements().hosts()).isInstanceOf(NetworkException.class)
                .hasMessageContaining("closed");
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
        while (lease.isValid() && System.nanoTime() < end) {
            Thread.sleep(50);
        }
        assertThat(lease.isValid()).as("no longer renewed once the registry is closed").isFalse();
        try (NetworkRegistry other = NetworkRegistries.open(uri)) {
            seen.clear();
            other.placements().register(new HostRecord("node-2", Ipv4Address.parse("127.0.0.2")), Duration.ofSeconds(2))
                    .withdraw();
            assertThat(seen.poll(1, TimeUnit.SECONDS)).as("the closed registry's watch delivers nothing").isNull();
        }
        watch.close();
    }
}
