package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Nftables;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.registry.FileNetworkRegistry;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two tenants of one host: two state directories (each with its own registry) in one network namespace, and one
 * state directory used from a second namespace. Neither may adopt, replace, delete or signal what the other made.
 */
@IsolatedNetns
class TwoTenantsTest {

    @TempDir
    Path first;
    @TempDir
    Path second;

    NetworkRealizer a;
    NetworkRealizer b;

    @BeforeEach
    void tenants() {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        NetworkRegistry ra = FileNetworkRegistry.open(first.resolve("registry"));
        NetworkRegistry rb = FileNetworkRegistry.open(second.resolve("registry"));
        ra.create("team", Ipv4Subnet.parse("10.77.0.0/24"));
        rb.create("team", Ipv4Subnet.parse("10.79.0.0/24"));
        rb.create("web", Ipv4Subnet.parse("10.80.0.0/24"));
        a = new NetworkRealizer(first, ra);
        b = new NetworkRealizer(second, rb);
    }

    @AfterEach
    void down() {
        for (NetworkRealizer r : List.of(a, b)) {
            r.list().forEach(n -> r.unrealize(n.network()));
        }
    }

    private static Optional<Link> link(String name) {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            return netlink.link(name);
        }
    }

    @Test
    void eachStateDirectoryHasATableOfItsOwnThatTheOtherNeverReplaces() {
        a.realize("team", false);
        String tableOfA = Nftables.run("list table inet tapwire_" + NetworkRealizer.ownerTag(first));
        b.realize("web", true);
        assertThat(NetworkRealizer.ownerTag(first)).isNotEqualTo(NetworkRealizer.ownerTag(second));
        assertThat(Nftables.run("list table inet tapwire_" + NetworkRealizer.ownerTag(first))).isEqualTo(tableOfA)
                .contains("tw-team").doesNotContain("tw-web");
        assertThat(Nftables.run("list table inet tapwire_" + NetworkRealizer.ownerTag(second))).contains("tw-web")
                .doesNotContain("tw-team");
        assertThat(a.inspect("team").orElseThrow().problems()).isEmpty();
        b.unrealize("web");
        assertThat(Nftables.run("list table inet tapwire_" + NetworkRealizer.ownerTag(first))).isEqualTo(tableOfA);
    }

    @Test
    void aSameNamedNetworkOfTheOtherStateDirectoryNeverAdoptsTheBridgeAndTheRefusalNamesItsOwner() throws Exception {
        // another owner (another namespace's, or stale) keeps data for a "team" too: the bridge's MAC names the owner
        Path decoy = RuntimeDirectory.BASE.resolve("00decoy" + ProcessHandle.current().pid());
        Files.createDirectories(decoy.resolve("team"));
        Files.writeString(decoy.resolve("state-dir"), "/decoy/state\n");
        try {
            refusalNamesTheOwner();
        } finally {
            Files.deleteIfExists(decoy.resolve("state-dir"));
            Files.deleteIfExists(decoy.resolve("team"));
            Files.deleteIfExists(decoy);
        }
    }

    private void refusalNamesTheOwner() {
        a.realize("team", false);
        int index = link("tw-team").orElseThrow().index();
        assertThatThrownBy(() -> b.realize("team", false)).isInstanceOf(DeviceOperationException.class)
                .hasMessageContaining("tw-team exists but is not network team's bridge of state directory " + second)
                .hasMessageContaining("realized here by state directory " + first.toAbsolutePath());
        assertThat(b.list()).isEmpty();
        assertThat(link("tw-team").orElseThrow().index()).isEqualTo(index);
        assertThat(a.inspect("team").orElseThrow().problems()).isEmpty();
    }

    @Test
    void theOtherStateDirectorysGcNeverDeletesWhatThisOneMade() {
        a.realize("team", false);
        b.realize("web", false);
        b.registry().remove("web", false);
        b.registry().create("next", Ipv4Subnet.parse("10.81.0.0/24")); // B's registry holds no "team"
        assertThat(b.collectGarbage()).containsExactly("web");
        assertThat(link("tw-team")).as("A's bridge").isPresent();
        assertThat(a.inspect("team").orElseThrow().problems()).isEmpty();
    }

    @Test
    void fromASecondNamespaceTheStateDirectorysRealizationIsNotOursToInspectOrTakeDown() throws Exception {
        a.realize("team", false);
        int pid = a.inspect("team").orElseThrow().dnsmasqPid().orElseThrow();
        try (NetworkNamespace other = NetworkNamespace.create()) {
            assertThat(other.run(() -> a.inspect("team"))).as("not realized there").isEmpty();
            assertThat(other.run(a::list)).isEmpty();
            assertThatThrownBy(() -> other.run(() -> a.unrealize("team"))).isInstanceOf(DeviceOperationException.class)
                    .hasMessageContaining("is realized in network namespace " + Follower.currentNamespace());
            assertThatThrownBy(() -> other.run(() -> a.realize("team", false)))
                    .isInstanceOf(DeviceOperationException.class).hasMessageContaining("in one namespace only");
        }
        assertThat(a.inspect("team").orElseThrow().dnsmasqPid()).isEqualTo(OptionalInt.of(pid));
        assertThat(a.inspect("team").orElseThrow().problems()).isEmpty();
    }
}
