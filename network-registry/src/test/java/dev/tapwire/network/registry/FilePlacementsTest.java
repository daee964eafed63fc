package dev.tapwire.network.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.HostConflictException;
import dev.tapwire.network.HostLease;
import dev.tapwire.network.HostRecord;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.Placement;
import dev.tapwire.network.RegistryCorruptedException;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** What only the file registry's single-host placements do: their own file, and a lease held by a process. */
class FilePlacementsTest {

    @TempDir
    Path state;

    private static HostRecord host(String name) {
        return new HostRecord(name, Ipv4Address.parse("127.0.0.1"));
    }

    @Test
    void placingMembersLeavesTheIndexBytesAndTheExportUnchanged() throws Exception {
        FileNetworkRegistry registry = FileNetworkRegistry.open(state);
        registry.create("team");
        registry.join("team", "alpha");
        registry.join("team", "beta");
        byte[] index = Files.readAllBytes(FileNetworkRegistry.indexPath(state));
        byte[] export = FileNetworkRegistry.formatIndex(registry.readIndex());
        try (HostLease lease = registry.placements().register(host("node-1"), Duration.ofSeconds(10))) {
            lease.place("team", "alpha", MacAddress.parse("02:00:00:00:00:01"));
            lease.place("team", "beta", MacAddress.parse("02:00:00:00:00:02"));
            lease.vni("team");
            lease.unplace("team", "beta");
            assertThat(Files.readAllBytes(FileNetworkRegistry.indexPath(state))).isEqualTo(index);
            assertThat(FileNetworkRegistry.formatIndex(registry.readIndex())).isEqualTo(export);
            assertThat(Files.readString(state.resolve("networks/placements.json"))).contains("\"alpha\"")
                    .contains("02:00:00:00:00:01").doesNotContain("\"beta\"");
            lease.withdraw();
        }
        assertThat(Files.readAllBytes(FileNetworkRegistry.indexPath(state))).isEqualTo(index);
    }

    @Test
    void aCorruptPlacementsFileIsNamedAndNeverOverwritten() throws Exception {
        FileNetworkRegistry registry = FileNetworkRegistry.open(state);
        Path file = state.resolve("networks/placements.json");
        Files.createDirectories(file.getParent());
        Files.writeString(file, "{\"placements\": [{\"network\": \"team\"");
        assertThatThrownBy(() -> registry.placements().hosts()).isInstanceOf(RegistryCorruptedException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("move it away");
        assertThatThrownBy(() -> registry.placements().register(host("node-1"), Duration.ofSeconds(10)))
                .isInstanceOf(RegistryCorruptedException.class);
        Files.writeString(file, "{\"vnis\": {\"a\": 7, \"b\": 7}}");
        assertThatThrownBy(() -> registry.placements().vni("a")).isInstanceOf(RegistryCorruptedException.class)
                .hasMessageContaining("VNI 7");
        assertThat(Files.readString(file)).isEqualTo("{\"vnis\": {\"a\": 7, \"b\": 7}}");
    }

    @Test
    @Timeout(60)
    void aLeaseHeldByAnotherLiveProcessRefusesAnotherHostAndEndsWhenThatProcessDies() throws Exception {
        FileNetworkRegistry registry = FileNetworkRegistry.open(state);
        registry.create("team");
        registry.join("team", "alpha");
        Process holder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                PlacementHolderMain.class.getName(), state.toString(), "node-1")
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(holder.getInputStream(),
                    StandardCharsets.UTF_8));
            assertThat(out.readLine()).isEqualTo("registered");
            assertThat(registry.placements().placements("team")).containsExactly(
                    new Placement("team", "alpha", "node-1", MacAddress.parse("02:00:00:00:00:0a")));
            assertThatThrownBy(() -> registry.placements().register(host("node-2"), Duration.ofSeconds(10)))
                    .isInstanceOf(HostConflictException.class).hasMessageContaining("node-1")
                    .hasMessageContaining("process " + holder.pid());
        } finally {
            holder.destroyForcibly();
            assertThat(holder.waitFor(10, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(registry.placements().hosts()).as("the killed holder's lease ended with it").isEmpty();
        try (HostLease lease = registry.placements().register(host("node-2"), Duration.ofSeconds(10))) {
            assertThat(registry.placements().hosts()).containsExactly(host("node-2"));
            assertThat(registry.placements().placements("team")).as("the dead host's placements went with it")
                    .isEqualTo(List.of());
            lease.withdraw();
        }
    }
}
