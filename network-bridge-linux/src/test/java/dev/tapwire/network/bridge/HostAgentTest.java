package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.HostConflictException;
import dev.tapwire.network.HostLease;
import dev.tapwire.network.HostRecord;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.Placement;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.TemporaryRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The host agent in a private namespace, with a real bridge, TAPs and dnsmasq made by the provider, against an
 * in-memory placement registry whose other hosts the test plays: it places the NICs made here and unplaces the
 * stale, and the overlay it computes follows hosts that die and members that move, within 2 s of the change.
 */
@IsolatedNetns
class HostAgentTest {

    private static final HostRecord HOST_A = new HostRecord("host-a", Ipv4Address.parse("198.51.100.1"));
    private static final HostRecord HOST_B = new HostRecord("host-b", Ipv4Address.parse("198.51.100.2"));
    private static final HostRecord HOST_C = new HostRecord("host-c", Ipv4Address.parse("198.51.100.3"));
    private static final Duration WITHIN = Duration.ofSeconds(2);

    @TempDir
    Path root;

    NetworkRegistry registry;
    InMemoryPlacements placements;
    BridgeNetworkProvider provider;
    HostAgent agent;

    @BeforeEach
    void setUp(@TemporaryRegistry NetworkRegistry registry) throws Exception {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
        this.registry = registry;
        registry.create("team", Ipv4Subnet.parse("10.77.0.0/24"));
        placements = new InMemoryPlacements(registry, true);
        provider = new BridgeNetworkProvider(ProviderSettings.of(root).withRegistry(registry));
    }

    @AfterEach
    void tearDown() {
        if (agent != null) {
            agent.close(); // before the provider and JUnit's directories go
        }
        try (BridgeNetworkProvider done = provider) {
            done.delete(done.taps().stream().map(l -> BridgeTaps.vmIdOf(l).orElseThrow()).distinct().toList());
            NetworkRealizer realizer = done.realizer().orElseThrow();
            realizer.list().forEach(r -> realizer.unrealize(r.network()));
        }
    }

    private HostAgent startAgent() {
        return startAgent(Duration.ofSeconds(3), Duration.ofSeconds(1));
    }

    private HostAgent startAgent(Duration ttl, Duration resync) {
        return HostAgent.start(new HostAgent.Settings(root, registry, placements, HOST_A, ttl, 1500, resync));
    }

    private NicConfig nic(String vm, String workspace) {
        return provider.configure(vm, 1, VmSpec.of(1).withNetworks(List.of("team")).withWorkspace(workspace),
                List.of()).get(0);
    }

    private Optional<Placement> placementOf(String workspace) {
        return placements.placements("team").stream().filter(p -> p.workspace().equals(workspace)).findFirst();
    }

    /** Waits (at most {@code bound}) until {@code condition} holds. */
    private static boolean within(Duration bound, Supplier<Boolean> condition) throws InterruptedException {
        long deadline = System.nanoTime() + bound.toNanos();
        while (!condition.get()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(20);
        }
        return true;
    }

