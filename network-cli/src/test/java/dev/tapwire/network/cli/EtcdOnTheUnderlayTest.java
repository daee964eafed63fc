package dev.tapwire.network.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.registry.etcd.EtcdNetworkRegistry;
import dev.tapwire.network.testkit.EtcdServers;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.NetworkNamespace;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Hosts as namespaces with a 3-member etcd on their underlay: every host reaches the cluster (its own loopback
 * reaches none of it), and a member SIGKILLed leaves the other two serving.
 */
@IsolatedNetns // the test thread too: a client call from it must not leave by the JVM's own routes
class EtcdOnTheUnderlayTest {

    @Test
    void everyHostReachesTheEtcdClusterOnTheUnderlayAndAMemberKilledChangesNothing() throws Exception {
        HostRequirements.assume(NetworkNamespace.unavailabilityCause());
        EtcdServers.assumeInstalled();
        try (NetworkNamespace.Hosts fleet = NetworkNamespace.Hosts.create(3)) {
            List<String> addresses = List.of(1, 2, 3).stream().map(n -> fleet.underlay(n).toString()).toList();
            try (EtcdServers etcd = EtcdServers.startIn(fleet.hosts(), addresses)) {
                assertThat(etcd.endpoints()).containsExactly("http://198.51.100.11:2379", "http://198.51.100.12:2379",
                        "http://198.51.100.13:2379");
                Ipv4Address joined = fleet.host(1).run(() -> {
                    try (EtcdNetworkRegistry r = EtcdNetworkRegistry.builder(etcd.endpoints()).build()) {
                        r.create("team");
                        return r.join("team", "web");
                    }
                });
                etcd.members().get(0).kill();
                Ipv4Address seen = fleet.host(3).run(() -> {
                    try (EtcdNetworkRegistry r = EtcdNetworkRegistry.builder(etcd.endpoints()).build()) {
                        NetworkRegistry registry = r;
                        return registry.get("team").member("web").orElseThrow().ip();
                    }
                });
                assertThat(seen).isEqualTo(joined);
            }
        }
    }
}
