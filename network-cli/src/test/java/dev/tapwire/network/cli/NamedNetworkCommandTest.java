package dev.tapwire.network.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.bridge.NetworkRealizer;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.registry.FileNetworkRegistry;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code network up/down/hosts/inspect} and {@code tap create --network}, each test in its own namespace. */
@IsolatedNetns
class NamedNetworkCommandTest {

    @TempDir
    Path state;

    CliRunner cli;
    final ObjectMapper json = new ObjectMapper();

    @BeforeEach
    void setUp() throws Exception {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        cli = new CliRunner(state); // state is JUnit's @TempDir, mode 0700: realizable as it is
        assertThat(cli.run("network", "create", "team", "--subnet", "10.90.0.0/24").status()).isZero();
    }

    @AfterEach
    void tearDown() {
        cli.run("tap", "rm", "vm-1", "vm-2");
        cli.run("network", "down", "team");
    }

    @Test
    void aVmOnANamedNetworkGetsItsAddressAndTheNetworkServesItsName() throws Exception {
        CliRunner.Result up = cli.run("network", "up", "team", "--nat");
        assertThat(up.status()).as(up.err()).isZero();
        assertThat(up.out()).isEqualTo("network team is up on bridge tw-team (gateway 10.90.0.1/24, nat on, port"
                + " security on)\n");

        CliRunner.Result created = cli.run("tap", "create", "vm-1", "--network", "team", "--workspace", "web",
                "--single-queue");
        assertThat(created.status()).as(created.err()).isZero();
        List<NicConfig> nics = json.readValue(created.out(), new TypeReference<>() { });
        assertThat(nics).hasSize(1);
        assertThat(nics.get(0).bridgeDev()).isEqualTo("tw-team");
        assertThat(nics.get(0).network().ip()).hasToString("10.90.0.2");
        assertThat(created.out()).contains("\"network\":{\"ip\":\"10.90.0.2\",\"gateway\":\"10.90.0.1\",\"prefix\":24}");

        assertThat(cli.run("network", "hosts", "team").out()).isEqualTo("10.90.0.2 web.team web\n");
        assertThat(cli.run("network", "inspect", "team").out()).contains("web.team")
                .containsPattern("realized: bridge tw-team \\(up\\), dnsmasq pid \\d+, nat on");
        assertThat(cli.run("--json", "network", "inspect", "team").out()).startsWith("{\"name\":\"team\"")
                .contains("\"realized\":{\"bridge\":\"tw-team\",\"bridge_up\":true,\"nat\":true");
        assertThat(cli.run("tap", "verify", "vm-1").status()).isZero();

        // a registry command syncs the realized network: the member is gone from dnsmasq's data at once
        assertThat(cli.run("network", "leave", "team", "web").status()).isZero();
        try (var served = Files.list(NetworkRealizer.runtimeDir(state).resolve("team/hosts"))) {
            assertThat(served.filter(f -> !f.getFileName().toString().startsWith("."))).isEmpty();
        }

        CliRunner.Result busy = cli.run("network", "down", "team");
        assertThat(busy.status()).isEqualTo(1);
        assertThat(busy.err()).contains("still has TAPs of VM(s) [vm-1]");
        cli.run("tap", "rm", "vm-1");
        assertThat(cli.run("network", "down", "team").out()).isEqualTo("network team is down\n");
        assertThat(NetworkNamespace.links()).doesNotContain("tw-team");
        assertThat(cli.run("network", "inspect", "team").out()).contains("realized: no");
    }

    @Test
    void aNicWithoutANetworkNeedsTheBridgeOption() {
        CliRunner.Result noBridge = cli.run("tap", "create", "vm-2", "--network", "team", "--nics", "2");
        assertThat(noBridge.status()).isEqualTo(2);
        assertThat(noBridge.err()).contains("--bridge is required for the 1 NIC(s) on no --network");
        NetworkNamespace.createBridge("br0");
        CliRunner.Result both = cli.run("tap", "create", "vm-2", "--network", "team", "--nics", "2", "--bridge", "br0");
        assertThat(both.status()).as(both.err()).isZero();
        assertThat(both.out()).contains("\"bridge_dev\":\"tw-team\"").contains("\"bridge_dev\":\"br0\"");
    }

