package dev.tapwire.network.registry.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.NetworkRegistries;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.testkit.EtcdServers;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** etcd registry URIs: every form the README shows opens; what cannot be right is refused; no secret is printed. */
class EtcdUriTest {

    @Test
    void anEtcdHttpsUriFindsTheEtcdFactory() {
        NetworkRegistry registry = NetworkRegistries.open(URI.create("etcd+https://127.0.0.1:2379/fleet/"));
        assertThat(registry).isInstanceOf(EtcdNetworkRegistry.class);
        ((EtcdNetworkRegistry) registry).close();
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "etcd://h1:2379/x/?timeout=bad&password=hunter2&user=u",
        "etcd://h1:2379/x/?colour=blue&user=u&password=hunter2",
        "etcd://h1:2379/x/?subnet-prefix=big&user=u&password=hunter2",
        "etcd://u:hunter2@h1:2379/x/?timeout=-5s",
        "etcd://u:hunter2@h1:2379/x/",
        "etcd+https://u:hunter2@h1:2379/x/?pool=0.0.0.0/0&subnet-prefix=1"})
    void errorsNeverPrintThePassword(String uri) {
        assertThatThrownBy(() -> NetworkRegistries.open(URI.create(uri))).isInstanceOf(InvalidNetworkSpecException.class)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("hunter2").contains("***"));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "etcd://h1:2379/x/?timeout=-5s", "etcd://h1:2379/x/?timeout=0", "etcd://h1:2379/x/?deadline=0s",
        "etcd://h1,/x/", "etcd://h1:99999/x/", "etcd://:2379/x/",
        "etcd://h1:2379/x/?pool=0.0.0.0/0&subnet-prefix=1", "etcd://h1:2379/x/?pool=224.0.0.0/16",
        "etcd://h1:2379/x/?pool=127.0.0.0/16", "etcd://h1:2379/x/?max-txn-ops=0",
        "etcd://u:pw@10.0.0.1:2379/x/", "etcd://10.0.0.1:2379/x/?user=u&password=pw"})
    void whatCannotBeRightIsRefused(String uri) {
        assertThatThrownBy(() -> NetworkRegistries.open(URI.create(uri))).isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("registry URI");
    }

    @Test
    void aPublicPoolIsAcceptedWithAWarningAndADefaultPortIsAdded() {
        try (EtcdNetworkRegistry registry = EtcdNetworkRegistry.fromUri(URI.create("etcd://127.0.0.1/x/?pool=8.8.0.0/16"))) {
            assertThat(registry.endpointsText()).isEqualTo("http://127.0.0.1:2379");
        }
    }

    @Test
    @Timeout(60)
    void userAndPasswordInTheAuthorityAuthenticate() throws Exception {
        try (EtcdServers etcd = EtcdServers.start(1)) {
            try (Client admin = Client.builder().endpoints(etcd.endpoints()).build()) {
                ByteSequence root = ByteSequence.from("root", StandardCharsets.UTF_8);
                admin.getAuthClient().userAdd(root, ByteSequence.from("s3cret", StandardCharsets.UTF_8))
                        .get(5, TimeUnit.SECONDS);
                admin.getAuthClient().roleAdd(root).get(5, TimeUnit.SECONDS);
                admin.getAuthClient().userGrantRole(root, root).get(5, TimeUnit.SECONDS);
                admin.getAuthClient().authEnable().get(5, TimeUnit.SECONDS);
            }
            String hostPort = etcd.endpoints()[0].substring("http://".length());
            try (EtcdNetworkRegistry registry = EtcdNetworkRegistry.fromUri(URI.create("etcd://root:s3cret@" + hostPort
                    + "/auth/"))) {
                registry.create("dev");
                assertThat(registry.list()).hasSize(1);
            }
            try (EtcdNetworkRegistry wrong = EtcdNetworkRegistry.fromUri(URI.create("etcd://root:guess@" + hostPort
                    + "/auth/?timeout=2s&deadline=2s"))) {
                assertThatThrownBy(wrong::list).hasMessageContaining("credentials").hasMessageNotContaining("guess");
            }
        }
    }
}
