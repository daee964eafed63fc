package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.registry.FileNetworkRegistry;
import java.time.Duration;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Nftables;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.NetworkNamespace;
import dev.tapwire.network.testkit.TemporaryRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Named networks made real in a private namespace: bridge, gateway, a real dnsmasq, real nftables rules. */
@IsolatedNetns
class NetworkRealizerTest {

    @TempDir
    Path root;

    NetworkRealizer realizer;

    @BeforeEach
    void available(@TemporaryRegistry NetworkRegistry registry) throws Exception {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x")); // dnsmasq runs as nobody
        realizer = new NetworkRealizer(root, registry);
        registry.create("team", Ipv4Subnet.parse("10.77.0.0/24"));
        registry.create("other", Ipv4Subnet.parse("10.78.0.0/24"));
    }

    @AfterEach
    void stopServers() {
        for (Realization r : realizer.list()) { // never leave a dnsmasq running
            realizer.unrealize(r.network());
        }
    }

    private static Optional<Link> link(String name) {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            return netlink.link(name);
        }
    }

    @Test
    void realizingMakesTheBridgeWithTheGatewayAndServesMembersByName() throws Exception {
        NetworkRegistry registry = realizer.registry();
        registry.join("team", "web");
        Realization r = realizer.realize("team", false);

        assertThat(r.bridge()).isEqualTo("tw-team");
        Link bridge = link("tw-team").orElseThrow();
        assertThat(bridge.isBridge()).isTrue();
        assertThat(bridge.isUp()).isTrue();
        assertThat(bridge.alias()).isEqualTo("tapwire-net:team");
        assertThat(bridge.mac()).as("the same gateway MAC whenever the bridge is made").isEqualTo(
                MacAddress.forGateway("team"));
        try (Rtnetlink netlink = Rtnetlink.open()) {
            assertThat(netlink.ipv4Addresses()).contains(new Rtnetlink.Address(bridge.index(), "10.77.0.1", 24));
        }
        assertThat(Dns.queryA("10.77.0.1", "web")).containsExactly("10.77.0.2");
        assertThat(Dns.queryA("10.77.0.1", "web.team")).containsExactly("10.77.0.2");
        assertThat(Dns.queryA("10.77.0.1", "nobody.team")).isEmpty();
    }

    @Test
    void aMemberThatLeavesStopsResolvingAfterASyncAndARejoinResolvesToItsNewAddressOnly() throws Exception {
        NetworkRegistry registry = realizer.registry();
        registry.join("team", "a");
        registry.join("team", "web");
        realizer.realize("team", false);
        assertThat(Dns.queryA("10.77.0.1", "web")).containsExactly("10.77.0.3");

        registry.leave("team", "web");
        realizer.sync("team");
        assertThat(Dns.queryA("10.77.0.1", "web")).isEmpty();

        registry.leave("team", "a");
        registry.join("team", "web"); // now the lowest free address
        realizer.sync("team");
        assertThat(Dns.queryA("10.77.0.1", "web.team")).containsExactly("10.77.0.2");
        assertThat(Dns.queryA("10.77.0.1", "a")).isEmpty();
    }

    @Test
    void followingTheRegistrySyncsALeaveMadeThroughAnotherRegistryInstance() throws Exception {
        NetworkRegistry registry = realizer.registry();
        registry.join("team", "web");
        realizer.realize("team", false);
        assertThat(Dns.queryA("10.77.0.1", "web")).containsExactly("10.77.0.2");
        try (RegistryWatch following = realizer.follow()) {
            NetworkRegistry elsewhere = FileNetworkRegistry.open(
                    ((FileNetworkRegistry) registry).indexFile().getParent().getParent());
            elsewhere.leave("team", "web");
            long left = System.nanoTime();
            while (!Dns.queryA("10.77.0.1", "web").isEmpty()) {
                assertThat(Duration.ofNanos(System.nanoTime() - left)).as("web still resolves")
                        .isLessThan(Duration.ofSeconds(2));
                Thread.sleep(20);
            }
            System.err.println("stopped resolving after " + Duration.ofNanos(System.nanoTime() - left).toMillis() + " ms");
        }
    }

    @Test
    void theRulesetIsolatesNetworksAndMasqueradesOnlyNatNetworks() {
        realizer.realize("team", true);
        realizer.realize("other", false);
        String table = Nftables.run("list table ip tapwire");
        assertThat(table).contains("iifname \"tw-team\" oifname @bridges oifname != \"tw-team\" drop")
                .contains("iifname \"tw-other\" oifname @bridges oifname != \"tw-other\" drop")
                .contains("ip saddr 10.77.0.0/24 oifname != \"tw-team\" masquerade")
                .doesNotContain("10.78.0.0/24 oifname");
        assertThat(realizer.inspect("team").orElseThrow().problems()).isEmpty();
    }

    @Test
    void aFlushedRulesetAndAKilledDnsmasqAreRepairedByVerify() throws Exception {
        realizer.realize("team", false);
        int pid = realizer.inspect("team").orElseThrow().dnsmasqPid().orElseThrow();
        Nftables.run("flush ruleset");
        Crash.sigkill(pid);
        assertThat(realizer.inspect("team").orElseThrow().problems()).anySatisfy(p -> assertThat(p).contains("missing"))
                .anySatisfy(p -> assertThat(p).contains("dnsmasq of network team is not running"));

        NetworkRealizer.Status status = realizer.verify("team");

        assertThat(status.problems()).allSatisfy(p -> assertThat(p).startsWith("repaired:")).hasSize(2);
        assertThat(status.dnsmasqPid()).isPresent().isNotEqualTo(OptionalInt.of(pid));
        assertThat(Nftables.run("list table ip tapwire")).contains("tw-team");
        assertThat(realizer.inspect("team").orElseThrow().problems()).isEmpty();
    }

    @Test
    void aForeignDeviceWithTheBridgeNameIsNeverSharedAndNothingIsLeftBehind() {
        NetworkNamespace.createBridge("tw-team");
        assertThatThrownBy(() -> realizer.realize("team", false)).isInstanceOf(DeviceOperationException.class)
                .hasMessageContaining("tw-team exists but is not network team's bridge");
        assertThat(realizer.list()).isEmpty();
        assertThat(Files.exists(root.resolve("realized/team"))).isFalse();
        assertThat(link("tw-team").orElseThrow().alias()).isEmpty();
    }

    @Test
    void aBridgeLeftHalfMadeByARealizeThatDiedIsFinishedNotRefused() {
        try (Rtnetlink netlink = Rtnetlink.open()) { // what a realize killed right after creating the bridge leaves
            netlink.execute(List.of(Rtnetlink.createBridge("tw-team", MacAddress.forGateway("team"))));
        }
        int index = link("tw-team").orElseThrow().index();

        realizer.realize("team", false);
        Link bridge = link("tw-team").orElseThrow();
        assertThat(bridge.index()).isEqualTo(index);
        assertThat(bridge.alias()).isEqualTo("tapwire-net:team");
        assertThat(realizer.inspect("team").orElseThrow().problems()).isEmpty();

        realizer.realize("other", false);
        try (Rtnetlink netlink = Rtnetlink.open()) { // "other" as a realize that died before its alias leaves it
            Link other = link("tw-other").orElseThrow();
            netlink.execute(List.of(Rtnetlink.setAlias(other.index(), "tw-other", "")));
        }
        assertThat(link("tw-other").orElseThrow().alias()).isEmpty();
        realizer.registry().remove("other", false);
        assertThat(realizer.collectGarbage()).containsExactly("other");
        assertThat(link("tw-other")).as("the GC knows it by its record and its gateway MAC").isEmpty();

        realizer.unrealize("team");
        try (Rtnetlink netlink = Rtnetlink.open()) { // the gateway MAC of another network proves nothing
            netlink.execute(List.of(Rtnetlink.createBridge("tw-team", MacAddress.forGateway("other"))));
        }
        assertThatThrownBy(() -> realizer.realize("team", false)).isInstanceOf(DeviceOperationException.class)
                .hasMessageContaining("tw-team exists but is not network team's bridge");
    }

    @Test
    void unrealizeRemovesEverythingAndTheGcReclaimsNetworksGoneFromTheRegistry() {
        realizer.realize("team", false);
        realizer.realize("other", false);
        realizer.registry().remove("other", false);

        assertThat(realizer.collectGarbage()).containsExactly("other");
        assertThat(link("tw-other")).isEmpty();
        assertThat(realizer.list()).extracting(Realization::network).containsExactly("team");
        assertThat(Nftables.run("list table ip tapwire")).doesNotContain("tw-other");

        assertThat(realizer.unrealize("team")).isTrue();
        assertThat(link("tw-team")).isEmpty();
        assertThatThrownBy(() -> Nftables.run("list table ip tapwire")).hasMessageContaining("No such file");
    }

    @Test
    void aRealizationWhoseDnsmasqCannotStartIsRolledBackWhole() throws Exception {
        try (java.net.DatagramSocket squatter = new java.net.DatagramSocket(53)) { // port 53 taken on every address
            assertThatThrownBy(() -> realizer.realize("team", false)).isInstanceOf(DeviceOperationException.class)
                    .hasMessageContaining("dnsmasq for network team exited with status")
                    .hasMessageContaining("Address already in use");
        }
        assertThat(link("tw-team")).isEmpty();
        assertThat(realizer.list()).isEmpty();
        assertThat(Files.exists(root.resolve("realized/team"))).isFalse();
        assertThatThrownBy(() -> Nftables.run("list table ip tapwire")).hasMessageContaining("No such file");
        assertThat(realizer.realize("team", false).bridge()).isEqualTo("tw-team"); // and it works once the port is free
    }

    @Test
    void unavailableToolsAndUnreachableStateAreClearErrors() throws Exception {
        Path closed = root.resolve("closed");
        Files.createDirectories(closed);
        Files.setPosixFilePermissions(closed, PosixFilePermissions.fromString("rwx------"));
        NetworkRealizer hidden = new NetworkRealizer(closed, realizer.registry());
        assertThatThrownBy(() -> hidden.realize("team", false)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("dnsmasq drops root to user nobody, which cannot reach")
                .hasMessageContaining("chmod o+x " + closed);
        assertThatThrownBy(() -> realizer.realize("missing", false))
                .isInstanceOf(dev.tapwire.network.NetworkNotFoundException.class);
        assertThat(link("tw-missing")).isEmpty();
    }

    @Test
    void longNetworkNamesGetAHashedBridgeNameWithinFifteenBytes() {
        String name = NetworkRealizer.bridgeName("a-network-with-a-long-name");
        assertThat(name).startsWith("tw_").hasSize(15);
        assertThat(NetworkRealizer.bridgeName("a-network-with-a-long-name")).isEqualTo(name);
        assertThat(NetworkRealizer.bridgeName("twelve-chars")).isEqualTo("tw-twelve-chars");
    }
}