    @Test
    void aVmTakesTheStaticAddressItsAddressOptionGivesItsNicOnANamedNetwork() throws Exception {
        CliRunner.Result created = cli.run("tap", "create", "vm-2", "--network", "team", "--workspace", "db",
                "--single-queue", "--address", "0=10.90.0.77");
        assertThat(created.status()).as(created.err()).isZero();
        assertThat(json.readValue(created.out(), new TypeReference<List<NicConfig>>() { }).get(0).network().ip())
                .hasToString("10.90.0.77");
        assertThat(cli.run("network", "hosts", "team").out()).isEqualTo("10.90.0.77 db.team db\n");

        CliRunner.Result taken = cli.run("tap", "create", "vm-1", "--network", "team", "--workspace", "web",
                "--single-queue", "--address", "0=10.90.0.77");
        assertThat(taken.status()).isEqualTo(1);
        assertThat(taken.err()).contains("10.90.0.77").contains("db");
        assertThat(cli.run("network", "hosts", "team").out()).as("the refused VM joined nothing")
                .isEqualTo("10.90.0.77 db.team db\n");
    }

    @Test
    void restoreBringsAVmBackOnItsNetworkWithItsAddressAndMac() throws Exception {
        CliRunner.Result created = cli.run("tap", "create", "vm-3", "--network", "team", "--workspace", "api",
                "--single-queue", "--record");
        assertThat(created.status()).as(created.err()).isZero();
        Path record = state.resolve("vm-3.json");
        Files.writeString(record, created.out());
        cli.run("tap", "rm", "vm-3"); // the reboot: TAPs gone, the membership stays
        cli.run("network", "down", "team");

        CliRunner.Result restored = cli.run("tap", "restore", record.toString());
        assertThat(restored.status()).as(restored.err()).isZero();
        ObjectMapper json = new ObjectMapper();
        assertThat(json.readTree(restored.out()).get(0).get("nics"))
                .isEqualTo(json.readTree(created.out()).get("nics"));
        assertThat(cli.run("network", "hosts", "team").out()).contains("api.team api");
        assertThat(cli.run("tap", "verify", "vm-3").status()).isZero();
        cli.run("tap", "rm", "vm-3");
    }

    @Test
    void removingARealizedNetworkRemovesItsRealizationSoTheNextNetworkOnItsSubnetRealizes() throws Exception {
        assertThat(cli.run("network", "up", "team").status()).isZero();
        assertThat(cli.run("tap", "create", "vm-1", "--network", "team", "--workspace", "web", "--single-queue")
                .status()).isZero();
        CliRunner.Result refused = cli.run("network", "rm", "team", "--force");
        assertThat(refused.status()).isEqualTo(1);
        assertThat(refused.err()).contains("network team was not removed: it is realized on this host")
                .contains("still has TAPs of VM(s) [vm-1]");
        assertThat(cli.run("network", "ls").out()).contains("team");
        assertThat(NetworkNamespace.links()).contains("tw-team");

        cli.run("tap", "rm", "vm-1");
        CliRunner.Result removed = cli.run("network", "rm", "team", "--force"); // web is still a member
        assertThat(removed.status()).as(removed.err()).isZero();
        assertThat(NetworkNamespace.links()).doesNotContain("tw-team");
        assertThat(cli.run("network", "create", "next", "--subnet", "10.90.0.0/24").status()).isZero();
        CliRunner.Result up = cli.run("network", "up", "next");
        assertThat(up.status()).as(up.err()).isZero();
        assertThat(up.out()).contains("gateway 10.90.0.1/24");
        cli.run("network", "down", "next");
    }

