package dev.tapwire.network.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** {@link RealEtcd}: one cluster per class, of the size asked, shared with nested classes, healthy. */
@RealEtcd(members = 3)
class RealEtcdExtensionTest {

    static EtcdServers started;

    @BeforeAll
    static void servers(EtcdServers etcd) {
        started = etcd;
    }

    @Test
    void theClassGetsAHealthyClusterOfTheSizeAsked(EtcdServers etcd) throws Exception {
        assertThat(etcd).isSameAs(started);
        assertThat(etcd.members()).hasSize(3);
        assertThat(etcd.endpoints()).hasSize(3).allSatisfy(e -> assertThat(e).startsWith("http://127.0.0.1:"));
        for (EtcdServers.Member m : etcd.members()) {
            etcd.awaitHealthy(m);
        }
    }

    @Nested
    class Nested1 {
        @Test
        void nestedClassesShareTheSameServers(EtcdServers etcd) {
            assertThat(etcd).isSameAs(started);
        }
    }
}
