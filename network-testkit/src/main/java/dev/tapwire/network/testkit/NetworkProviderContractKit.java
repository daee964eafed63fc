package dev.tapwire.network.testkit;

import static dev.tapwire.network.testkit.NetworkAssertions.assertThat;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.AddressExhaustedException;
import dev.tapwire.network.AddressInUseException;
import dev.tapwire.network.ConfigureRequest;
import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.GuestNetwork;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkNames;
import dev.tapwire.network.NetworkNotFoundException;
import dev.tapwire.network.NetworkProvider;
import dev.tapwire.network.NetworkRealizations;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.NicSpec;
import dev.tapwire.network.PortPublication;
import dev.tapwire.network.RealizeOptions;
import dev.tapwire.network.RealizedNetwork;
import dev.tapwire.network.TapNames;
import dev.tapwire.network.VerifyReport;
import dev.tapwire.network.VmRecord;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.gc.ActiveVms;
import dev.tapwire.network.gc.GcOrchestrator;
import dev.tapwire.network.gc.GcReport;
import dev.tapwire.network.registry.FileNetworkRegistry;
import dev.tapwire.network.spi.ProviderSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The contract every {@link NetworkProvider} must keep, as an abstract JUnit 5 class: extend it, implement
 * {@link #createProvider(Path)}, and inherit {@code @Nested} groups of tests for configure, recovery,
 * collisions, delete and verify, garbage collection, validation and records.
 *
 * <p>{@link #createProvider(Path)} is called lazily from inside each test, so a subclass annotated with
 * {@link IsolatedNetns} makes its provider — and any bridge it needs, in {@code @BeforeEach} — inside the
 * test's private network namespace.
 *
 * <pre>{@code
 * class MyProviderContractTest extends NetworkProviderContractKit {
 *     @Override
 *     protected NetworkProvider createProvider(Path rootDir) {
 *         return new MyProvider(ProviderSettings.of(rootDir));
 *     }
 * }
 * }</pre>
 */
public abstract class NetworkProviderContractKit {

    /** A fresh root directory for each test's provider. */
    @TempDir
    protected Path rootDir;

    private NetworkProvider provider;
    private final List<String> vms = new ArrayList<>();

    /** For subclasses. */
    protected NetworkProviderContractKit() {
    }

    /**
     * Creates the provider under test. Called at most once per test, from inside the test.
     *
     * @param rootDir a fresh directory for its state
     * @return the provider
     * @throws Exception if it cannot be created
     */
    protected abstract NetworkProvider createProvider(Path rootDir) throws Exception;

    /**
     * Creates the provider under test serving named networks from {@code registry} (for the "named networks"
     * group). The default skips that group, for a provider that serves no named networks.
     *
     * @param rootDir a fresh directory for its state
     * @param registry the registry its named networks live in
     * @return the provider
     * @throws Exception if it cannot be created
     */
    protected NetworkProvider createProvider(Path rootDir, NetworkRegistry registry) throws Exception {
        Assumptions.abort(getClass().getSimpleName() + " serves no named networks: override"
                + " createProvider(Path, NetworkRegistry) to test them");
        return null;
    }

    /**
     * Creates a provider of the type under test from {@code settings} as they are (for the "settings" group, which
     * checks what a backend refuses). The bridge a test needs must exist already: {@link #existingBridge} names it.
     * The default skips that group.
     *
     * @param settings the settings, as a manager passes them
     * @return the provider
     * @throws Exception if it cannot be created, e.g. the settings are refused
     */
    protected NetworkProvider createProvider(ProviderSettings settings) throws Exception {
        Assumptions.abort(getClass().getSimpleName() + " does not say how to make its provider from settings:"
                + " override createProvider(ProviderSettings) to test what it refuses");
        return null;
    }

    /**
     * Asks a realized network's DNS server (at its gateway) for a name, as a guest would, for the tests that check
     * that DNS follows the registry. The default skips them.
     *
     * @param network the network
     * @param gateway its gateway, where its DNS server listens
     * @param name the name, e.g. {@code web.team}
     * @return the addresses answered, empty for none
     * @throws Exception if the query cannot be made
     */
    protected List<Ipv4Address> resolve(String network, Ipv4Address gateway, String name) throws Exception {
        Assumptions.abort(getClass().getSimpleName() + " does not say how to query a network's DNS: override"
                + " resolve(String, Ipv4Address, String)");
        return List.of();
    }

    /** Waits up to 5 s for {@code name} to resolve to {@code expected} (empty: to stop resolving). */
    private void awaitResolved(String network, Ipv4Address gateway, String name, List<Ipv4Address> expected)
            throws Exception {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(5);
        List<Ipv4Address> got = resolve(network, gateway, name);
        while (!got.equals(expected) && System.nanoTime() < deadline) {
            Thread.sleep(50);
            got = resolve(network, gateway, name);
        }
        assertThat(got).as("%s on network %s within 5 s", name, network).isEqualTo(expected);
    }

    /**
     * Returns the name of a bridge that exists where {@link #createProvider(Path)} makes its provider (the one its
     * {@code bridge} option names).
     *
     * @return the bridge name, {@code br0} by default
     */
    protected String existingBridge() {
        return "br0";
    }

    /**
     * Tells whether the provider keeps guest records, so that {@link NetworkProvider#inspect} returns what
     * {@code configure} made. Both tapwire backends do; override to return false for a backend that does not.
     *
     * @return true by default
     */
    protected boolean keepsRecords() {
        return true;
    }

    /**
     * Returns the provider of the current test, creating it on first use.
     *
     * @return the provider
     * @throws Exception if it cannot be created
     */
    protected final NetworkProvider provider() throws Exception {
        if (provider == null) {
            provider = createProvider(rootDir);
        }
        return provider;
    }

    /**
     * Configures {@code nics} NICs for a VM and remembers it for clean-up.
     *
     * @param vmId the VM
     * @param nics how many NICs
     * @param spec the VM spec
     * @return the configs
     * @throws Exception on failure
     */
    protected final List<NicConfig> configure(String vmId, int nics, VmSpec spec) throws Exception {
        vms.add(vmId);
        return provider().configure(vmId, nics, spec, List.of());
    }

    /** Deletes every VM the test configured and closes the provider, so nothing leaks between tests. */
    @AfterEach
    void deleteConfiguredVms() throws Exception {
        if (provider != null) {
            try (NetworkProvider done = provider) {
                if (!vms.isEmpty()) {
                    done.delete(vms);
                }
            }
        }
    }

    /** Named networks: joins as the workspace, the guest's address and a MAC derived from the names. */
    @Nested
    @DisplayName("named networks")
    class NamedNetworks {
        private NetworkRegistry registry;
        private NetworkProvider named;
        private final List<String> namedVms = new ArrayList<>();

        private List<NicConfig> configureOn(String vmId, int nics, VmSpec spec) throws Exception {
            registry();
            namedVms.add(vmId);
            return named.configure(vmId, nics, spec, List.of());
        }

        /** The group's registry (a file registry under the root directory) and provider, made on first use. */
        private NetworkRegistry registry() throws Exception {
            if (named == null) {
                registry = FileNetworkRegistry.open(rootDir.resolve("registry"));
                named = createProvider(rootDir, registry);
            }
            return registry;
        }

        /** Creates the networks team (10.77.0.0/24) and db (10.78.0.0/24). */
        private void teamAndDb() throws Exception {
            registry().create("team", Ipv4Subnet.parse("10.77.0.0/24"));
            registry.create("db", Ipv4Subnet.parse("10.78.0.0/24"));
        }

        @AfterEach
        void deleteVms() {
            if (named != null) {
                try (NetworkProvider done = named) {
                    if (!namedVms.isEmpty()) {
                        done.delete(namedVms);
                    }
                }
            }
        }

        @Test
        void aSecondLiveVmCannotTakeAWorkspaceThatALiveVmHoldsOnANetwork() throws Exception {
            registry().create("team", Ipv4Subnet.parse("10.77.0.0/24"));
            VmSpec web = VmSpec.of(1).withNetworks(List.of("team")).withWorkspace("web");
            List<NicConfig> first = configureOn("vm-1", 1, web);

            assertThatThrownBy(() -> configureOn("vm-2", 1, web)).isInstanceOf(InvalidNetworkSpecException.class)
                    .hasMessageContaining("workspace web is held on network team by live VM vm-1")
                    .hasMessageContaining("delete VM vm-1 first");
            assertThat(registry.get("team").members()).extracting(Member::workspace).containsExactly("web");
            assertThat(registry.get("team").member("web")).map(Member::ip).contains(first.get(0).network().ip());
            named.verify("vm-1");

            // the same VM again, with its saved configs, is no second VM
            assertThat(named.configure("vm-1", 1, web, first)).isEqualTo(first);
            named.verify("vm-1");
        }

        @Test
        void aWorkspaceNameIsTrimmedOnceSoARollbackNeverMakesTheRealMemberLeave() throws Exception {
            registry().create("team", Ipv4Subnet.parse("10.77.0.0/24"));
            registry.create("tiny", Ipv4Subnet.parse("10.79.0.0/30")); // one host
            registry.join("tiny", "first");
            Ipv4Address beta = registry.join("team", "beta"); // a member with no VM yet
            assertThatThrownBy(() -> configureOn("vm-2", 2, VmSpec.of(1).withNetworks(List.of("team", "tiny"))
                    .withWorkspace(" beta "))).isInstanceOf(AddressExhaustedException.class);
            assertThat(registry.get("team").member("beta")).map(Member::ip).contains(beta);

            NicConfig nic = configureOn("vm-1", 1, VmSpec.of(1).withNetworks(List.of("team")).withWorkspace("beta"))
                    .get(0);
            assertThatThrownBy(() -> configureOn("vm-3", 1, VmSpec.of(1).withNetworks(List.of("team"))
                    .withWorkspace("\tbeta "))).isInstanceOf(InvalidNetworkSpecException.class)
                    .hasMessageContaining("held on network team by live VM vm-1");
            assertThat(nic.mac()).isEqualTo(MacAddress.forMember("team", "beta"));
            assertThat(registry.get("team").workspaces()).containsExactly("beta");
            assertThat(registry.get("team").member("beta")).map(Member::ip).contains(beta);
        }

        @Test
        void aWorkspaceWhoseNameDiffersFromAMembersOnlyInCaseIsRefused() throws Exception {
            registry().create("team", Ipv4Subnet.parse("10.77.0.0/24"));
            configureOn("vm-1", 1, VmSpec.of(1).withNetworks(List.of("team")).withWorkspace("beta"));
            for (String other : List.of("Beta", "BETA")) {
                assertThatThrownBy(() -> configureOn("vm-" + other, 1, VmSpec.of(1).withNetworks(List.of("team"))
                        .withWorkspace(other))).isInstanceOf(InvalidNetworkSpecException.class)
                        .hasMessageContaining("member beta has that name there, and DNS names are case-insensitive");
            }
            assertThat(registry.get("team").workspaces()).containsExactly("beta");
        }

        @Test
        void aNicOnANamedNetworkJoinsItAsTheWorkspaceAndCarriesTheGuestsAddress() throws Exception {
            registry().create("team", Ipv4Subnet.parse("10.77.0.0/24"));
            NicConfig nic = configureOn("vm-1", 1, VmSpec.of(1).withNetworks(List.of("team")).withWorkspace("web"))
                    .get(0);
            assertThat(nic.network()).isEqualTo(new GuestNetwork(Ipv4Address.parse("10.77.0.2"),
                    Ipv4Address.parse("10.77.0.1"), 24));
            assertThat(nic.bridgeDev()).isEqualTo(NetworkNames.bridgeName("team"));
            assertThat(registry.get("team").member("web")).map(Member::ip).contains(nic.network().ip());
        }

        @Test
        void theGuestMacComesFromNetworkAndWorkspaceAndSurvivesReCreation() throws Exception {
            registry().create("team", Ipv4Subnet.parse("10.77.0.0/24"));
            VmSpec spec = VmSpec.of(1).withNetworks(List.of("team")).withWorkspace("web");
            NicConfig first = configureOn("vm-1", 1, spec).get(0);
            named.delete(List.of("vm-1"));
            NicConfig again = configureOn("vm-2", 1, spec).get(0);
            assertThat(first.mac()).isEqualTo(MacAddress.forMember("team", "web")).isEqualTo(again.mac());
            assertThat(again.network()).isEqualTo(first.network());
        }

        @Test
        void theWorkspaceDefaultsToTheVmIdAndLaterNicsAreOnNoNetwork() throws Exception {
            registry().create("team", Ipv4Subnet.parse("10.77.0.0/24"));
            configureOn("vm-1", 1, VmSpec.of(1).withNetworks(List.of("team")));
            assertThat(registry.get("team").workspaces()).containsExactly("vm-1");
        }

        @Test
        void aNicOnANamedNetworkJoinsWithTheStaticAddressItsSpecGivesAndOneHeldByAnotherIsRefused() throws Exception {
            registry().create("team", Ipv4Subnet.parse("10.77.0.0/24"));
            Ipv4Address wanted = Ipv4Address.parse("10.77.0.50");
            VmSpec fixed = VmSpec.of(1).withNetworks(List.of("team")).withWorkspace("db").withAddress(0, wanted);
            List<NicConfig> db = configureOn("vm-1", 1, fixed);
            assertThat(db.get(0).network().ip()).isEqualTo(wanted);
            assertThat(registry.get("team").member("db")).map(Member::ip).contains(wanted);
            assertThat(named.configure("vm-1", 1, fixed, db)).as("a recovery keeps it").isEqualTo(db);

            assertThatThrownBy(() -> configureOn("vm-2", 1, VmSpec.of(1).withNetworks(List.of("team"))
                    .withWorkspace("web").withAddress(0, wanted))).isInstanceOf(AddressInUseException.class)
                    .hasMessageContaining("db");
            assertThatThrownBy(() -> configureOn("vm-3", 1, VmSpec.of(1).withNetworks(List.of("team"))
                    .withWorkspace("api").withAddress(0, Ipv4Address.parse("10.77.0.1"))))
                    .isInstanceOf(InvalidNetworkSpecException.class);
            assertThat(registry.get("team").workspaces()).as("the refused VMs joined nothing").containsExactly("db");
        }

        @Test
        void anUnknownNetworkIsAnErrorAndJoinsNothing() throws Exception {
            registry().create("team", Ipv4Subnet.parse("10.77.0.0/24"));
            assertThatThrownBy(() -> configureOn("vm-1", 2, VmSpec.of(1).withNetworks(List.of("team", "nope"))))
                    .isInstanceOf(NetworkNotFoundException.class);
            assertThat(registry.get("team").members()).isEmpty();
        }

        @Test
        void aConfigureThatFailsLeavesTheNetworksItJoined() throws Exception {
            registry().create("team", Ipv4Subnet.parse("10.77.0.0/24"));
            registry.create("tiny", Ipv4Subnet.parse("10.79.0.0/30")); // one host
            registry.join("tiny", "first");
            assertThatThrownBy(() -> configureOn("vm-1", 2, VmSpec.of(1).withNetworks(List.of("team", "tiny"))))
                    .isInstanceOf(AddressExhaustedException.class);
            assertThat(registry.get("team").members()).isEmpty();
            assertThat(registry.get("tiny").workspaces()).containsExactly("first");
        }

        @Test
        void moreNicsThanNetworksWithoutABridgeOptionAreRefusedAndJoinNothing() throws Exception {
            registry().create("team", Ipv4Subnet.parse("10.77.0.0/24"));
            assertThatThrownBy(() -> configureOn("vm-1", 2, VmSpec.of(1).withNetworks(List.of("team"))))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("NIC 1")
                    .hasMessageContaining("bridge=<device>");
            assertThat(registry.get("team").members()).isEmpty();
            assertThatThrownBy(() -> named.verify("vm-1")).isInstanceOf(DeviceOperationException.class);
        }

        @Test
        void attachingANicToANetworkJoinsItAndDetachingLeavesItWithTheOtherNetworkUntouched() throws Exception {
            teamAndDb();
            VmSpec web = VmSpec.of(1).withNetworks(List.of("team")).withWorkspace("web");
            NicConfig first = configureOn("vm-1", 1, web).get(0);

            NicConfig second = named.attach("vm-1", web, NicSpec.on("db").withAddress(Ipv4Address.parse("10.78.0.9")));
            assertThat(second.tap()).isEqualTo(TapNames.tapName("vm-1", 1));
            assertThat(second.network()).isEqualTo(new GuestNetwork(Ipv4Address.parse("10.78.0.9"),
                    Ipv4Address.parse("10.78.0.1"), 24));
            assertThat(second.mac()).isEqualTo(MacAddress.forMember("db", "web"));
            assertThat(second.bridgeDev()).isEqualTo(NetworkNames.bridgeName("db"));
            assertThat(registry.get("db").member("web")).map(Member::ip).contains(second.network().ip());
            named.verify("vm-1");
            if (keepsRecords()) {
                assertThat(named.inspect("vm-1")).hasValueSatisfying(r -> assertThat(r.nics()).isEqualTo(List.of(first, second)));
            }

            assertThatThrownBy(() -> named.attach("vm-1", web, NicSpec.on("db")))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("on network db already");
            assertThatThrownBy(() -> named.attach("vm-1", web, NicSpec.onBridge()))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("bridge=<device>");

            named.detach("vm-1", second.tap());
            assertThat(registry.get("db").members()).as("the last NIC on db left it").isEmpty();
            assertThat(registry.get("team").member("web")).map(Member::ip).contains(first.network().ip());
            named.verify("vm-1");
            if (keepsRecords()) {
                assertThat(named.inspect("vm-1")).hasValueSatisfying(r -> assertThat(r.nics()).isEqualTo(List.of(first)));
            }
            // the address was freed: another member may take it, and a re-attach joins anew
            NicConfig again = named.attach("vm-1", web, NicSpec.on("db"));
            assertThat(again.tap()).isEqualTo(second.tap());
            assertThat(registry.get("db").member("web")).map(Member::ip).contains(again.network().ip());
        }

        @Test
        void anAttachThatFailsJoinsNothingAndLeavesNoTap() throws Exception {
            teamAndDb();
            Ipv4Address held = registry.join("db", "other");
            VmSpec web = VmSpec.of(1).withNetworks(List.of("team")).withWorkspace("web");
            configureOn("vm-1", 1, web);
            assertThatThrownBy(() -> named.attach("vm-1", web, NicSpec.on("db").withAddress(held)))
                    .isInstanceOf(AddressInUseException.class).hasMessageContaining("other");
            assertThatThrownBy(() -> named.attach("vm-1", web, NicSpec.on("nope")))
                    .isInstanceOf(NetworkNotFoundException.class);
            assertThat(registry.get("db").workspaces()).containsExactly("other");
            named.verify("vm-1");
            NicConfig later = named.attach("vm-1", web, NicSpec.on("db"));
            assertThat(later.tap()).as("no TAP was left at NIC 1").isEqualTo(TapNames.tapName("vm-1", 1));
        }

        @Test
        void aPublishedHostPortIsListedRefusedToAnotherVmAndGoesWithItsNicAndItsVm() throws Exception {
            teamAndDb();
            VmSpec web = VmSpec.of(1).withNetworks(List.of("team")).withWorkspace("web");
            NicConfig nic = configureOn("vm-1", 1, web).get(0);
            NicConfig other = configureOn("vm-2", 1, VmSpec.of(1).withNetworks(List.of("team")).withWorkspace("api"))
                    .get(0);
            PortPublication http = PortPublication.of("tcp", 18080, 80);

            assertThat(named.publish("vm-1", nic.tap(), List.of(http))).containsExactly(http);
            assertThat(named.publish("vm-1", nic.tap(), List.of(http))).as("again: a no-op").containsExactly(http);
            assertThat(named.inspect("vm-1")).hasValueSatisfying(r -> assertThat(r.publicationsOf(nic.tap()))
                    .containsExactly(http));
            assertThatThrownBy(() -> named.publish("vm-2", other.tap(), List.of(PortPublication.of("tcp", 18080, 81))))
                    .isInstanceOf(AddressInUseException.class).hasMessageContaining("vm-1");
            PortPublication dns = PortPublication.parse("udp:18080:53");
            assertThat(named.publish("vm-2", other.tap(), List.of(dns))).as("another protocol").containsExactly(dns);

            NicConfig second = named.attach("vm-1", web, NicSpec.on("db"));
            PortPublication pg = PortPublication.of("tcp", 15432, 5432);
            named.publish("vm-1", second.tap(), List.of(pg));
            assertThat(named.inspect("vm-1")).hasValueSatisfying(r -> assertThat(r.publicationsOf(second.tap()))
                    .containsExactly(pg));
            named.detach("vm-1", second.tap());
            assertThat(named.inspect("vm-1")).hasValueSatisfying(r -> {
                assertThat(r.publicationsOf(second.tap())).as("gone with its NIC").isEmpty();
                assertThat(r.publicationsOf(nic.tap())).containsExactly(http);
            });
            named.publish("vm-2", other.tap(), List.of(pg)); // its host port is free again

            assertThat(named.unpublish("vm-1", List.of(PortPublication.of("tcp", 18080, 1)))).containsExactly(http);
            assertThat(named.inspect("vm-1")).hasValueSatisfying(r -> assertThat(r.publications()).isEmpty());
            named.publish("vm-1", nic.tap(), List.of(http));
            named.delete(List.of("vm-1"));
            assertThat(named.publish("vm-2", other.tap(), List.of(PortPublication.of("tcp", 18080, 80))))
                    .as("deleting vm-1 freed its host port").hasSize(3);
            assertThatThrownBy(() -> named.publish("vm-2", "btnone-0", List.of(http)))
                    .isInstanceOfSatisfying(DeviceOperationException.class,
                            e -> assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.NO_SUCH_DEVICE));
        }

        @Test
        void theNetworksDnsFollowsTheRegistryWhenAVmIsDeletedAndThenItsWorkspaceLeaves() throws Exception {
            registry().create("team", Ipv4Subnet.parse("10.77.0.0/24"));
            Ipv4Address gateway = Ipv4Address.parse("10.77.0.1");
            NicConfig web = configureOn("vm-1", 1, VmSpec.of(1).withNetworks(List.of("team")).withWorkspace("web"))
                    .get(0);
            NicConfig api = configureOn("vm-2", 1, VmSpec.of(1).withNetworks(List.of("team")).withWorkspace("api"))
                    .get(0);
            awaitResolved("team", gateway, "web.team", List.of(web.network().ip()));
            awaitResolved("team", gateway, "api", List.of(api.network().ip()));

            named.delete(List.of("vm-1")); // the manager's order: the VM first, then its membership
            registry.leave("team", "web");

            awaitResolved("team", gateway, "web.team", List.of());
            awaitResolved("team", gateway, "api.team", List.of(api.network().ip()));
        }

        @Test
        void aNetworkRemovedFromTheRegistryWhileItsVmLivesKeepsItsSubnetUntilTheVmIsDeleted() throws Exception {
            registry().create("team", Ipv4Subnet.parse("10.77.0.0/24"));
            configureOn("vm-1", 1, VmSpec.of(1).withNetworks(List.of("team")));
            registry.remove("team", true);
            registry.create("next", Ipv4Subnet.parse("10.77.0.0/24"));

            assertThatThrownBy(() -> configureOn("vm-2", 1, VmSpec.of(1).withNetworks(List.of("next"))))
                    .isInstanceOfSatisfying(DeviceOperationException.class,
                            e -> assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.BUSY))
                    .hasMessageContaining("team").hasMessageContaining("vm-1");
            assertThat(registry.get("next").members()).as("the refused VM joined nothing").isEmpty();

            named.delete(List.of("vm-1"));
            NicConfig nic = configureOn("vm-2", 1, VmSpec.of(1).withNetworks(List.of("next"))).get(0);
            assertThat(nic.bridgeDev()).isEqualTo(NetworkNames.bridgeName("next"));
            named.verify("vm-2");
            awaitResolved("next", Ipv4Address.parse("10.77.0.1"), "vm-2.next", List.of(nic.network().ip()));
        }

        @Test
        void theProvidersNetworksRealizeWithOptionsListAndRefuseToGoDownUnderAVm() throws Exception {
            registry().create("team", Ipv4Subnet.parse("10.77.0.0/24"));
            NetworkRealizations networks = named.networks().orElseThrow();
            RealizedNetwork team = networks.realize("team", RealizeOptions.defaults().withMtu(1400));
            assertThat(team.bridge()).isEqualTo(NetworkNames.bridgeName("team"));
            assertThat(team.gateway()).isEqualTo(Ipv4Address.parse("10.77.0.1"));
            assertThat(team.options()).isEqualTo(RealizeOptions.defaults().withMtu(1400));
            assertThat(networks.list()).extracting(RealizedNetwork::network).containsExactly("team");
            configureOn("vm-1", 1, VmSpec.of(1).withNetworks(List.of("team")));
            assertThat(networks.inspect("team")).hasValueSatisfying(n -> {
                assertThat(n.options().mtu()).as("a configure keeps the options").isEqualTo(1400);
                assertThat(n.problems()).isEmpty();
            });

            assertThatThrownBy(() -> networks.unrealize("team")).isInstanceOfSatisfying(DeviceOperationException.class,
                    e -> assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.BUSY))
                    .hasMessageContaining("vm-1");
            named.delete(List.of("vm-1"));
            assertThat(networks.unrealize("team")).isTrue();
            assertThat(networks.unrealize("team")).as("not realized: left alone").isFalse();
            assertThat(networks.list()).isEmpty();
            assertThat(networks.inspect("team")).isEmpty();
            assertThatThrownBy(() -> networks.realize("nope", RealizeOptions.defaults()))
                    .isInstanceOf(NetworkNotFoundException.class);
        }

        @Test
        void withoutARegistryANamedNetworkIsAnInvalidSpec() throws Exception {
            assertThatThrownBy(() -> configure("vm-1", 1, VmSpec.of(1).withNetworks(List.of("team"))))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("withRegistry");
        }
    }

    /** What a provider refuses to be made with, as the bridge backend does on a real host. */
    @Nested
    @DisplayName("settings")
    class Settings {

        @Test
        void neitherABridgeNorARegistryIsRefused() throws Exception {
            assertThatThrownBy(() -> createProvider(ProviderSettings.of(rootDir)))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("bridge=<device>")
                    .hasMessageContaining("withRegistry");
        }

        @Test
        void aBridgeThatDoesNotExistIsRefusedAsTheKernelRefusesIt() throws Exception {
            assertThatThrownBy(() -> createProvider(ProviderSettings.of(rootDir).with("bridge", "twnobridge0")))
                    .isInstanceOfSatisfying(DeviceOperationException.class,
                            e -> assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.NO_SUCH_DEVICE))
                    .hasMessageContaining("twnobridge0").hasMessageContaining("does not exist");
        }

        @Test
        void anExistingBridgeIsAccepted() throws Exception {
            try (NetworkProvider made = createProvider(ProviderSettings.of(rootDir).with("bridge", existingBridge()))) {
                assertThat(made.list()).isEmpty();
                assertThat(made.networks()).as("no registry: no named networks").isEmpty();
            }
        }
    }

    /** One NIC at a time: attach and detach, as Docker's network connect and disconnect. */
    @Nested
    @DisplayName("attach and detach")
    class AttachAndDetach {

        @Test
        void anAttachedNicGetsTheNextIndexOnTheBridgeAndLeavesTheOthersAsTheyWere() throws Exception {
            VmSpec spec = VmSpec.of(2);
            List<NicConfig> first = configure("a77ac401", 1, spec);
            NicConfig added = provider().attach("a77ac401", spec, NicSpec.onBridge());
            assertThat(added.tap()).isEqualTo(TapNames.tapName("a77ac401", 1));
            assertThat(added.bridgeDev()).isEqualTo(first.get(0).bridgeDev());
            assertThat(added.numQueues()).isEqualTo(first.get(0).numQueues());
            assertThat(added.mac()).isNotEqualTo(first.get(0).mac());
            assertThat(List.of(first.get(0), added)).haveLocallyAdministeredMacs().haveUniqueTapNames();
            provider().verify("a77ac401");
            if (keepsRecords()) {
                assertThat(provider().inspect("a77ac401")).hasValueSatisfying(r -> assertThat(r.nics()).isEqualTo(List.of(first.get(0), added)));
            }
        }

        @Test
        void aDetachedNicIsGoneItsIndexIsGivenAgainAndTheOthersStay() throws Exception {
            VmSpec spec = VmSpec.of(1);
            List<NicConfig> three = configure("a77ac402", 3, spec);
            provider().detach("a77ac402", three.get(1).tap());
            provider().verify("a77ac402");
            if (keepsRecords()) {
                assertThat(provider().inspect("a77ac402")).hasValueSatisfying(r -> assertThat(r.nics()).isEqualTo(List.of(three.get(0), three.get(2))));
            }
            assertThatThrownBy(() -> provider().detach("a77ac402", three.get(1).tap()))
                    .isInstanceOfSatisfying(DeviceOperationException.class,
                            e -> assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.NO_SUCH_DEVICE))
                    .hasMessageContaining(three.get(1).tap());
            NicConfig again = provider().attach("a77ac402", spec, NicSpec.onBridge().withoutPortSecurity());
            assertThat(again.tap()).isEqualTo(three.get(1).tap());
            provider().verify("a77ac402");
        }

        @Test
        void nicZeroCannotBeDetachedAndAnUnconfiguredVmCannotBeAttachedTo() throws Exception {
            List<NicConfig> one = configure("a77ac403", 1, VmSpec.of(1));
            assertThatThrownBy(() -> provider().detach("a77ac403", one.get(0).tap()))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("delete the VM");
            provider().verify("a77ac403");
            assertThatThrownBy(() -> provider().attach("a77ac4ff", VmSpec.of(1), NicSpec.onBridge()))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("not configured");
            assertThatThrownBy(() -> provider().verify("a77ac4ff")).isInstanceOf(DeviceOperationException.class);
        }

        @Test
        void aConfigureOfFewerNicsThanTheVmHasIsRefusedAndRemovesNothing() throws Exception {
            List<NicConfig> two = configure("a77ac404", 2, VmSpec.of(1));
            assertThatThrownBy(() -> provider().configure("a77ac404", 1, VmSpec.of(1), two.subList(0, 1)))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining(two.get(1).tap())
                    .hasMessageContaining("detach");
            provider().verify("a77ac404");
            assertThat(provider().configure("a77ac404", 2, VmSpec.of(1), two)).as("both NICs are still there")
                    .isEqualTo(two);
        }

        @Test
        void aVmRecordWithAnAttachedNicRecoversTheVmAsItWas() throws Exception {
            VmSpec spec = VmSpec.of(2).withQueueSize(512);
            VmRecord record = VmRecord.of("a77ac406", spec).withNics(configure("a77ac406", 1, spec));
            NicSpec unsecured = NicSpec.onBridge().withoutPortSecurity();
            record = record.withAttached(unsecured, provider().attach("a77ac406", spec, unsecured), 1);
            provider().delete(List.of("a77ac406")); // the reboot
            VmRecord recovered = provider().recover(record);
            assertThat(recovered).isEqualTo(record);
            assertThat(recovered.nics().get(1).numQueues()).isEqualTo(4);
            provider().verify("a77ac406");
            VmRecord empty = VmRecord.of("a77ac407", spec);
            assertThatThrownBy(() -> provider().recover(empty)).isInstanceOf(InvalidNetworkSpecException.class)
                    .hasMessageContaining("no NIC configs");
        }

        @Test
        void aVmWithAnAttachedNicIsRecoveredFromAllItsConfigs() throws Exception {
            VmSpec spec = VmSpec.of(1);
            List<NicConfig> first = configure("a77ac405", 1, spec);
            NicConfig added = provider().attach("a77ac405", spec, NicSpec.onBridge());
            provider().delete(List.of("a77ac405")); // the reboot
            List<NicConfig> again = provider().configure("a77ac405", 2, spec, List.of(first.get(0), added));
            assertThat(again.stream().map(NicConfig::tap).toList()).containsExactly(first.get(0).tap(), added.tap());
            assertThat(again.stream().map(NicConfig::mac).toList()).containsExactly(first.get(0).mac(), added.mac());
            provider().verify("a77ac405");
        }
    }

    /** Configure: one config per NIC, named and addressed as the convention says. */
    @Nested
    @DisplayName("configure")
    class Configure {

        @Test
        void returnsOneNicConfigPerNicWithUniqueNamesAndValidMacs() throws Exception {
            List<NicConfig> nics = configure("c0ffee01-aaaa", 3, VmSpec.of(2));
            assertThat(nics).hasNics(3).haveUniqueTapNames().haveLocallyAdministeredMacs()
                    .followTheNamingOf("c0ffee01-aaaa");
        }

        @Test
        void queuesAreTwoPerCpuWithTheRequestedQueueSize() throws Exception {
            List<NicConfig> nics = configure("c0ffee02", 1, VmSpec.of(4).withQueueSize(1024));
            assertThat(nics.get(0).numQueues()).isEqualTo(8);
            assertThat(nics.get(0).queueSize()).isEqualTo(1024);
            assertThat(nics.get(0).backend()).isEqualTo(provider().type());
        }

        @Test
        void singleQueueVmmsAreServedToo() throws Exception {
            List<NicConfig> nics = configure("c0ffee03", 2, VmSpec.of(4).withMultiQueue(false));
            assertThat(nics).hasNics(2);
            provider().verify("c0ffee03");
        }

        @Test
        void verifyPassesAfterConfigure() throws Exception {
            configure("c0ffee04", 1, VmSpec.of(1));
            provider().verify("c0ffee04");
        }

        @Test
        void portSecurityCanBeTurnedOffPerNicAndAnAddressGivenForANicOfNoNamedNetwork() throws Exception {
            List<NicConfig> nics = configure("c0ffee05", 2, VmSpec.of(1).withAddress(0, Ipv4Address.parse("10.9.8.7"))
                    .withoutPortSecurity(1));
            assertThat(nics).hasNics(2);
            provider().verify("c0ffee05");
        }

        @Test
        void nicsDescribedOneByOneAreConfiguredAsTheSpecTheyMakeAndAmbiguityIsRefused() throws Exception {
            Ipv4Address ip = Ipv4Address.parse("10.9.8.7");
            vms.add("c0ffee08");
            List<NicConfig> nics = provider().configure("c0ffee08", VmSpec.of(2), List.of(
                    NicSpec.onBridge().withAddress(ip), NicSpec.onBridge().withoutPortSecurity()), List.of());
            assertThat(nics).hasNics(2).followTheNamingOf("c0ffee08");
            assertThat(nics.get(0).numQueues()).isEqualTo(4);
            assertThat(provider().publish("c0ffee08", nics.get(0).tap(), List.of(PortPublication.of("udp", 18082,
                    53)))).as("NIC 0's address is the one its NicSpec gave").hasSize(1);
            provider().verify("c0ffee08");

            assertThatThrownBy(() -> provider().configure("c0ffee09", VmSpec.of(1).withoutPortSecurity(0),
                    List.of(NicSpec.onBridge()), List.of())).isInstanceOf(InvalidNetworkSpecException.class)
                    .hasMessageContaining("once");
            assertThatThrownBy(() -> provider().configure("c0ffee09", VmSpec.of(1), List.of(NicSpec.onBridge(),
                    NicSpec.on("team")), List.of())).isInstanceOf(InvalidNetworkSpecException.class)
                    .hasMessageContaining("NIC 1 is on network team but NIC 0 is on none");
            assertThatThrownBy(() -> provider().verify("c0ffee09")).isInstanceOf(DeviceOperationException.class);
        }

        @Test
        void aNicWithNoKnownAddressCannotHavePortsPublished() throws Exception {
            List<NicConfig> nics = configure("c0ffee07", 1, VmSpec.of(1));
            assertThatThrownBy(() -> provider().publish("c0ffee07", nics.get(0).tap(),
                    List.of(PortPublication.of("tcp", 18081, 80)))).isInstanceOf(InvalidNetworkSpecException.class)
                    .hasMessageContaining("IPv4 address");
            assertThat(provider().inspect("c0ffee07").map(r -> r.publications()).orElse(java.util.Map.of())).isEmpty();
        }

        @Test
        void portSecuritySettingsForANicTheVmLacksAreRefusedAndNothingIsMade() throws Exception {
            assertThatThrownBy(() -> configure("c0ffee06", 1, VmSpec.of(1).withoutPortSecurity(1)))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("NIC 1");
            assertThatThrownBy(() -> configure("c0ffee06", 1, VmSpec.of(1).withAddress(3,
                    Ipv4Address.parse("10.9.8.7")))).isInstanceOf(InvalidNetworkSpecException.class)
                    .hasMessageContaining("NIC 3");
            assertThat(configure("c0ffee06", 1, VmSpec.of(1))).as("nothing of the refused calls is left")
                    .hasNics(1);
        }
    }

    /** Recovery after a host reboot: the same names and MACs. */
    @Nested
    @DisplayName("recovery")
    class Recovery {

        @Test
        void recoveryWithExistingConfigsKeepsNamesAndMacs() throws Exception {
            List<NicConfig> first = configure("5eed0001", 2, VmSpec.of(2));
            provider().delete(List.of("5eed0001")); // the reboot: TAPs are gone, the VM record stays
            List<NicConfig> again = provider().configure("5eed0001", 2, VmSpec.of(2), first);
            assertThat(again.stream().map(NicConfig::tap).toList())
                    .containsExactlyElementsOf(first.stream().map(NicConfig::tap).toList());
            assertThat(again.stream().map(NicConfig::mac).toList())
                    .containsExactlyElementsOf(first.stream().map(NicConfig::mac).toList());
            provider().verify("5eed0001");
        }

        @Test
        void aRecoveryWithAnotherCpuCountOrQueueSizeIsRefusedInsteadOfChangingTheQueues() throws Exception {
            List<NicConfig> first = configure("5eed0004", 1, VmSpec.of(2));
            assertThat(first.get(0).numQueues()).isEqualTo(4);
            provider().delete(List.of("5eed0004")); // the reboot
            assertThatThrownBy(() -> provider().configure("5eed0004", 1, VmSpec.of(1), first))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("num_queues")
                    .hasMessageContaining("4");
            assertThatThrownBy(() -> provider().configure("5eed0004", 1, VmSpec.of(2).withQueueSize(512), first))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("queue_size");
            assertThatThrownBy(() -> provider().verify("5eed0004")).as("nothing was made")
                    .isInstanceOf(DeviceOperationException.class);
            assertThat(provider().configure("5eed0004", 1, VmSpec.of(2), first)).isEqualTo(first);
        }

        @Test
        void recoveryOfTapsThatStillExistAdoptsThem() throws Exception {
            List<NicConfig> first = configure("5eed0002", 1, VmSpec.of(1));
            List<NicConfig> again = provider().configure("5eed0002", 1, VmSpec.of(1), first);
            assertThat(again.get(0).mac()).isEqualTo(first.get(0).mac());
            provider().verify("5eed0002");
        }

        @Test
        void existingConfigsThatDoNotMatchAreRejected() throws Exception {
            NicConfig stranger = new NicConfig("btother-0", MacAddress.random(), 2, 256, null, null, null, null);
            assertThatThrownBy(() -> provider().configure("5eed0003", 1, VmSpec.of(1), List.of(stranger)))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("btother-0");
            assertThatThrownBy(() -> provider().configure("5eed0003", 2, VmSpec.of(1),
                    List.of(new NicConfig(TapNames.tapName("5eed0003", 0), MacAddress.random(), 2, 256, null, null, null,
                            null)))).isInstanceOf(InvalidNetworkSpecException.class);
        }
    }

    /** Many VMs in one call, as after a host reboot: what one configure each would give, all or nothing. */
    @Nested
    @DisplayName("configure all")
    class ConfigureAll {

        private List<List<NicConfig>> configureAll(List<ConfigureRequest> requests) throws Exception {
            requests.forEach(r -> vms.add(r.vmId()));
            return provider().configureAll(requests);
        }

        @Test
        void configuresEveryVmInRequestOrderAsConfigureWould() throws Exception {
            List<ConfigureRequest> requests = List.of(new ConfigureRequest("a11a0001", 2, VmSpec.of(2), null),
                    new ConfigureRequest("a11a0002", 1, VmSpec.of(1), null),
                    new ConfigureRequest("a11a0003", 3, VmSpec.of(4).withMultiQueue(false), null));
            List<List<NicConfig>> all = configureAll(requests);
            assertThat(all).hasSize(3);
            for (int i = 0; i < requests.size(); i++) {
                ConfigureRequest r = requests.get(i);
                assertThat(all.get(i)).hasNics(r.nics()).haveUniqueTapNames().haveLocallyAdministeredMacs()
                        .followTheNamingOf(r.vmId());
                assertThat(all.get(i).get(0).numQueues()).isEqualTo(r.vm().numQueues());
                provider().verify(r.vmId());
            }
        }

        @Test
        void afterARebootTheSavedConfigsComeBackUnchanged() throws Exception {
            List<ConfigureRequest> fresh = List.of(new ConfigureRequest("a11a0011", 2, VmSpec.of(2), null),
                    new ConfigureRequest("a11a0012", 1, VmSpec.of(1), null));
            List<List<NicConfig>> saved = configureAll(fresh);
            provider().delete(List.of("a11a0011", "a11a0012")); // the reboot
            List<List<NicConfig>> again = provider().configureAll(List.of(
                    ConfigureRequest.recover("a11a0011", VmSpec.of(2), saved.get(0)),
                    ConfigureRequest.recover("a11a0012", VmSpec.of(1), saved.get(1))));
            for (int i = 0; i < 2; i++) {
                assertThat(again.get(i).stream().map(NicConfig::tap).toList())
                        .containsExactlyElementsOf(saved.get(i).stream().map(NicConfig::tap).toList());
                assertThat(again.get(i).stream().map(NicConfig::mac).toList())
                        .containsExactlyElementsOf(saved.get(i).stream().map(NicConfig::mac).toList());
                provider().verify(fresh.get(i).vmId());
            }
        }

        @Test
        void aVmNamedTwiceIsRefusedBeforeAnythingIsMade() throws Exception {
            ConfigureRequest once = new ConfigureRequest("a11a0021", 1, VmSpec.of(1), null);
            assertThatThrownBy(() -> configureAll(List.of(once, once)))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("twice");
            assertThatThrownBy(() -> provider().verify("a11a0021")).isInstanceOf(NetworkException.class);
        }

        @Test
        void aVmThatFailsLeavesNoNewVmOfTheCallBehindAndOthersIntact() throws Exception {
            configure("abcdefgh-first", 1, VmSpec.of(1));
            List<ConfigureRequest> requests = List.of(new ConfigureRequest("a11a0031", 2, VmSpec.of(1), null),
                    new ConfigureRequest("abcdefgh-second", 1, VmSpec.of(1), null)); // its TAP name is taken
            assertThatThrownBy(() -> configureAll(requests)).isInstanceOfSatisfying(DeviceOperationException.class,
                    e -> assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.BUSY));
            assertThatThrownBy(() -> provider().verify("a11a0031")).as("made by the failed call, so removed")
                    .isInstanceOf(NetworkException.class);
            provider().verify("abcdefgh-first");
        }
    }

    /** Two VMs whose IDs share 8 characters must never share a TAP. */
    @Nested
    @DisplayName("collisions")
    class Collisions {

        @Test
        void aCollidingVmFailsClosedAndLeavesTheFirstIntact() throws Exception {
            List<NicConfig> first = configure("abcdefgh-first", 2, VmSpec.of(1));
            assertThatThrownBy(() -> provider().configure("abcdefgh-second", 1, VmSpec.of(1), List.of()))
                    .isInstanceOfSatisfying(DeviceOperationException.class,
                            e -> assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.BUSY))
                    .hasMessageContaining(first.get(0).tap());
            provider().verify("abcdefgh-first");
        }

        @Test
        void aVmConfiguredAgainWithoutItsSavedConfigsIsToldToPassThem() throws Exception {
            List<NicConfig> first = configure("vm-again", 1, VmSpec.of(1));
            assertThatThrownBy(() -> provider().configure("vm-again", 1, VmSpec.of(1), List.of()))
                    .isInstanceOfSatisfying(DeviceOperationException.class,
                            e -> assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.BUSY))
                    .hasMessageContaining("this VM's TAP exists; pass its saved configs")
                    .hasMessageNotContaining("another VM");
            assertThat(provider().configure("vm-again", 1, VmSpec.of(1), first)).isEqualTo(first);
            provider().verify("vm-again");
        }

        @Test
        void deletingTheCollidingVmLeavesTheFirstIntact() throws Exception {
            configure("abcdefgh-first", 1, VmSpec.of(1));
            provider().delete(List.of("abcdefgh-second"));
            provider().verify("abcdefgh-first");
        }
    }

    /** Delete and verify. */
    @Nested
    @DisplayName("delete and verify")
    class DeleteAndVerify {

        @Test
        void deleteReturnsTheCleanedIdsAndIsIdempotent() throws Exception {
            configure("de1e7e01", 2, VmSpec.of(1));
            configure("de1e7e02", 1, VmSpec.of(1));
            assertThat(provider().delete(List.of("de1e7e01", "de1e7e02"))).containsExactlyInAnyOrder("de1e7e01", "de1e7e02");
            assertThat(provider().delete(List.of("de1e7e01"))).containsExactly("de1e7e01");
        }

        @Test
        void deletingAnUnknownVmIsANoOpSuccess() throws Exception {
            assertThat(provider().delete(List.of("neverseen"))).containsExactly("neverseen");
        }

        @Test
        void verifyReportsTheVmsTapsAndNothingRepairedRightAfterConfigure() throws Exception {
            List<NicConfig> nics = configure("de1e7e04", 2, VmSpec.of(1));
            VerifyReport report = provider().verify("de1e7e04");
            assertThat(report.vm()).isEqualTo("de1e7e04");
            assertThat(report.taps()).containsExactly(nics.get(0).tap(), nics.get(1).tap());
            assertThat(report.repaired()).isEmpty();
            assertThat(report.clean()).isTrue();
        }

        @Test
        void verifyFailsAfterDelete() throws Exception {
            configure("de1e7e03", 1, VmSpec.of(1));
            provider().delete(List.of("de1e7e03"));
            assertThatThrownBy(() -> provider().verify("de1e7e03")).isInstanceOf(NetworkException.class)
                    .hasMessageContaining(TapNames.tapName("de1e7e03", 0));
        }

        @Test
        void verifyFailsForAVmNeverConfigured() throws Exception {
            assertThatThrownBy(() -> provider().verify("neverseen")).isInstanceOf(DeviceOperationException.class);
        }
    }

    /** Garbage collection keeps what is alive. */
    @Nested
    @DisplayName("garbage collection")
    class GarbageCollection {

        @Test
        void gcKeepsActiveVmsAndReclaimsTheRest() throws Exception {
            configure("9c000001", 2, VmSpec.of(1));
            configure("9c000002", 1, VmSpec.of(1));
            configure("9c000003", 1, VmSpec.of(1));
            GcOrchestrator gc = new GcOrchestrator();
            provider().registerGc(gc);
            gc.register(ActiveVms.of(Set.of("9c000002")));

            GcReport report = gc.runOnce();

            assertThat(report.succeeded()).as("report %s", report).isTrue();
            assertThat(report.collected().values().stream().mapToInt(Set::size).sum()).isEqualTo(3);
            provider().verify("9c000002");
            assertThatThrownBy(() -> provider().verify("9c000001")).isInstanceOf(NetworkException.class);
            assertThatThrownBy(() -> provider().verify("9c000003")).isInstanceOf(NetworkException.class);
        }

        @Test
        void gcReclaimsNothingWhenNoModuleReportsActiveVms() throws Exception {
            configure("9c000004", 1, VmSpec.of(1));
            GcOrchestrator gc = new GcOrchestrator();
            provider().registerGc(gc);

            GcReport report = gc.runOnce();

            assertThat(report.succeeded()).isTrue();
            assertThat(report.collected().values()).allMatch(Set::isEmpty);
            provider().verify("9c000004");
        }
    }

    /** Bad input is rejected up front and leaves nothing behind. */
    @Nested
    @DisplayName("validation")
    class Validation {

        @ParameterizedTest
        @ValueSource(strings = {"", " ", "vm/1", "vm:1", "vm 1", "-vm", ".vm", "vm\u00e9", "vm\n1"})
        void invalidVmIdsAreRejected(String vmId) throws Exception {
            assertThatThrownBy(() -> provider().configure(vmId, 1, VmSpec.of(1), List.of()))
                    .isInstanceOf(InvalidNetworkSpecException.class);
            assertThatThrownBy(() -> provider().delete(List.of(vmId))).isInstanceOf(InvalidNetworkSpecException.class);
        }

        @Test
        void aNullVmIdIsRejected() throws Exception {
            assertThatThrownBy(() -> provider().configure(null, 1, VmSpec.of(1), List.of()))
                    .isInstanceOf(InvalidNetworkSpecException.class);
        }

        @ParameterizedTest
        @ValueSource(ints = {0, -1, TapNames.MAX_NICS + 1})
        void nicCountsOutOfRangeAreRejected(int nics) throws Exception {
            assertThatThrownBy(() -> provider().configure("va11d001", nics, VmSpec.of(1), List.of()))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("NIC count");
            assertThatThrownBy(() -> provider().verify("va11d001")).isInstanceOf(DeviceOperationException.class);
        }
    }

    /** list and inspect never return null. */
    @Nested
    @DisplayName("records")
    class Records {

        @Test
        void twoProvidersOfOneRootDirectoryReportTheSameRecordsAsTheHostHasThem() throws Exception {
            Assumptions.assumeTrue(keepsRecords(), "the provider keeps no records");
            List<NicConfig> nics = configure("rec00002", 2, VmSpec.of(2));
            try (NetworkProvider other = createProvider(rootDir)) {
                assertThat(other.inspect("rec00002")).hasValueSatisfying(r -> assertThat(r.nics()).isEqualTo(nics));
                assertThat(other.list()).extracting(r -> r.vmId()).containsExactly("rec00002");
                NicConfig added = other.attach("rec00002", VmSpec.of(2), NicSpec.onBridge());
                assertThat(provider().inspect("rec00002")).hasValueSatisfying(r -> assertThat(r.nics())
                        .isEqualTo(List.of(nics.get(0), nics.get(1), added)));
                other.delete(List.of("rec00002"));
            }
            assertThat(provider().inspect("rec00002")).isEmpty();
            assertThat(provider().list()).isEmpty();
        }

        @Test
        void listAndInspectNeverReturnNull() throws Exception {
            assertThat(provider().list()).isNotNull();
            assertThat(provider().inspect("rec00001")).isNotNull().isEmpty();
            List<NicConfig> nics = configure("rec00001", 2, VmSpec.of(1));
            assertThat(provider().list()).isNotNull();
            if (keepsRecords()) {
                assertThat(provider().inspect("rec00001")).hasValueSatisfying(r -> assertThat(r.nics()).isEqualTo(nics));
            } else {
                assertThat(provider().inspect("rec00001")).isEmpty();
            }
        }
    }
}