    /** What the kernel's vxlan device of team holds: FDB lines {@code MAC dst VTEP} and neighbours {@code IP MAC}. */
    private static List<String> kernelEntries() throws Exception {
        List<String> out = new java.util.ArrayList<>();
        for (String line : exec("bridge", "fdb", "show", "dev", "tx-team").split("\n")) {
            String[] f = line.trim().split("\\s+");
            int dst = List.of(f).indexOf("dst");
            if (dst > 0 && line.contains("self") && line.contains("permanent")) {
                out.add(f[0] + " dst " + f[dst + 1]);
            }
        }
        for (String line : exec("ip", "neigh", "show", "dev", "tx-team").split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 3 && line.contains("PERMANENT")) {
                out.add(f[0] + " " + f[2]);
            }
        }
        return out;
    }

    private static String linkList() {
        try {
            return exec("ip", "-o", "link", "show");
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static String exec(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(String.join(" ", command) + ": " + out).isZero();
        return out;
    }

    private static boolean kernelHas(List<String> entries) {
        try {
            return kernelEntries().stream().sorted().toList().equals(entries.stream().sorted().toList());
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private List<HostAgent.Remote> remotes() {
        HostAgent.Tunnel t = agent.tunnels().get("team");
        return t == null ? List.of() : t.remotes();
    }

    @Test
    void theAgentPlacesTheNicsMadeHereAndUnplacesWhatNoNicExplains() throws Exception {
        nic("vm-1", "web");
        registry.join("team", "gone");
        HostLease earlier = placements.register(HOST_A, Duration.ofSeconds(3)); // a placement left by a crash
        earlier.place("team", "gone", MacAddress.forMember("team", "gone"));

        agent = startAgent(Duration.ofSeconds(30), Duration.ofSeconds(30)); // no resync during the test

        assertThat(placementOf("web")).as("placed before start returns")
                .contains(new Placement("team", "web", "host-a", MacAddress.forMember("team", "web")));
        assertThat(placementOf("gone")).as("no NIC of it here: unplaced").isEmpty();
        Realization r = agent.realizer().list().get(0);
        assertThat(r.overlay()).as("the provider realized it for one host; the agent brings in the overlay").isTrue();
        assertThat(r.mtu()).isEqualTo(1450);
        assertThat(agent.realizer().inspect("team").orElseThrow().problems()).as("its overlay is there").isEmpty();

        nic("vm-2", "db");
        assertThat(within(Duration.ofSeconds(1), () -> placementOf("db").isPresent()))
                .as("the provider's configure wrote its port records: placed at once, not at a resync").isTrue();
        provider.delete(List.of("vm-2"));
        assertThat(within(Duration.ofSeconds(1), () -> placementOf("db").isEmpty())).as("and unplaced").isTrue();
    }

    @Test
    void theOverlayFollowsAHostThatDiesAndAMemberThatMovesWithinTwoSeconds() throws Exception {
        nic("vm-1", "web");
        Ipv4Address db = registry.join("team", "db");
        HostLease b = placements.register(HOST_B, Duration.ofSeconds(3));
        b.place("team", "db", MacAddress.forMember("team", "db"));

        agent = startAgent();
        HostAgent.Remote onB = new HostAgent.Remote("db", MacAddress.forMember("team", "db"), db, "host-b",
                HOST_B.underlay());
        assertThat(remotes()).containsExactly(onB);
        HostAgent.Tunnel t = agent.tunnels().get("team");
        assertThat(t.local()).isEqualTo(HOST_A.underlay());
        assertThat(t.vteps()).as("VXLAN accepted from live hosts only").containsExactly(HOST_B.underlay());
        assertThat(t.vni()).isEqualTo(placements.vni("team").orElseThrow());
        String dbMac = MacAddress.forMember("team", "db").toString();
        assertThat(kernelEntries()).as("programmed before start returns")
                .containsExactlyInAnyOrder(dbMac + " dst 198.51.100.2", db + " " + dbMac);

        placements.expire("host-b");
        assertThat(within(WITHIN, () -> remotes().isEmpty())).as("host-b's entries go").isTrue();
        assertThat(agent.tunnels().get("team").vteps()).isEmpty();
        assertThat(kernelEntries()).as("and from the kernel").isEmpty();
        assertThat(registry.get("team").member("db")).as("the member keeps its address").isPresent();

        HostLease c = placements.register(HOST_C, Duration.ofSeconds(3));
        c.place("team", "db", MacAddress.forMember("team", "db")); // re-created on host-c
        assertThat(within(WITHIN, () -> remotes().equals(List.of(new HostAgent.Remote("db",
                MacAddress.forMember("team", "db"), db, "host-c", HOST_C.underlay()))))).as("points at host-c")
                .isTrue();
        assertThat(within(WITHIN, () -> kernelHas(List.of(dbMac + " dst 198.51.100.3", db + " " + dbMac))))
                .as(() -> "the kernel points at host-c: " + kernelHas(List.of())).isTrue();
    }

    @Test
    void aRestartedAgentReconcilesAtOnceAndALostLeaseIsTakenAgain() throws Exception {
        nic("vm-1", "web");
        Ipv4Address db = registry.join("team", "db");
        agent = startAgent();
        agent.close();
        HostLease b = placements.register(HOST_B, Duration.ofSeconds(3)); // changed while the agent was down
        b.place("team", "db", MacAddress.forMember("team", "db"));
        assertThat(placementOf("web")).as("closing withdraws nothing").isPresent();

        agent = startAgent();
        assertThat(remotes()).as("reconciled before start returned").extracting(HostAgent.Remote::ip)
                .containsExactly(db);

        placements.expire("host-a"); // its lease ran out (say, the registry was unreachable past the TTL)
        assertThat(within(WITHIN, () -> placementOf("web").isPresent())).as("registered and placed again").isTrue();
    }

    @Test
    void aVxlanDeviceOfThisOwnerWhoseNetworkIsNotRealizedHereIsRemoved() throws Exception {
        nic("vm-1", "web");
        agent = startAgent(Duration.ofSeconds(30), Duration.ofSeconds(30));
        exec("ip", "link", "add", "tx-old", "type", "vxlan", "id", "77", "dstport", "4789", "local", "198.51.100.1",
                "nolearning");
        exec("ip", "link", "set", "tx-old", "alias", "tapwire-overlay:" + NetworkRealizer.ownerTag(root) + ":old");
        exec("ip", "link", "add", "tx-else", "type", "vxlan", "id", "78", "dstport", "4789", "nolearning");
        agent.wake();
        assertThat(within(WITHIN, () -> !linkList().contains("tx-old:")))
                .as("left by an unrealize that died half-way: removed").isTrue();
        assertThat(linkList()).contains("tx-team:").as("not ours: kept").contains("tx-else:");
    }

    @Test
    void anotherLiveHostOfTheNameIsRefusedAndBadSettingsSayWhatIsAccepted() {
        placements.register(new HostRecord("host-a", Ipv4Address.parse("198.51.100.9")), Duration.ofSeconds(3));
        assertThatThrownBy(this::startAgent).isInstanceOf(HostConflictException.class).hasMessageContaining("host-a");
        assertThatThrownBy(() -> new HostAgent.Settings(root, registry, placements, HOST_A, Duration.ofSeconds(1),
                1500, Duration.ofSeconds(1))).isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("at least 2 s");
        assertThatThrownBy(() -> new HostAgent.Settings(root, registry, placements, HOST_A, Duration.ofSeconds(3),
                1500, Duration.ofSeconds(4))).isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("at most the TTL");
        assertThatThrownBy(() -> HostAgent.start(null)).isInstanceOf(InvalidNetworkSpecException.class);
    }
}
