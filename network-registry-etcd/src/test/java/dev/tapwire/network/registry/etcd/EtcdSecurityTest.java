package dev.tapwire.network.registry.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.testkit.EtcdServers;
import dev.tapwire.network.testkit.HostRequirements;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** TLS with client certificates the test makes, and user/password authentication: right works, wrong fails clearly. */
class EtcdSecurityTest {

    @TempDir
    Path certs;

    private void openssl(String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of("openssl"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).directory(certs.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as("openssl %s: %s", String.join(" ", args), out).isZero();
    }

    /** A CA, a server certificate for 127.0.0.1 and a client certificate, each signed by the CA. */
    private void makeCertificates(String ca, String... leaves) throws Exception {
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=" + ca,
                "-keyout", ca + ".key", "-out", ca + ".crt");
        for (String leaf : leaves) {
            openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + leaf, "-keyout", leaf + ".key",
                    "-out", leaf + ".csr");
            Files.writeString(certs.resolve(leaf + ".ext"), "subjectAltName=IP:127.0.0.1\\n"
                    + "extendedKeyUsage=serverAuth,clientAuth\\n");
            openssl("x509", "-req", "-in", leaf + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
                    "-CAcreateserial", "-days", "2", "-out", leaf + ".crt", "-extfile", leaf + ".ext");
        }
    }

    private EtcdNetworkRegistry tlsClient(EtcdServers etcd, String endpoint, String clientName) {
        return tlsClient(endpoint, "ca", clientName);
    }

    private EtcdNetworkRegistry tlsClient(String endpoint, String trusted, String clientName) {
        File ca = certs.resolve(trusted + ".crt").toFile();
        return EtcdNetworkRegistry.builder(endpoint).timeout(Duration.ofSeconds(3)).maxAttempts(2).client(b -> {
            try {
                b.sslContext(ssl -> {
                    ssl.trustManager(ca);
                    if (clientName != null) {
                        ssl.keyManager(certs.resolve(clientName + ".crt").toFile(),
                                certs.resolve(clientName + ".key").toFile());
                    }
                });
            } catch (javax.net.ssl.SSLException e) {
                throw new IllegalStateException(e);
            }
        }).build();
    }

    @Test
    @Timeout(120)
    void aTlsOnlyEtcdServesAClientWithItsCertificateAndRefusesOthersClearly() throws Exception {
        EtcdServers.assumeInstalled();
        HostRequirements.assume(Files.isExecutable(Path.of("/usr/bin/openssl")),
                "needs openssl (Debian package openssl) to make the certificates");
        makeCertificates("ca", "server", "client");
        makeCertificates("rogue-ca", "rogue");
        try (EtcdServers etcd = EtcdServers.startWithTls(certs.resolve("server.crt"), certs.resolve("server.key"),
                certs.resolve("ca.crt"))) {
            String endpoint = etcd.endpoints()[0];
            assertThat(endpoint).startsWith("https://");
            try (EtcdNetworkRegistry registry = tlsClient(etcd, endpoint, "client")) {
                registry.create("dev");
                assertThat(registry.join("dev", "w1")).isEqualTo(Ipv4Address.parse("10.44.1.2"));
            }
            try (EtcdNetworkRegistry noCertificate = tlsClient(etcd, endpoint, null)) {
                assertThatThrownBy(noCertificate::list).isInstanceOf(NetworkException.class).hasMessageContaining(endpoint)
                        .hasMessageContaining("refused this client's certificate");
            }
            try (EtcdNetworkRegistry wrongCertificate = tlsClient(etcd, endpoint, "rogue")) {
                assertThatThrownBy(wrongCertificate::list).isInstanceOf(NetworkException.class)
                        .hasMessageContaining(endpoint).hasMessageContaining("refused this client's certificate");
            }
            try (EtcdNetworkRegistry untrusting = tlsClient(endpoint, "rogue-ca", "client")) {
                assertThatThrownBy(untrusting::list).isInstanceOf(NetworkException.class)
                        .hasMessageContaining("not signed by a CA this client trusts");
            }
            String byName = endpoint.replace("127.0.0.1", "localhost");
            try (EtcdNetworkRegistry wrongName = tlsClient(byName, "ca", "client")) {
                assertThatThrownBy(wrongName::list).isInstanceOf(NetworkException.class)
                        .hasMessageContaining("not valid for the host name");
            }
            String plaintext = endpoint.replace("https://", "http://");
            try (EtcdNetworkRegistry plain = EtcdNetworkRegistry.builder(plaintext).timeout(Duration.ofSeconds(3))
                    .maxAttempts(2).build()) {
                assertThatThrownBy(plain::list).as("never a silent fallback to plaintext")
                        .isInstanceOf(NetworkException.class).hasMessageContaining(plaintext)
                        .hasMessageContaining("the server speaks TLS");
            }
        }
        try (EtcdServers plainEtcd = EtcdServers.start(1);
                EtcdNetworkRegistry tlsToPlain = tlsClient(plainEtcd.endpoints()[0].replace("http://", "https://"),
                        "ca", "client")) {
            assertThatThrownBy(tlsToPlain::list).isInstanceOf(NetworkException.class)
                    .hasMessageContaining("does not speak TLS");
        }
    }

    @Test
    @Timeout(120)
    void withAuthenticationTheRightPasswordWorksAndAWrongOneIsAClearError() throws Exception {
        try (EtcdServers etcd = EtcdServers.start(1)) {
            try (Client admin = Client.builder().endpoints(etcd.endpoints()).build()) {
                ByteSequence root = ByteSequence.from("root", StandardCharsets.UTF_8);
                admin.getAuthClient().userAdd(root, ByteSequence.from("s3cret", StandardCharsets.UTF_8))
                        .get(5, TimeUnit.SECONDS);
                admin.getAuthClient().roleAdd(root).get(5, TimeUnit.SECONDS);
                admin.getAuthClient().userGrantRole(root, root).get(5, TimeUnit.SECONDS);
                admin.getAuthClient().authEnable().get(5, TimeUnit.SECONDS);
            }
            try (EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(etcd.endpoints())
                    .credentials("root", "s3cret").build()) {
                registry.create("dev");
                assertThat(registry.list()).hasSize(1);
            }
            try (EtcdNetworkRegistry wrong = EtcdNetworkRegistry.builder(etcd.endpoints())
                    .credentials("root", "guess").timeout(Duration.ofSeconds(3)).maxAttempts(2).build()) {
                assertThatThrownBy(wrong::list).isInstanceOf(NetworkException.class)
                        .hasMessageContaining("credentials");
            }
            try (EtcdNetworkRegistry anonymous = EtcdNetworkRegistry.builder(etcd.endpoints())
                    .timeout(Duration.ofSeconds(3)).maxAttempts(2).build()) {
                assertThatThrownBy(anonymous::list).isInstanceOf(NetworkException.class)
                        .hasMessageContaining("credentials");
            }
        }
    }
}
