package dev.tapwire.network.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.registry.FileNetworkRegistry;
import dev.tapwire.network.registry.etcd.EtcdNetworkRegistry;
import dev.tapwire.network.testkit.EtcdServers;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An index moves between the file registry and etcd unchanged, through the library and through the CLI. */
class EtcdInteropTest {

    @TempDir
    Path state;

    @Test
    void anIndexMovesFromTheFileRegistryToEtcdAndBackByteForByte() throws Exception {
        byte[] reference;
        try (InputStream in = getClass().getResourceAsStream("/reference-index.json")) {
            reference = in.readAllBytes();
        }
        FileNetworkRegistry file = FileNetworkRegistry.open(state);
        file.writeIndex(FileNetworkRegistry.parseIndex(reference, Path.of("reference-index.json")));
        file.create("more");
        for (int i = 0; i < 20; i++) {
            file.join("more", "w" + (19 - i)); // join order is not name order
        }
        byte[] fromFile = FileNetworkRegistry.formatIndex(file.readIndex());
        try (EtcdServers etcd = EtcdServers.start(1);
                EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(etcd.endpoints()).build()) {
            registry.writeIndex(file.readIndex());
            assertThat(new String(FileNetworkRegistry.formatIndex(registry.readIndex()))).isEqualTo(new String(fromFile));
            registry.writeIndex(FileNetworkRegistry.parseIndex(reference, Path.of("reference-index.json")));
            assertThat(FileNetworkRegistry.formatIndex(registry.readIndex())).isEqualTo(reference);
        }
    }

    @Test
    void theCliExportsFromOneStoreAndImportsIntoAnother() throws Exception {
        CliRunner cli = new CliRunner(state);
        cli.run("network", "create", "dev");
        cli.run("network", "join", "dev", "w2");
        cli.run("network", "join", "dev", "w1");
        Path exported = Files.writeString(state.resolve("index.json"), cli.run("network", "export").out());
        try (EtcdServers etcd = EtcdServers.start(1)) {
            String uri = "etcd://" + etcd.endpoints()[0].substring("http://".length()) + "/fleet/";
            CliRunner.Result imported = cli.run("--registry", uri, "network", "import", exported.toString());
            assertThat(imported.status()).as(imported.err()).isZero();
            CliRunner.Result back = cli.run("--registry", uri, "network", "export");
            assertThat(back.out()).isEqualTo(Files.readString(exported));
            assertThat(cli.run("--registry", uri, "network", "join", "dev", "w3").out().strip()).isEqualTo("10.44.1.4");
        }
    }

    @Test
    void theCliTakesAnEtcdHttpsUriAndNamesWhatTlsRefused() throws Exception {
        try (EtcdServers etcd = EtcdServers.start(1)) {
            String plain = etcd.endpoints()[0].substring("http://".length());
            CliRunner.Result result = new CliRunner(state).run("--registry", "etcd+https://" + plain
                    + "/fleet/?timeout=3s&deadline=6s", "network", "ls");
            assertThat(result.status()).isNotZero();
            assertThat(result.err()).doesNotContain("schemes found").contains("TLS");
            CliRunner.Result secret = new CliRunner(state).run("--registry", "etcd://" + plain
                    + "/fleet/?timeout=-1s&user=u&password=hunter2", "network", "ls");
            assertThat(secret.status()).isNotZero();
            assertThat(secret.err()).contains("timeout").doesNotContain("hunter2");
        }
    }
}
