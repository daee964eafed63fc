package dev.tapwire.network.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.AddressExhaustedException;
import dev.tapwire.network.AddressInUseException;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkAlreadyExistsException;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkInUseException;
import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.NetworkNotFoundException;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.RegistryChange;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.SubnetOverlapException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The contract every {@link NetworkRegistry} must keep, as an abstract JUnit 5 class: extend it, implement
 * {@link #createRegistry()}, and inherit {@code @Nested} groups of sentence-named tests for create and
 * auto-allocation, get/find/list, remove, join and leave, joins with a requested (static) address, the whole index,
 * concurrency and watching.
 *
 * <p>{@link #createRegistry()} must return an empty registry with the defaults of the contract (pool
 * {@code 10.44.0.0/16}, /24 subnets). {@link #openAgain(NetworkRegistry)} opens a second client on the same
 * store, for the tests that check what another client (or process, or host) sees.
 *
 * <pre>{@code
 * class MyRegistryContractTest extends NetworkRegistryContractKit {
 *     @Override
 *     protected NetworkRegistry createRegistry() {
 *         return MyRegistry.open(freshStore());
 *     }
 * }
 * }</pre>
 */
public abstract class NetworkRegistryContractKit {

    private NetworkRegistry registry;

    /** For subclasses. */
    protected NetworkRegistryContractKit() {
    }

    /**
     * Creates the registry under test on a fresh, empty store. Called at most once per test, from inside it.
     *
     * @return the registry
     * @throws Exception if it cannot be created
     */
    protected abstract NetworkRegistry createRegistry() throws Exception;

    /**
     * Opens another client of the store {@code registry} uses. By default the same instance: override it when
     * your registry can be opened twice (a second file registry on the directory, a second etcd client).
     *
     * @param registry the registry under test
     * @return a client of the same store
     * @throws Exception if it cannot be opened
     */
    protected NetworkRegistry openAgain(NetworkRegistry registry) throws Exception {
        return registry;
    }

    /**
     * Returns the registry under test, created on first use in each test.
     *
     * @return the registry
     * @throws Exception if it cannot be created
     */
    protected final NetworkRegistry registry() throws Exception {
        if (registry == null) {
            registry = createRegistry();
        }
        return registry;
    }

    @AfterEach
    void forgetRegistry() {
        registry = null;
    }

    private static Ipv4Address ip(String text) {
        return Ipv4Address.parse(text);
    }

    private static Ipv4Subnet subnet(String text) {
        return Ipv4Subnet.parse(text);
    }

    @Nested
    @DisplayName("create and auto-allocation")
    class Create {

        @Test
        void theFirstAutomaticNetworkIs10_44_1_0WithItsFirstHostAsGateway() throws Exception {
            Instant before = Instant.now().minusSeconds(1);
            NetworkRecord dev = registry().create("dev");
            assertThat(dev.subnet()).isEqualTo(subnet("10.44.1.0/24"));
            assertThat(dev.gateway()).isEqualTo(ip("10.44.1.1"));
            assertThat(dev.members()).isEmpty();
            assertThat(dev.createdAt()).isBetween(before, Instant.now().plusSeconds(1));
            assertThat(dev.createdAt().getNano()).as("whole seconds").isZero();
        }

        @Test
        void automaticSubnetsNeverOverlapAnExplicitOneNorEachOther() throws Exception {
            registry().create("small", subnet("10.44.1.0/25"));
            NetworkRecord a = registry().create("a");
            NetworkRecord b = registry().create("b");
            assertThat(a.subnet()).isEqualTo(subnet("10.44.2.0/24"));
            assertThat(b.subnet()).isEqualTo(subnet("10.44.3.0/24"));
        }

        @Test
        void aRemovedNetworksSubnetIsAllocatedAgain() throws Exception {
            registry().create("a");
            registry().create("b");
            registry().remove("a", false);
            assertThat(registry().create("c").subnet()).isEqualTo(subnet("10.44.1.0/24"));
        }

        @Test
        void anExplicitSubnetIsMaskedAndKept() throws Exception {
            NetworkRecord ops = registry().create("ops", subnet("10.50.0.7/24"));
            assertThat(ops.subnet()).isEqualTo(subnet("10.50.0.0/24"));
            assertThat(registry().get("ops").subnet()).isEqualTo(subnet("10.50.0.0/24"));
        }

        @Test
        void aPrefixLongerThan30IsRejected() throws Exception {
            assertThatThrownBy(() -> registry().create("tiny", subnet("10.50.0.0/31")))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("/30");
            assertThat(registry().list()).isEmpty();
        }

        @Test
        void aDuplicateNameIsRejected() throws Exception {
            registry().create("dev");
            assertThatThrownBy(() -> registry().create("dev")).isInstanceOf(NetworkAlreadyExistsException.class);
            assertThatThrownBy(() -> registry().create("dev", subnet("10.60.0.0/24")))
                    .isInstanceOf(NetworkAlreadyExistsException.class);
        }

        @Test
        void anOverlapNamesTheNetworkItOverlaps() throws Exception {
            registry().create("dev");
            assertThatThrownBy(() -> registry().create("other", subnet("10.44.1.128/25")))
                    .isInstanceOf(SubnetOverlapException.class).hasMessageContaining("dev");
        }

        @Test
        void anInvalidNameIsRejectedAndNothingIsStored() throws Exception {
            for (String bad : new String[] {"", "Dev", "-dev", "dev-", "d e v", "a".repeat(64)}) {
                assertThatThrownBy(() -> registry().create(bad)).as(bad).isInstanceOf(InvalidNetworkSpecException.class);
            }
            assertThat(registry().list()).isEmpty();
        }
    }

    @Nested
    @DisplayName("get, find and list")
    class GetFindList {

        @Test
        void listIsSortedByName() throws Exception {
            registry().create("zeta");
            registry().create("alpha");
            registry().create("mid");
            assertThat(registry().list()).extracting(NetworkRecord::name).containsExactly("alpha", "mid", "zeta");
        }

        @Test
        void getOfAnUnknownNetworkThrowsAndFindIsEmpty() throws Exception {
            assertThatThrownBy(() -> registry().get("nope")).isInstanceOf(NetworkNotFoundException.class)
                    .hasMessageContaining("nope");
            assertThat(registry().find("nope")).isEmpty();
        }

        @Test
        void anotherClientSeesWhatThisOneMade() throws Exception {
            registry().create("dev");
            registry().join("dev", "w1");
            NetworkRegistry other = openAgain(registry());
            assertThat(other.get("dev").member("w1")).map(Member::ip).contains(ip("10.44.1.2"));
            other.join("dev", "w2");
            assertThat(registry().get("dev").workspaces()).containsExactly("w1", "w2");
        }
    }

    @Nested
    @DisplayName("remove")
    class Remove {

        @Test
        void removeFailsClosedWhileMembersExistAndListsThem() throws Exception {
            registry().create("dev");
            registry().join("dev", "w1");
            registry().join("dev", "w2");
            assertThatThrownBy(() -> registry().remove("dev", false)).isInstanceOf(NetworkInUseException.class)
                    .hasMessageContaining("w1").hasMessageContaining("w2");
            assertThat(registry().find("dev")).isPresent();
            registry().remove("dev", true);
            assertThat(registry().find("dev")).isEmpty();
        }

        @Test
        void removeOfAnUnknownNetworkThrows() throws Exception {
            assertThatThrownBy(() -> registry().remove("nope", false)).isInstanceOf(NetworkNotFoundException.class);
            assertThatThrownBy(() -> registry().remove("nope", true)).isInstanceOf(NetworkNotFoundException.class);
        }
    }

    @Nested
    @DisplayName("join and leave")
    class JoinLeave {

        @Test
        void joinHandsOutTheLowestFreeHostSkippingTheGateway() throws Exception {
            registry().create("dev");
            assertThat(registry().join("dev", "w1")).isEqualTo(ip("10.44.1.2"));
            assertThat(registry().join("dev", "w2")).isEqualTo(ip("10.44.1.3"));
        }

        @Test
        void aRejoinReturnsTheSameAddressAndChangesNothing() throws Exception {
            registry().create("dev");
            Ipv4Address first = registry().join("dev", "w1");
            registry().join("dev", "w2");
            assertThat(registry().join("dev", "w1")).isEqualTo(first);
            assertThat(registry().get("dev").members()).hasSize(2);
        }

        @Test
        void aFreedAddressIsHandedOutAgainLowestFirst() throws Exception {
            registry().create("dev");
            registry().join("dev", "w1");
            registry().join("dev", "w2");
            registry().join("dev", "w3");
            registry().leave("dev", "w2");
            assertThat(registry().join("dev", "w4")).isEqualTo(ip("10.44.1.3"));
        }

        @Test
        void anExhaustedSubnetIsAnErrorNamingNetworkAndSubnet() throws Exception {
            registry().create("tiny", subnet("10.60.0.0/29")); // .2 to .6 besides the gateway
            for (int i = 0; i < 5; i++) {
                registry().join("tiny", "w" + i);
            }
            assertThatThrownBy(() -> registry().join("tiny", "one-too-many"))
                    .isInstanceOf(AddressExhaustedException.class).hasMessageContaining("tiny")
                    .hasMessageContaining("10.60.0.0/29");
            assertThat(registry().get("tiny").members()).hasSize(5);
        }

        @Test
        void joinOfAnUnknownNetworkThrowsAndABlankWorkspaceIsRejected() throws Exception {
            assertThatThrownBy(() -> registry().join("nope", "w1")).isInstanceOf(NetworkNotFoundException.class);
            registry().create("dev");
            assertThatThrownBy(() -> registry().join("dev", " ")).isInstanceOf(InvalidNetworkSpecException.class);
            assertThatThrownBy(() -> registry().join("dev", null)).isInstanceOf(InvalidNetworkSpecException.class);
        }

        @Test
        void leaveIsIdempotentAndNeverThrowsForAnUnknownNetworkOrMember() throws Exception {
            registry().create("dev");
            registry().join("dev", "w1");
            registry().leave("dev", "w1");
            registry().leave("dev", "w1");
            registry().leave("dev", "never-joined");
            registry().leave("nope", "w1");
            assertThat(registry().get("dev").members()).isEmpty();
        }

        @Test
        void leaveAllLeavesEveryNetworkAndNothingElse() throws Exception {
            registry().create("a");
            registry().create("b");
            registry().join("a", "w1");
            registry().join("b", "w1");
            registry().join("b", "w2");
            registry().leaveAll("w1");
            assertThat(registry().get("a").members()).isEmpty();
            assertThat(registry().get("b").workspaces()).containsExactly("w2");
            registry().leaveAll("w1");
        }
    }

    @Nested
    @DisplayName("join with a requested address")
    class RequestedAddress {

        @Test
        void aFreeRequestedAddressIsTheMembersAndLaterJoinsTakeTheLowestFreeAroundIt() throws Exception {
            registry().create("dev");
            assertThat(registry().join("dev", "w1", ip("10.44.1.2"))).isEqualTo(ip("10.44.1.2"));
            assertThat(registry().join("dev", "w2", ip("10.44.1.200"))).isEqualTo(ip("10.44.1.200"));
            assertThat(registry().join("dev", "w3")).isEqualTo(ip("10.44.1.3"));
            assertThat(openAgain(registry()).get("dev").members()).containsExactlyInAnyOrder(
                    new Member("w1", ip("10.44.1.2")), new Member("w2", ip("10.44.1.200")),
                    new Member("w3", ip("10.44.1.3")));
        }

        @Test
        void aRejoinRequestingTheAddressItHoldsReturnsItAndChangesNothing() throws Exception {
            registry().create("dev");
            registry().join("dev", "w1", ip("10.44.1.9"));
            assertThat(registry().join("dev", "w1", ip("10.44.1.9"))).isEqualTo(ip("10.44.1.9"));
            assertThat(openAgain(registry()).join("dev", " w1 ", ip("10.44.1.9"))).isEqualTo(ip("10.44.1.9"));
            assertThat(registry().get("dev").members()).containsExactly(new Member("w1", ip("10.44.1.9")));
        }

        @Test
        void aMemberHoldingAnotherAddressIsRefusedAndKeepsItsOwn() throws Exception {
            registry().create("dev");
            registry().join("dev", "w1");
            assertThatThrownBy(() -> registry().join("dev", "w1", ip("10.44.1.9")))
                    .isInstanceOf(AddressInUseException.class).hasMessageContaining("w1")
                    .hasMessageContaining("10.44.1.2").hasMessageContaining("10.44.1.9");
            assertThat(registry().get("dev").members()).containsExactly(new Member("w1", ip("10.44.1.2")));
        }

        @Test
        void anAddressAnotherMemberHoldsIsRefusedNamingTheHolderAndNothingChanges() throws Exception {
            registry().create("dev");
            registry().join("dev", "holder", ip("10.44.1.7"));
            assertThatThrownBy(() -> openAgain(registry()).join("dev", "late", ip("10.44.1.7")))
                    .isInstanceOf(AddressInUseException.class).hasMessageContaining("10.44.1.7")
                    .hasMessageContaining("holder");
            assertThat(registry().get("dev").members()).containsExactly(new Member("holder", ip("10.44.1.7")));
        }

        @Test
        void theNetworkGatewayAndBroadcastAddressesAndAddressesOutsideTheSubnetAreRefused() throws Exception {
            registry().create("small", subnet("10.60.0.0/30")); // gateway .1, one host .2, broadcast .3
            for (String bad : List.of("10.60.0.0", "10.60.0.1", "10.60.0.3", "10.60.0.4", "10.44.1.2")) {
                assertThatThrownBy(() -> registry().join("small", "w1", ip(bad))).as(bad)
                        .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining(bad)
                        .hasMessageContaining("10.60.0.0/30");
            }
            assertThat(registry().get("small").members()).isEmpty();
            assertThat(registry().join("small", "w1", ip("10.60.0.2"))).isEqualTo(ip("10.60.0.2"));
            assertThatThrownBy(() -> registry().join("small", "w2"))
                    .isInstanceOf(AddressExhaustedException.class).hasMessageContaining("small");
        }

        @Test
        void anUnknownNetworkABlankWorkspaceAndANullAddressAreRefused() throws Exception {
            assertThatThrownBy(() -> registry().join("nope", "w1", ip("10.44.1.2")))
                    .isInstanceOf(NetworkNotFoundException.class);
            registry().create("dev");
            assertThatThrownBy(() -> registry().join("dev", " ", ip("10.44.1.2")))
                    .isInstanceOf(InvalidNetworkSpecException.class);
            assertThatThrownBy(() -> registry().join("dev", "w1", null)).isInstanceOf(NullPointerException.class);
            assertThat(registry().get("dev").members()).isEmpty();
        }

        @Test
        void theAddressSurvivesStopStartAndOnlyALeaveGivesItUp() throws Exception {
            registry().create("dev");
            registry().join("dev", "w1", ip("10.44.1.50"));
            // a VM stopped and started joins again, with or without the request: the member keeps its address
            assertThat(openAgain(registry()).join("dev", "w1")).isEqualTo(ip("10.44.1.50"));
            assertThat(openAgain(registry()).join("dev", "w1", ip("10.44.1.50"))).isEqualTo(ip("10.44.1.50"));
            // after a leave, a join without a request gets the lowest free host, and the address is free again
            registry().leave("dev", "w1");
            assertThat(registry().join("dev", "w1")).isEqualTo(ip("10.44.1.2"));
            assertThat(registry().join("dev", "w2", ip("10.44.1.50"))).isEqualTo(ip("10.44.1.50"));
        }

        @Test
        @Timeout(120)
        void twoJoinsRequestingTheSameAddressAtOnceExactlyOneWins() throws Exception {
            registry().create("dev");
            NetworkRegistry other = openAgain(registry());
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                for (int round = 0; round < 10; round++) {
                    Ipv4Address wanted = ip("10.44.1." + (100 + round));
                    CountDownLatch start = new CountDownLatch(1);
                    List<Future<String>> outcomes = new ArrayList<>();
                    for (int t = 0; t < 2; t++) {
                        NetworkRegistry client = t == 0 ? registry() : other;
                        String ws = "r" + round + "-t" + t;
                        outcomes.add(pool.submit(() -> {
                            start.await();
                            try {
                                client.join("dev", ws, wanted);
                                return "won";
                            } catch (AddressInUseException e) {
                                return e.getMessage();
                            }
                        }));
                    }
                    start.countDown();
                    List<String> results = new ArrayList<>();
                    for (Future<String> f : outcomes) {
                        results.add(f.get());
                    }
                    assertThat(results).as("round " + round).containsOnlyOnce("won");
                    int winner = results.indexOf("won");
                    assertThat(results.get(1 - winner)).contains("r" + round + "-t" + winner);
                    assertThat(other.get("dev").members()).filteredOn(m -> m.ip().equals(wanted))
                            .extracting(Member::workspace).containsExactly("r" + round + "-t" + winner);
                }
            } finally {
                pool.shutdownNow();
            }
            assertThat(registry().get("dev").members()).hasSize(10);
        }
    }

    @Nested
    @DisplayName("the whole index")
    class WholeIndex {

        @Test
        void aNewStoreHoldsAnEmptyIndex() throws Exception {
            assertThat(registry().readIndex().networks()).isEmpty();
            assertThat(registry().list()).isEmpty();
        }

        @Test
        void writeIndexThenReadIndexGivesTheSameIndexSortedByName() throws Exception {
            NetworkRecord b = new NetworkRecord("b", subnet("10.44.2.0/24"), ip("10.44.2.1"),
                    Instant.parse("2026-11-22T18:38:30Z"), List.of(new Member("w1", ip("10.44.2.7"))));
            NetworkRecord a = new NetworkRecord("a", subnet("10.44.1.0/24"), ip("10.44.1.1"), null, List.of());
            registry().writeIndex(new NetworkIndex(List.of(b, a)));
            assertThat(registry().readIndex()).isEqualTo(new NetworkIndex(List.of(a, b)));
            assertThat(registry().join("b", "w2")).as("allocation continues from what was written")
                    .isEqualTo(ip("10.44.2.2"));
        }

        @Test
        void writeIndexValidatesAndChangesNothingWhenInvalid() throws Exception {
            registry().create("dev");
            registry().join("dev", "w1");
            NetworkIndex before = registry().readIndex();
            NetworkRecord a = new NetworkRecord("a", subnet("10.1.0.0/24"), ip("10.1.0.1"), null, List.of());
            List<NetworkIndex> invalid = List.of(
                    new NetworkIndex(List.of(a, a)),
                    new NetworkIndex(List.of(a, new NetworkRecord("b", subnet("10.1.0.0/25"), ip("10.1.0.1"), null,
                            List.of()))),
                    new NetworkIndex(List.of(a.withMembers(List.of(new Member("w", ip("10.2.0.5")))))),
                    new NetworkIndex(List.of(a.withMembers(List.of(new Member("w", ip("10.1.0.1")))))),
                    new NetworkIndex(List.of(a.withMembers(List.of(new Member("v", ip("10.1.0.5")),
                            new Member("w", ip("10.1.0.5")))))));
            for (NetworkIndex index : invalid) {
                assertThatThrownBy(() -> registry().writeIndex(index)).isInstanceOf(NetworkException.class);
            }
            assertThat(registry().readIndex()).isEqualTo(before);
        }
    }

    @Nested
    @DisplayName("concurrency")
    class Concurrency {

        @Test
        @Timeout(120)
        void manyThreadsJoiningOneNetworkNeverShareAnAddressNorLoseAMember() throws Exception {
            registry().create("dev", subnet("10.44.0.0/22"));
            int threads = 8;
            int joins = 25;
            Map<String, Ipv4Address> acknowledged = new ConcurrentHashMap<>();
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                NetworkRegistry client = thread % 2 == 0 ? registry() : openAgain(registry());
                done.add(pool.submit(() -> {
                    start.await();
                    for (int i = 0; i < joins; i++) {
                        String ws = "t" + thread + "-" + i;
                        acknowledged.put(ws, client.join("dev", ws));
                        if (i % 5 == 4) {
                            client.leave("dev", ws);
                            acknowledged.remove(ws);
                        }
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : done) {
                f.get();
            }
            pool.shutdown();
            assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
            NetworkRecord dev = openAgain(registry()).get("dev");
            assertThat(dev.members()).extracting(Member::ip).doesNotHaveDuplicates()
                    .doesNotContain(dev.gateway(), dev.subnet().networkAddress(), dev.subnet().broadcastAddress());
            assertThat(dev.members().stream().collect(Collectors.toMap(Member::workspace, Member::ip)))
                    .isEqualTo(acknowledged);
        }

        @Test
        @Timeout(120)
        void networksCreatedConcurrentlyGetDistinctSubnets() throws Exception {
            int threads = 6;
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<NetworkRecord>> created = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                String name = "net" + t;
                NetworkRegistry client = t % 2 == 0 ? registry() : openAgain(registry());
                created.add(pool.submit(() -> {
                    start.await();
                    return client.create(name);
                }));
            }
            start.countDown();
            List<Ipv4Subnet> subnets = new ArrayList<>();
            for (Future<NetworkRecord> f : created) {
                subnets.add(f.get().subnet());
            }
            pool.shutdown();
            for (int i = 0; i < subnets.size(); i++) {
                for (int j = i + 1; j < subnets.size(); j++) {
                    assertThat(subnets.get(i).overlaps(subnets.get(j))).as("%s vs %s", subnets.get(i), subnets.get(j))
                            .isFalse();
                }
            }
            assertThat(registry().list()).hasSize(threads);
        }
    }

    @Nested
    @DisplayName("watching")
    class Watching {

        private RegistryChange next(BlockingQueue<RegistryChange> seen) throws InterruptedException {
            RegistryChange change = seen.poll(15, TimeUnit.SECONDS);
            assertThat(change).as("a change reported within 15 s").isNotNull();
            return change;
        }

        @Test
        @Timeout(120)
        void changesMadeByAnotherClientAreReportedInOrder() throws Exception {
            BlockingQueue<RegistryChange> seen = new LinkedBlockingQueue<>();
            NetworkRegistry other = openAgain(registry());
            try (RegistryWatch watch = registry().watch(seen::add)) {
                other.create("dev");
                assertThat(next(seen)).isEqualTo(new RegistryChange(RegistryChange.Type.NETWORK_CREATED, "dev", null));
                Ipv4Address ip = other.join("dev", "w1");
                assertThat(next(seen)).isEqualTo(new RegistryChange(RegistryChange.Type.MEMBER_JOINED, "dev",
                        new Member("w1", ip)));
                Ipv4Address second = other.join("dev", "w2");
                other.leave("dev", "w1");
                // two quick changes may be reported as one difference, in either order
                assertThat(List.of(next(seen), next(seen))).containsExactlyInAnyOrder(
                        new RegistryChange(RegistryChange.Type.MEMBER_JOINED, "dev", new Member("w2", second)),
                        new RegistryChange(RegistryChange.Type.MEMBER_LEFT, "dev", new Member("w1", ip)));
                other.remove("dev", true);
                RegistryChange left = next(seen);
                assertThat(left.type()).isEqualTo(RegistryChange.Type.MEMBER_LEFT);
                assertThat(left.member().workspace()).isEqualTo("w2");
                assertThat(next(seen)).isEqualTo(new RegistryChange(RegistryChange.Type.NETWORK_REMOVED, "dev", null));
            }
            other.create("after-close");
            assertThat(seen.poll(1, TimeUnit.SECONDS)).as("nothing is delivered after close").isNull();
        }
    }
}
