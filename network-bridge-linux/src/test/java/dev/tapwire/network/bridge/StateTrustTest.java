package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.bridge.linux.Nftables;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.TemporaryRegistry;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The realizer's own state is not trusted blindly: a state directory another user could write is refused, links
 * planted where it writes are never followed, and every value read back from a realization record is checked.
 */
@IsolatedNetns
class StateTrustTest {

    @TempDir
    Path temp;

    Path state;
    NetworkRealizer realizer;

    @BeforeEach
    void network(@TemporaryRegistry NetworkRegistry registry) throws Exception {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        registry.create("team", Ipv4Subnet.parse("10.77.0.0/24"));
        registry.create("other", Ipv4Subnet.parse("10.78.0.0/24"));
        state = Files.createDirectory(temp.resolve("state"));
        realizer = new NetworkRealizer(state, registry);
    }

    @AfterEach
    void down() throws Exception {
        Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwx------"));
        if (Files.isDirectory(state.resolve("realized"))) {
            Files.setPosixFilePermissions(state.resolve("realized"), PosixFilePermissions.fromString("rwx------"));
        }
        realizer.list().forEach(r -> realizer.unrealize(r.network()));
    }

    private static boolean bridgeExists(String name) {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            return netlink.link(name).isPresent();
        }
    }

    @Test
    void aStateDirectoryOrRealizedDirectoryOthersCanWriteIsRefusedAndNothingIsMade() throws Exception {
        Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwxrwxrwx"));
        assertThatThrownBy(() -> realizer.realize("team", false)).isInstanceOf(RealizationException.class)
                .hasMessageContaining("state directory " + state).hasMessageContaining("rwxrwxrwx")
                .hasMessageContaining("writable by no one else");
        assertThat(bridgeExists("tw-team")).isFalse();

        Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwx------"));
        Path realized = Files.createDirectory(state.resolve("realized"));
        Files.setPosixFilePermissions(realized, PosixFilePermissions.fromString("rwxrwx---"));
        assertThatThrownBy(() -> realizer.realize("team", false)).isInstanceOf(RealizationException.class)
                .hasMessageContaining("realization directory " + realized).hasMessageContaining("chmod go-w");
        assertThat(bridgeExists("tw-team")).isFalse();

        Files.setPosixFilePermissions(realized, PosixFilePermissions.fromString("rwx------"));
        assertThat(realizer.realize("team", false).bridge()).isEqualTo("tw-team");
    }

    @Test
    void linksPlantedWhereTheRecordIsWrittenAreReplacedNeverWrittenThrough() throws Exception {
        Path victim = Files.writeString(temp.resolve("victim"), "root's secret\n");
        Files.setPosixFilePermissions(victim, PosixFilePermissions.fromString("rw-------"));
        Path dir = Files.createDirectories(state.resolve("realized/team"));
        Files.createSymbolicLink(dir.resolve(".realization.properties.tmp"), victim);
        Files.createSymbolicLink(dir.resolve("realization.properties"), victim);

        realizer.realize("team", false);

        assertThat(Files.readString(victim)).isEqualTo("root's secret\n");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(victim))).isEqualTo("rw-------");
        assertThat(Files.isRegularFile(dir.resolve("realization.properties"), LinkOption.NOFOLLOW_LINKS)).isTrue();
        assertThat(Files.readString(dir.resolve("realization.properties"))).contains("bridge=tw-team");
    }

    @Test
    void aRecordWhoseValuesAreNotWhatTapwireWritesIsIgnoredAndNeverReachesNftText() throws Exception {
        Nftables.run("add table inet sentinel");
        Path dir = Files.createDirectories(state.resolve("realized/team"));
        // a quote and a newline in bridge=: as nft text it would end the set and flush the whole ruleset
        Files.writeString(dir.resolve("realization.properties"), "network=team\nbridge=tw-team\" } }\\nflush ruleset"
                + "\\ntable ip x { set y { type ifname; elements = { \"z\nsubnet=10.77.0.0/24\ngateway=10.77.0.1\n"
                + "nat=false\n");
        Files.writeString(Files.createDirectories(state.resolve("realized/other")).resolve("realization.properties"),
                "network=other\nbridge=tw-other\nsubnet=10.78.0.0/24\ngateway=10.78.0.1\nnat=yes please\n");

        assertThat(realizer.list()).isEmpty();
        assertThat(realizer.inspect("team")).isEmpty();
        realizer.realize("other", false);

        assertThat(realizer.list()).extracting(Realization::network).containsExactly("other");
        assertThat(Nftables.run("list tables")).contains("table inet sentinel");
        assertThat(Nftables.run("list table inet tapwire_" + NetworkRealizer.ownerTag(state))).contains("tw-other")
                .doesNotContain("tw-team");
        Nftables.run("delete table inet sentinel");
    }
}
