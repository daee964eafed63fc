package dev.tapwire.network.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.HostConflictException;
import dev.tapwire.network.HostLease;
import dev.tapwire.network.HostRecord;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkNotFoundException;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.Placement;
import dev.tapwire.network.PlacementChange;
import dev.tapwire.network.PlacementRegistry;
import dev.tapwire.network.RegistryWatch;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The contract every {@link PlacementRegistry} must keep, as an abstract JUnit 5 class: extend it, implement
 * {@link #createRegistry()}, and inherit {@code @Nested} groups of sentence-named tests for registration (conflicts,
 * re-attaching), placing and unplacing, VNIs, watching, and the end of a lease. What only a registry shared by
 * hosts can show (leases expiring within their TTL, hosts seeing each other's placements) belongs to that
 * registry's own tests.
 *
 * <p>{@link #createRegistry()} must return an empty {@link NetworkRegistry} whose {@link NetworkRegistry#placements()}
 * are under test; {@link #openAgain(NetworkRegistry)} opens a second client on the same store (another process
 * or host would). Leases the kit takes are withdrawn after each test.
 *
 * <pre>{@code
 * class MyPlacementContractTest extends PlacementRegistryContractKit {
 *     @Override
 *     protected NetworkRegistry createRegistry() {
 *         return MyRegistry.open(freshStore());
 *     }
 * }
 * }</pre>
 */
public abstract class PlacementRegistryContractKit {

    /** The TTL of the kit's leases: the shortest the contract accepts, so that what expires does so quickly. */
    protected static final Duration TTL = Duration.ofSeconds(2);

    private NetworkRegistry registry;
    private final List<HostLease> leases = new ArrayList<>();

    /** For subclasses. */
    protected PlacementRegistryContractKit() {
    }

    /**
     * Creates the registry whose placements are under test, on a fresh, empty store. Called at most once per test.
     *
     * @return the registry
     * @throws Exception if it cannot be created
     */
    protected abstract NetworkRegistry createRegistry() throws Exception;

    /**
     * Opens another client of the store {@code registry} uses; by default the same instance.
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

    /**
     * Returns the placements under test: those of {@link #registry()}.
     *
     * @return the placement registry
     * @throws Exception if the registry cannot be created
     */
    protected final PlacementRegistry placements() throws Exception {
        return registry().placements();
    }

    /**
     * Registers a host through {@code on} with the kit's {@link #TTL}; the lease is withdrawn after the test.
     *
     * @param on the placements to register with
     * @param name the host's name
     * @param underlay its underlay address
     * @return the lease
     */
    protected final HostLease register(PlacementRegistry on, String name, String underlay) {
        HostLease lease = on.register(new HostRecord(name, Ipv4Address.parse(underlay)), TTL);
        leases.add(lease);
        return lease;
    }

    @AfterEach
    void withdrawLeases() {
        for (HostLease lease : leases) {
            try {
                lease.withdraw();
            } catch (RuntimeException ignored) {
                // the store went away with the test
            }
            lease.close();
        }
        leases.clear();
        registry = null;
    }

    private static final MacAddress MAC_1 = MacAddress.parse("02:00:00:00:00:01");
    private static final MacAddress MAC_2 = MacAddress.parse("02:00:00:00:00:02");

    /** Creates network {@code team} with members {@code alpha} and {@code beta}. */
    private void team() throws Exception {
        registry().create("team");
        registry().join("team", "alpha");
        registry().join("team", "beta");
    }

    private static void eventually(String what, BooleanSupplier condition, Duration within) throws InterruptedException {
        long end = System.nanoTime() + within.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime() < end).as(what + " within " + within.toMillis() + " ms").isTrue();
            Thread.sleep(50);
        }
    }

    @Nested
    @DisplayName("registering a host")
    class Registering {

        @Test
        void aRegisteredHostIsListedAndItsLeaseHolds() throws Exception {
            HostLease lease = register(placements(), "node-1", "127.0.0.1");
            assertThat(lease.isValid()).isTrue();
            assertThat(lease.host()).isEqualTo(new HostRecord("node-1", Ipv4Address.parse("127.0.0.1")));
            assertThat(openAgain(registry()).placements().hosts()).containsExactly(lease.host());
        }

        @Test
        void theSameNameWithAnotherUnderlayIsAConflictNamingBothUnderlays() throws Exception {
            register(placements(), "node-1", "127.0.0.1");
            PlacementRegistry other = openAgain(registry()).placements();
            assertThatThrownBy(() -> register(other, "node-1", "127.0.0.2"))
                    .isInstanceOf(HostConflictException.class).hasMessageContaining("127.0.0.1")
                    .hasMessageContaining("127.0.0.2").hasMessageContaining("node-1")
                    .satisfies(e -> assertThat(((HostConflictException) e).host()).isEqualTo("node-1"));
            assertThat(placements().hosts()).extracting(HostRecord::underlay)
                    .containsExactly(Ipv4Address.parse("127.0.0.1"));
        }

        @Test
        void anotherNameIsAConflictOnASingleHostRegistryAndASecondHostOnASharedOne() throws Exception {
            register(placements(), "node-1", "127.0.0.1");
            PlacementRegistry other = openAgain(registry()).placements();
            if (placements().spansHosts()) {
                register(other, "node-2", "127.0.0.2");
                assertThat(placements().hosts()).extracting(HostRecord::name).containsExactly("node-1", "node-2");
            } else {
                assertThatThrownBy(() -> register(other, "node-2", "127.0.0.2"))
                        .isInstanceOf(HostConflictException.class).hasMessageContaining("node-1")
                        .hasMessageContaining("node-2");
                assertThat(placements().hosts()).extracting(HostRecord::name).containsExactly("node-1");
            }
        }

        @Test
        @Timeout(60)
        void theSameHostRegisteringAgainTakesOverItsPlacementsAndEndsTheEarlierLease() throws Exception {
            team();
            HostLease first = register(placements(), "node-1", "127.0.0.1");
            first.place("team", "alpha", MAC_1);
            HostLease again = register(openAgain(registry()).placements(), "node-1", "127.0.0.1");
            assertThat(again.isValid()).isTrue();
            assertThat(placements().placements("team")).containsExactly(new Placement("team", "alpha", "node-1", MAC_1));
            eventually("the earlier lease ends", () -> !first.isValid(), TTL.plusSeconds(2));
            assertThat(placements().placements("team")).as("still there: they belong to the new lease")
                    .containsExactly(new Placement("team", "alpha", "node-1", MAC_1));
            again.place("team", "beta", MAC_2);
            assertThat(placements().placements("team")).extracting(Placement::workspace).containsExactly("alpha", "beta");
        }

        @Test
        void anotherClientAttachesToALiveLeaseToPlaceWithoutTakingItOver() throws Exception {
            team();
            HostLease agent = register(placements(), "node-1", "127.0.0.1");
            PlacementRegistry other = openAgain(registry()).placements();
            assertThatThrownBy(() -> other.attach("node-9")).isInstanceOf(NetworkException.class)
                    .hasMessageContaining("node-9").hasMessageContaining("agent");
            HostLease attached = other.attach("node-1");
            assertThat(attached.host()).isEqualTo(agent.host());
            assertThat(attached.isValid()).isTrue();
            attached.place("team", "alpha", MAC_1);
            attached.close();
            attached.withdraw();
            assertThat(attached.isValid()).isFalse();
            assertThat(agent.isValid()).as("the agent's lease is untouched").isTrue();
            assertThat(placements().placements("team")).containsExactly(new Placement("team", "alpha", "node-1", MAC_1));
            HostLease again = other.attach("node-1");
            agent.withdraw();
            assertThat(again.isValid()).as("valid only while the lease holds").isFalse();
            assertThatThrownBy(() -> again.place("team", "beta", MAC_2)).isInstanceOf(NetworkException.class);
        }

        @Test
        void aTtlShorterThanTwoSecondsIsRefused() throws Exception {
            assertThatThrownBy(() -> placements().register(new HostRecord("node-1", Ipv4Address.parse("127.0.0.1")),
                    Duration.ofMillis(1999))).isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("2 s");
            assertThat(placements().hosts()).isEmpty();
        }
    }

    @Nested
    @DisplayName("placing members")
    class Placing {

        @Test
        void placeAndUnplaceAreIdempotentAndPlacementsAreSortedByWorkspace() throws Exception {
            team();
            HostLease lease = register(placements(), "node-1", "127.0.0.1");
            lease.place("team", "beta", MAC_2);
            lease.place("team", "alpha", MAC_1);
            lease.place("team", "alpha", MAC_1);
            assertThat(openAgain(registry()).placements().placements("team")).containsExactly(
                    new Placement("team", "alpha", "node-1", MAC_1), new Placement("team", "beta", "node-1", MAC_2));
            lease.unplace("team", "alpha");
            lease.unplace("team", "alpha");
            lease.unplace("team", "never-placed");
            assertThat(placements().placements("team")).containsExactly(new Placement("team", "beta", "node-1", MAC_2));
        }

        @Test
        void aPlacementReplacesTheMembersEarlierOne() throws Exception {
            team();
            HostLease lease = register(placements(), "node-1", "127.0.0.1");
            lease.place("team", "alpha", MAC_1);
            lease.place("team", "alpha", MAC_2); // re-created with another NIC
            assertThat(placements().placements("team")).containsExactly(new Placement("team", "alpha", "node-1", MAC_2));
        }

        @Test
        void onlyMembersArePlacedAndAMemberThatLeftHasNoPlacement() throws Exception {
            team();
            HostLease lease = register(placements(), "node-1", "127.0.0.1");
            assertThatThrownBy(() -> lease.place("team", "stranger", MAC_1))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("stranger")
                    .hasMessageContaining("team");
            assertThatThrownBy(() -> lease.place("nope", "alpha", MAC_1)).isInstanceOf(NetworkNotFoundException.class);
            lease.place("team", "alpha", MAC_1);
            registry().leave("team", "alpha");
            assertThat(placements().placements("team")).isEmpty();
            assertThat(placements().placements("nope")).isEmpty();
        }

        @Test
        void placementsOfOneNetworkAreNotThoseOfAnother() throws Exception {
            team();
            registry().create("other");
            registry().join("other", "alpha");
            HostLease lease = register(placements(), "node-1", "127.0.0.1");
            lease.place("other", "alpha", MAC_2);
            assertThat(placements().placements("team")).isEmpty();
            assertThat(placements().placements("other")).containsExactly(new Placement("other", "alpha", "node-1", MAC_2));
        }
    }

    @Nested
    @DisplayName("VNIs")
    class Vnis {

        @Test
        void aNetworksVniIsAllocatedOnceAndSeenByEveryClient() throws Exception {
            team();
            assertThat(placements().vni("team")).isEmpty();
            HostLease lease = register(placements(), "node-1", "127.0.0.1");
            int vni = lease.vni("team");
            assertThat(vni).isBetween(1, PlacementRegistry.MAX_VNI).isEqualTo(PlacementRegistry.vniCandidate("team", 0));
            assertThat(lease.vni("team")).isEqualTo(vni);
            assertThat(openAgain(registry()).placements().vni("team")).contains(vni);
            assertThatThrownBy(() -> lease.vni("nope")).isInstanceOf(NetworkNotFoundException.class);
        }

        @Test
        void twoNetworksWhoseNamesDeriveTheSameVniGetDistinctOnes() throws Exception {
            String[] pair = collidingNames();
            registry().create(pair[0]);
            registry().create(pair[1]);
            HostLease lease = register(placements(), "node-1", "127.0.0.1");
            int first = lease.vni(pair[0]);
            int second = register(openAgain(registry()).placements(), "node-1", "127.0.0.1").vni(pair[1]);
            assertThat(first).isEqualTo(PlacementRegistry.vniCandidate(pair[0], 0));
            assertThat(second).isNotEqualTo(first).isEqualTo(PlacementRegistry.vniCandidate(pair[1], 1));
            assertThat(placements().vni(pair[0])).contains(first);
        }

        @Test
        void manyNetworksNeverShareAVni() throws Exception {
            HostLease lease = register(placements(), "node-1", "127.0.0.1");
            Set<Integer> seen = new HashSet<>();
            for (int i = 0; i < 20; i++) {
                registry().create("net-" + i);
                assertThat(seen.add(lease.vni("net-" + i))).as("net-" + i).isTrue();
            }
        }
    }

    /** Two network names whose first VNI candidates are the same (found by the birthday bound: a few thousand). */
    static String[] collidingNames() {
        Map<Integer, String> byVni = new HashMap<>();
        for (int i = 0; ; i++) {
            String name = "n" + i;
            String earlier = byVni.putIfAbsent(PlacementRegistry.vniCandidate(name, 0), name);
            if (earlier != null) {
                return new String[] {earlier, name};
            }
        }
    }

    @Nested
    @DisplayName("watching")
    class Watching {

        private PlacementChange next(BlockingQueue<PlacementChange> seen) throws InterruptedException {
            PlacementChange change = seen.poll(15, TimeUnit.SECONDS);
            assertThat(change).as("a change reported within 15 s").isNotNull();
            return change;
        }

        @Test
        @Timeout(60)
        void aWatchStartsWithAResyncThenReportsHostsAndPlacements() throws Exception {
            team();
            BlockingQueue<PlacementChange> seen = new LinkedBlockingQueue<>();
            PlacementRegistry other = openAgain(registry()).placements();
            try (RegistryWatch watch = placements().watch(seen::add)) {
                assertThat(next(seen)).isEqualTo(PlacementChange.resync());
                HostLease lease = register(other, "node-1", "127.0.0.1");
                assertThat(next(seen)).isEqualTo(new PlacementChange(PlacementChange.Type.HOST_UP, null, null, "node-1"));
                lease.place("team", "alpha", MAC_1);
                assertThat(next(seen)).isEqualTo(new PlacementChange(PlacementChange.Type.PLACED, "team", "alpha",
                        "node-1"));
                lease.unplace("team", "alpha");
                assertThat(next(seen)).isEqualTo(new PlacementChange(PlacementChange.Type.UNPLACED, "team", "alpha",
                        "node-1"));
            }
            seen.clear();
            register(other, "node-1", "127.0.0.1");
            assertThat(seen.poll(1, TimeUnit.SECONDS)).as("nothing is delivered after close").isNull();
        }
    }

    @Nested
    @DisplayName("the end of a lease")
    class Ending {

        @Test
        @Timeout(60)
        void withdrawRemovesTheHostAndEveryPlacementAtOnce() throws Exception {
            team();
            HostLease lease = register(placements(), "node-1", "127.0.0.1");
            lease.place("team", "alpha", MAC_1);
            lease.place("team", "beta", MAC_2);
            BlockingQueue<PlacementChange> seen = new LinkedBlockingQueue<>();
            try (RegistryWatch watch = openAgain(registry()).placements().watch(seen::add)) {
                assertThat(seen.poll(15, TimeUnit.SECONDS)).isEqualTo(PlacementChange.resync());
                lease.withdraw();
                lease.withdraw();
                assertThat(lease.isValid()).isFalse();
                assertThat(placements().hosts()).isEmpty();
                assertThat(placements().placements("team")).isEmpty();
                // in any order: the store may report the host's end before or after its placements'
                Set<PlacementChange> expected = Set.of(
                        new PlacementChange(PlacementChange.Type.UNPLACED, "team", "alpha", "node-1"),
                        new PlacementChange(PlacementChange.Type.UNPLACED, "team", "beta", "node-1"),
                        new PlacementChange(PlacementChange.Type.HOST_DOWN, null, null, "node-1"));
                List<PlacementChange> changes = new ArrayList<>();
                while (!changes.containsAll(expected)) {
                    PlacementChange c = seen.poll(15, TimeUnit.SECONDS);
                    assertThat(c).as("UNPLACED twice and HOST_DOWN within 15 s, after " + changes).isNotNull();
                    changes.add(c);
                }
            }
            assertThatThrownBy(() -> lease.place("team", "alpha", MAC_1)).isInstanceOf(NetworkException.class)
                    .hasMessageContaining("node-1").hasMessageContaining("register");
            register(placements(), "node-2", "127.0.0.2"); // the name is free again
        }

        @Test
        void closeStopsRenewingButKeepsTheRecordsForTheTtl() throws Exception {
            team();
            HostLease lease = register(placements(), "node-1", "127.0.0.1");
            lease.place("team", "alpha", MAC_1);
            lease.close();
            lease.close();
            assertThat(lease.isValid()).isFalse();
            assertThat(placements().placements("team")).containsExactly(new Placement("team", "alpha", "node-1", MAC_1));
            assertThatThrownBy(() -> lease.place("team", "beta", MAC_2)).isInstanceOf(NetworkException.class);
            HostLease again = register(openAgain(registry()).placements(), "node-1", "127.0.0.1");
            assertThat(placements().placements("team")).as("re-attached within the TTL")
                    .containsExactly(new Placement("team", "alpha", "node-1", MAC_1));
            assertThat(again.isValid()).isTrue();
        }

        @Test
        @Timeout(60)
        void aClosedLeaseEndsWithinItsTtlAndItsRecordsWithIt() throws Exception {
            team();
            HostLease lease = register(placements(), "node-1", "127.0.0.1");
            lease.place("team", "alpha", MAC_1);
            long closed = System.nanoTime();
            lease.close();
            eventually("the host's records vanish", () -> {
                try {
                    return placements().hosts().isEmpty() && placements().placements("team").isEmpty();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, TTL.plusSeconds(3));
            // renewed at most a third of the TTL before the close: they stay at least the rest of it
            assertThat(Duration.ofNanos(System.nanoTime() - closed)).as("kept after the close")
                    .isGreaterThanOrEqualTo(TTL.dividedBy(2));
        }
    }
}
