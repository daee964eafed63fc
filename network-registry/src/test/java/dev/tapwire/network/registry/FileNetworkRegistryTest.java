package dev.tapwire.network.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.AddressExhaustedException;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkAlreadyExistsException;
import dev.tapwire.network.NetworkInUseException;
import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.NetworkNotFoundException;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.SubnetOverlapException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileNetworkRegistryTest {

    private static final Instant NOW = Instant.parse("2026-11-22T18:38:30.789Z");

    @TempDir
    Path state;

    FileNetworkRegistry registry;

    @BeforeEach
    void openRegistry() {
        registry = FileNetworkRegistry.builder(state).clock(Clock.fixed(NOW, ZoneOffset.UTC)).build();
    }

    private static Ipv4Address ip(String text) {
        return Ipv4Address.parse(text);
    }

    @Nested
    class Create {

        @Test
        void theFirstAutoNetworkIs10_44_1_0WithTheFirstHostAsGateway() {
            NetworkRecord dev = registry.create("dev");
            assertThat(dev.subnet()).hasToString("10.44.1.0/24");
            assertThat(dev.gateway()).hasToString("10.44.1.1");
            assertThat(dev.createdAt()).isEqualTo(Instant.parse("2026-11-22T18:38:30Z"));
            assertThat(dev.members()).isEmpty();
            assertThat(registry.create("ops").subnet()).hasToString("10.44.2.0/24");
        }

        @Test
        void anExplicitSmallerSubnetPushesTheNextAutoNetworkPastIt() {
            registry.create("small", Ipv4Subnet.parse("10.44.1.0/25"));
            assertThat(registry.create("auto").subnet()).hasToString("10.44.2.0/24");
        }

        @Test
        void autoAllocationReusesAFreedSubnet() {
            registry.create("a");
            registry.create("b");
            registry.remove("a", false);
            assertThat(registry.create("c").subnet()).hasToString("10.44.1.0/24");
        }

        @Test
        void explicitSubnetsAreMasked() {
            assertThat(registry.create("x", Ipv4Subnet.parse("192.168.7.9/24")).subnet()).hasToString("192.168.7.0/24");
        }

        @Test
        void aPrefixLongerThan30IsRejected() {
            assertThatThrownBy(() -> registry.create("tiny", Ipv4Subnet.parse("10.9.0.0/31")))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("/30 or shorter");
            assertThat(registry.create("ok", Ipv4Subnet.parse("10.9.0.0/30")).gateway()).hasToString("10.9.0.1");
        }

        @Test
        void aDuplicateNameIsRejected() {
            registry.create("dev");
            assertThatThrownBy(() -> registry.create("dev")).isInstanceOf(NetworkAlreadyExistsException.class);
            assertThatThrownBy(() -> registry.create("dev", Ipv4Subnet.parse("10.9.0.0/24")))
                    .isInstanceOf(NetworkAlreadyExistsException.class);
        }

        @Test
        void anOverlapNamesTheNetworkOverlapped() {
            registry.create("big", Ipv4Subnet.parse("10.50.0.0/16"));
            assertThatThrownBy(() -> registry.create("inner", Ipv4Subnet.parse("10.50.3.0/24")))
                    .isInstanceOf(SubnetOverlapException.class)
                    .hasMessageContaining("overlaps network big (10.50.0.0/16)");
        }

        @Test
        void invalidNamesAreRejectedBeforeAnythingIsWritten() {
            assertThatThrownBy(() -> registry.create("Bad Name")).isInstanceOf(InvalidNetworkSpecException.class)
                    .hasMessageContaining("a-z, 0-9 and '-'");
            assertThat(Files.exists(registry.indexFile())).isFalse();
        }

        @Test
        void anExhaustedPoolIsReported() {
            FileNetworkRegistry small = FileNetworkRegistry.builder(state.resolve("small"))
                    .subnetPool(Ipv4Subnet.parse("10.60.0.0/22")).subnetPrefix(24).build();
            assertThat(List.of(small.create("a"), small.create("b"), small.create("c")))
                    .extracting(n -> n.subnet().toString())
                    .containsExactly("10.60.1.0/24", "10.60.2.0/24", "10.60.3.0/24");
            assertThatThrownBy(() -> small.create("d")).isInstanceOf(AddressExhaustedException.class)
                    .hasMessageContaining("10.60.0.0/22");
        }

        @Test
        void aBuilderPrefixThatDoesNotFitThePoolIsRejected() {
            assertThatThrownBy(() -> FileNetworkRegistry.builder(state).subnetPool(Ipv4Subnet.parse("10.0.0.0/24"))
                    .subnetPrefix(24).build()).isInstanceOf(InvalidNetworkSpecException.class);
        }
    }

    @Nested
    class ListFindRemove {

        @Test
        void listIsSortedByName() {
            registry.create("zeta");
            registry.create("alpha");
            registry.create("mid");
            assertThat(registry.list()).extracting(NetworkRecord::name).containsExactly("alpha", "mid", "zeta");
        }

        @Test
        void getOfAnUnknownNetworkThrowsAndFindIsEmpty() {
            assertThat(registry.find("nope")).isEmpty();
            assertThatThrownBy(() -> registry.get("nope")).isInstanceOf(NetworkNotFoundException.class)
                    .hasMessageContaining("\"nope\"");
        }

        @Test
        void removeFailsClosedWhileMembersExistAndListsThem() {
            registry.create("dev");
            registry.join("dev", "w1");
            registry.join("dev", "w2");
            assertThatThrownBy(() -> registry.remove("dev", false))
                    .isInstanceOfSatisfying(NetworkInUseException.class,
                            e -> assertThat(e.workspaces()).containsExactly("w1", "w2"))
                    .hasMessageContaining("w1, w2");
            assertThat(registry.find("dev")).isPresent();
            registry.remove("dev", true);
            assertThat(registry.find("dev")).isEmpty();
        }

        @Test
        void removeOfAnUnknownNetworkThrows() {
            assertThatThrownBy(() -> registry.remove("ghost", true)).isInstanceOf(NetworkNotFoundException.class);
        }
    }

    @Nested
    class JoinLeave {

        @BeforeEach
        void network() {
            registry.create("dev");
        }

        @Test
        void joinHandsOutTheLowestFreeHostSkippingTheGateway() {
            assertThat(registry.join("dev", "w1")).isEqualTo(ip("10.44.1.2"));
            assertThat(registry.join("dev", "w2")).isEqualTo(ip("10.44.1.3"));
        }

        @Test
        void joinReturnsTheSameAddressAfterRejoin() {
            Ipv4Address first = registry.join("dev", "w1");
            registry.join("dev", "w2");
            assertThat(registry.join("dev", "w1")).isEqualTo(first);
            assertThat(registry.get("dev").members()).hasSize(2);
        }

        @Test
        void addressesSurviveReopeningTheRegistry() {
            Ipv4Address ip = registry.join("dev", "w1");
            assertThat(FileNetworkRegistry.open(state).join("dev", "w1")).isEqualTo(ip);
        }

        @Test
        void aFreedAddressIsReusedLowestFirst() {
            registry.join("dev", "w1");
            registry.join("dev", "w2");
            registry.join("dev", "w3");
            registry.leave("dev", "w2");
            assertThat(registry.join("dev", "w4")).isEqualTo(ip("10.44.1.3"));
        }

        @Test
        void joinOfAFullSubnetNamesNetworkAndSubnet() {
            registry.create("pair", Ipv4Subnet.parse("10.9.0.0/30"));
            assertThat(registry.join("pair", "only")).isEqualTo(ip("10.9.0.2"));
            assertThatThrownBy(() -> registry.join("pair", "another")).isInstanceOf(AddressExhaustedException.class)
                    .hasMessageContaining("pair").hasMessageContaining("10.9.0.0/30");
        }

        @Test
        void slash31AndSlash32NetworksFromAnotherWriterHaveNoFreeHost() {
            registry.writeIndex(new NetworkIndex(List.of(
                    new NetworkRecord("p2p", Ipv4Subnet.parse("10.9.1.0/31"), ip("10.9.1.0"), null, List.of()),
                    new NetworkRecord("one", Ipv4Subnet.parse("10.9.2.7/32"), ip("10.9.2.7"), null, List.of()))));
            assertThatThrownBy(() -> registry.join("p2p", "w")).isInstanceOf(AddressExhaustedException.class);
            assertThatThrownBy(() -> registry.join("one", "w")).isInstanceOf(AddressExhaustedException.class);
        }

        @Test
        void aSlash24HoldsExactly253Members() {
            for (int i = 0; i < 253; i++) {
                registry.join("dev", "w" + i);
            }
            assertThat(registry.get("dev").members()).extracting(Member::ip)
                    .doesNotContain(ip("10.44.1.0"), ip("10.44.1.1"), ip("10.44.1.255")).doesNotHaveDuplicates();
            assertThatThrownBy(() -> registry.join("dev", "one-too-many")).isInstanceOf(AddressExhaustedException.class);
        }

        @Test
        void workspaceNamesAreTrimmedAndChecked() {
            assertThat(registry.join("dev", "  w1 ")).isEqualTo(registry.join("dev", "w1"));
            assertThatThrownBy(() -> registry.join("dev", " ")).isInstanceOf(InvalidNetworkSpecException.class)
                    .hasMessageContaining("blank");
            assertThatThrownBy(() -> registry.join("dev", null)).isInstanceOf(InvalidNetworkSpecException.class);
            assertThatThrownBy(() -> registry.join("dev", "a\u0000b")).isInstanceOf(InvalidNetworkSpecException.class)
                    .hasMessageContaining("control character");
            assertThatThrownBy(() -> registry.join("dev", "x".repeat(254))).isInstanceOf(InvalidNetworkSpecException.class)
                    .hasMessageContaining("at most 253");
            assertThat(registry.join("dev", "x".repeat(253))).isNotNull();
        }

        @Test
        void joinOfAnUnknownNetworkThrows() {
            assertThatThrownBy(() -> registry.join("ghost", "w1")).isInstanceOf(NetworkNotFoundException.class);
        }

        @Test
        void leaveIsIdempotentAndNeverThrowsForUnknowns() {
            registry.join("dev", "w1");
            registry.leave("dev", "w1");
            registry.leave("dev", "w1");
            registry.leave("ghost", "w1");
            registry.leave("dev", "never-joined");
            assertThat(registry.get("dev").members()).isEmpty();
        }

        @Test
        void leaveAllLeavesEveryNetwork() {
            registry.create("ops");
            registry.join("dev", "w1");
            registry.join("ops", "w1");
            registry.join("ops", "w2");
            registry.leaveAll("w1");
            assertThat(registry.get("dev").members()).isEmpty();
            assertThat(registry.get("ops").workspaces()).containsExactly("w2");
        }
    }

    @Nested
    class WholeIndex {

        @Test
        void aMissingFileIsAnEmptyIndex() {
            assertThat(registry.readIndex()).isEqualTo(NetworkIndex.EMPTY);
            assertThat(Files.exists(registry.indexFile())).isFalse();
        }

        @Test
        void writeIndexPersistsAValidIndex() {
            NetworkIndex index = new NetworkIndex(List.of(new NetworkRecord("b", Ipv4Subnet.parse("10.1.0.0/24"),
                    ip("10.1.0.1"), null, List.of(new Member("w", ip("10.1.0.9")))),
                    new NetworkRecord("a", Ipv4Subnet.parse("10.2.0.0/24"), ip("10.2.0.1"), null, List.of())));
            registry.writeIndex(index);
            assertThat(FileNetworkRegistry.open(state).readIndex()).isEqualTo(index.sorted());
        }

        @Test
        void writeIndexRejectsAnInvalidIndexAndWritesNothing() throws Exception {
            registry.create("keep");
            byte[] before = Files.readAllBytes(registry.indexFile());
            NetworkRecord a = new NetworkRecord("a", Ipv4Subnet.parse("10.1.0.0/24"), ip("10.1.0.1"), null, List.of());
            List<NetworkIndex> invalid = List.of(
                    new NetworkIndex(List.of(a, new NetworkRecord("b", Ipv4Subnet.parse("10.1.0.128/25"),
                            ip("10.1.0.129"), null, List.of()))),
                    new NetworkIndex(List.of(a, a)),
                    new NetworkIndex(List.of(a.withMembers(List.of(new Member("w", ip("10.9.9.9")))))),
                    new NetworkIndex(List.of(a.withMembers(List.of(new Member("w", ip("10.1.0.5")),
                            new Member("v", ip("10.1.0.5")))))),
                    new NetworkIndex(List.of(a.withMembers(List.of(new Member("w", ip("10.1.0.5")),
                            new Member("w", ip("10.1.0.6")))))),
                    new NetworkIndex(List.of(a.withMembers(List.of(new Member("w", ip("10.1.0.1")))))),
                    new NetworkIndex(List.of(a.withMembers(List.of(new Member("w", ip("10.1.0.255")))))));
            for (NetworkIndex index : invalid) {
                assertThatThrownBy(() -> registry.writeIndex(index))
                        .isInstanceOfAny(InvalidNetworkSpecException.class, SubnetOverlapException.class);
            }
            assertThat(Files.readAllBytes(registry.indexFile())).isEqualTo(before);
        }

        @Test
        void twoRegistriesOnOneDirectorySeeEachOthersChanges() {
            FileNetworkRegistry other = FileNetworkRegistry.open(state);
            registry.create("dev");
            assertThat(other.join("dev", "w1")).isEqualTo(ip("10.44.1.2"));
            assertThat(registry.join("dev", "w2")).isEqualTo(ip("10.44.1.3"));
            assertThat(other.get("dev").workspaces()).containsExactly("w1", "w2");
        }

        @Test
        void theFileIsParsedOnlyWhenSomethingElseReplacedIt() throws Exception {
            registry.create("dev");
            for (int i = 0; i < 20; i++) {
                registry.join("dev", "w" + i);
            }
            FileNetworkRegistry.open(state).join("dev", "same-jvm");
            registry.list();
            assertThat(registry.parseCount()).as("writes in this JVM need no re-parse").isZero();

            byte[] edited = Files.readString(registry.indexFile()).replace("\"same-jvm\"", "\"elsewhere\"")
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8);
            Path temp = registry.indexFile().resolveSibling("other-process.tmp");
            Files.write(temp, edited);
            Files.move(temp, registry.indexFile(), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            registry.join("dev", "after");
            assertThat(registry.get("dev").workspaces()).contains("elsewhere", "after").doesNotContain("same-jvm");
            assertThat(registry.parseCount()).as("one parse after another process's write").isEqualTo(1);
        }

        @Test
        void staleTemporaryFilesOfAKilledWriterAreRemovedByTheFirstWrite() throws Exception {
            Path dir = Files.createDirectories(FileNetworkRegistry.indexPath(state).getParent());
            Path stale = dir.resolve("index.json.tmp-999999-abc");
            Files.writeString(stale, "{\"networks\": [");
            registry.create("dev");
            assertThat(stale).doesNotExist();
            assertThat(registry.indexFile().resolveSibling("index.lock")).exists();
        }
    }
}