    @Test
    void theGcReclaimsTheRealizationOfANetworkGoneFromTheRegistry() throws Exception {
        cli.run("network", "up", "team");
        cli.run("network", "create", "keep", "--subnet", "10.91.0.0/24");
        // a registry URI pointing at an empty (unmounted) directory proves nothing: nothing is reclaimed
        Path empty = Files.createDirectory(state.resolve("unmounted"));
        CliRunner.Result none = cli.run("--registry", empty.toUri().toString(), "gc", "--none-active");
        assertThat(none.status()).as(none.err()).isZero();
        assertThat(none.out()).containsPattern("named-networks\\s+0");
        assertThat(NetworkNamespace.links()).contains("tw-team");
        // removed from the registry by another process, which does not know this host realized it
        FileNetworkRegistry.open(state).remove("team", false);
        CliRunner.Result gc = cli.run("gc", "--none-active");
        assertThat(gc.status()).as(gc.err()).isZero();
        assertThat(gc.out()).containsPattern("named-networks\\s+1\\s+team");
        assertThat(NetworkNamespace.links()).doesNotContain("tw-team");
    }

    @Test
    void upTakesThePortSecurityIsolationAndHostPortOptionsAndInspectShowsThemAndEscapesNames() throws Exception {
        CliRunner.Result up = cli.run("network", "up", "team", "--no-port-security", "--isolate", "--allow-host-port",
                "8080/tcp,53/udp", "--allow-host-port", "9000/TCP");
        assertThat(up.status()).as(up.err()).isZero();
        assertThat(up.out()).isEqualTo("network team is up on bridge tw-team (gateway 10.90.0.1/24, nat off, port"
                + " security off, guest ports isolated, host ports 53/udp,8080/tcp,9000/tcp)\n");
        assertThat(cli.run("network", "join", "team", "web\u200b").status()).isZero();
        assertThat(cli.run("network", "join", "team", "evil\u202egnp.exe").status()).isZero();
        String inspect = cli.run("network", "inspect", "team").out();
        assertThat(inspect).contains("web\\u200B").contains("evil\\u202Egnp.exe").doesNotContain("\u200b")
                .doesNotContain("\u202e").contains("port security off, guest ports isolated, host ports "
                        + "53/udp,8080/tcp,9000/tcp");
        assertThat(cli.run("--json", "network", "inspect", "team").out()).contains("\"port_security\":false")
                .contains("\"isolated\":true").contains("\"host_ports\":[\"53/udp\",\"8080/tcp\",\"9000/tcp\"]");

        CliRunner.Result bad = cli.run("network", "up", "team", "--allow-host-port", "http");
        assertThat(bad.status()).isNotZero();
        assertThat(bad.err()).contains("a host port is PORT/tcp or PORT/udp, e.g. 8080/tcp; got \"http\"");
        assertThat(cli.run("network", "inspect", "team").out()).as("nothing changed").contains("guest ports isolated");

        assertThat(cli.run("network", "up", "team").out()).as("each up sets every option").contains("port security on)");

        CliRunner.Result mtu = cli.run("network", "up", "team", "--mtu", "1400");
        assertThat(mtu.out()).as(mtu.err()).endsWith("port security on, MTU 1400)\n");
        assertThat(bridgeMtu()).isEqualTo(1400);
        assertThat(cli.run("network", "inspect", "team").out()).contains(", MTU 1400");
        CliRunner.Result tiny = cli.run("network", "up", "team", "--mtu", "67");
        assertThat(tiny.status()).isNotZero();
        assertThat(tiny.err()).contains("68–65535");
        assertThat(bridgeMtu()).as("nothing changed").isEqualTo(1400);
    }

    private static int bridgeMtu() {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            return netlink.link("tw-team").orElseThrow().mtu();
        }
    }
}
