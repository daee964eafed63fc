package dev.tapwire.network.registry.etcd;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.HostLease;
import dev.tapwire.network.HostRecord;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.Placement;
import dev.tapwire.network.testkit.EtcdServers;
import dev.tapwire.network.testkit.RealEtcd;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A host's lease on a 3-member cluster outlives a member's crash: no other host ever sees it go. */
@RealEtcd(members = 3)
class EtcdPlacementClusterTest {

    private static final Duration TTL = Duration.ofSeconds(3);
    private final EtcdClients clients = new EtcdClients();

    @AfterEach
    void closeClients() {
        clients.closeAll();
    }

    @Test
    @Timeout(120)
    void aLeaseAndItsPlacementsLiveThroughAMemberSigkilledAndRestarted(EtcdServers etcd) throws Exception {
        clients.freshPrefix("placement-cluster");
        EtcdNetworkRegistry agent = clients.open(etcd.endpoints());
        EtcdNetworkRegistry other = clients.open(etcd.endpoints());
        agent.create("team");
        agent.join("team", "alpha");
        HostLease lease = agent.placements().register(new HostRecord("node-a", Ipv4Address.parse("198.51.100.1")), TTL);
        Placement placed = new Placement("team", "alpha", "node-a", MacAddress.parse("02:00:00:00:00:01"));
        lease.place("team", "alpha", placed.mac());
        for (EtcdServers.Member member : etcd.members().subList(0, 2)) {
            member.kill();
            long end = System.nanoTime() + TTL.multipliedBy(2).toNanos();
            while (System.nanoTime() < end) { // two TTLs with one member down: renewals go to the others
                assertThat(lease.isValid()).as("lease valid with " + member.name() + " down").isTrue();
                assertThat(other.placements().placements("team")).as("seen from another host").containsExactly(placed);
                Thread.sleep(200);
            }
            member.restart();
        }
        lease.withdraw();
    }
}
