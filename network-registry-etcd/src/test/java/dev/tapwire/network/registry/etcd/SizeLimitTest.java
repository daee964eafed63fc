package dev.tapwire.network.registry.etcd;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.testkit.EtcdServers;
import dev.tapwire.network.testkit.RealEtcd;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Reads that would not fit one reply: a network of 6,000 members and 300 more networks, read by a client whose
 * largest message is 256 KiB (the same limit as gRPC's 4 MiB at about 100,000 members, at a scale that runs in
 * seconds). Every read is paged and reads only what it needs.
 */
@RealEtcd
class SizeLimitTest {

    private static final String PREFIX = "/size/";

    @Test
    @Timeout(120)
    void everyOperationWorksWhenTheRegistryIsLargerThanOneReply(EtcdServers etcd) throws Exception {
        List<String> workspaces = new ArrayList<>();
        for (int i = 0; i < 6000; i++) {
            workspaces.add("workspace-with-a-longish-name-" + i);
        }
        try (EtcdKeys keys = new EtcdKeys(etcd.endpoints())) {
            keys.writeNetwork(PREFIX, "big", "10.60.0.0/16", workspaces);
            for (int n = 0; n < 300; n++) {
                keys.writeNetwork(PREFIX, "small-" + n, "10." + (80 + n / 256) + "." + n % 256 + ".0/24",
                        List.of("roamer"));
            }
        }
        try (EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix(PREFIX)
                .client(b -> b.maxInboundMessageSize(256 * 1024)).build()) {
            assertThat(registry.readIndex().networks()).hasSize(301);
            assertThat(registry.list()).hasSize(301);
            NetworkRecord big = registry.get("big");
            assertThat(big.members()).hasSize(6000);
            assertThat(registry.join("big", "newcomer")).isEqualTo(Ipv4Address.parse("10.60.0.2").plus(6000));
            registry.leave("big", workspaces.get(10));
            assertThat(registry.join("big", "second")).isEqualTo(Ipv4Address.parse("10.60.0.12"));
            registry.leaveAll("roamer");
            assertThat(registry.list().stream().filter(n -> n.member("roamer").isPresent())).isEmpty();
        }
    }
}
