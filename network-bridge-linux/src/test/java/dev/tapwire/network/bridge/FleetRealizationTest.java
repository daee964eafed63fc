package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.HostLease;
import dev.tapwire.network.HostRecord;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.PlacementRegistry;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.TemporaryRegistry;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A network realized on one host of a fleet, in a private namespace with a real dnsmasq: the fleet-wide gateway
 * MAC on its bridge, an MTU that leaves VXLAN its 50 bytes, DHCP leases only for the members placed here and DNS
 * names for every member wherever it runs.
 */
@IsolatedNetns
class FleetRealizationTest {

    private static final HostRecord HOST_A = new HostRecord("host-a", Ipv4Address.parse("198.51.100.1"));
    private static final HostRecord HOST_B = new HostRecord("host-b", Ipv4Address.parse("198.51.100.2"));

    @TempDir
    Path root;

    NetworkRegistry registry;
    InMemoryPlacements placements;
    NetworkRealizer realizer;

    @BeforeEach
    void setUp(@TemporaryRegistry NetworkRegistry files) throws Exception {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
        files.create("team", Ipv4Subnet.parse("10.77.0.0/24"));
        placements = new InMemoryPlacements(files, true);
        this.registry = withPlacements(files, placements);
        realizer = new NetworkRealizer(root, registry, new NetworkRealizer.Fleet(placements, HOST_A.name(), 1500));
    }

    @AfterEach
    void tearDown() {
        realizer.list().forEach(r -> realizer.unrealize(r.network()));
    }

    /** The registry with {@code placements} as its {@link NetworkRegistry#placements()}, as a shared registry has. */
    private static NetworkRegistry withPlacements(NetworkRegistry registry, PlacementRegistry placements) {
        return (NetworkRegistry) Proxy.newProxyInstance(NetworkRegistry.class.getClassLoader(),
                new Class<?>[] {NetworkRegistry.class}, (proxy, method, args) -> {
                    if (method.getName().equals("placements")) {
                        return placements;
                    }
                    try {
                        return method.invoke(registry, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    private static Link link(String name) {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            return netlink.link(name).orElseThrow();
        }
    }

    @Test
    void aNetworkAcrossHostsCarriesTheFleetWideGatewayMacAndOneRealizedOnOneHostItsOwnersMac() {
        Realization r = realizer.realize("team", false);
        assertThat(r.overlay()).isTrue();
        assertThat(link("tw-team").mac()).as("every host's bridge answers for the gateway with one MAC")
                .isEqualTo(MacAddress.forGateway("team"));

        NetworkRealizer single = new NetworkRealizer(root, registry,
                new NetworkRealizer.Fleet(new InMemoryPlacements(registry, false), HOST_A.name(), 1500));
        Realization alone = single.realize("team", false);
        assertThat(alone.overlay()).as("placements that do not span hosts: no overlay").isFalse();
        assertThat(link("tw-team").mac()).as("the bridge is kept and takes the owner-scoped MAC")
                .isEqualTo(single.bridgeMac("team")).isNotEqualTo(MacAddress.forGateway("team"));

        Realization again = realizer.realize("team", false);
        assertThat(again.overlay()).isTrue();
        assertThat(link("tw-team").mac()).isEqualTo(MacAddress.forGateway("team"));
        assertThat(new NetworkRealizer(root, registry).realize("team").overlay())
                .as("a realizer without a fleet (the provider's) keeps the recorded overlay").isTrue();
        assertThat(link("tw-team").mac()).isEqualTo(MacAddress.forGateway("team"));
        assertThat(realizer.verify("team").problems()).as("no agent has made its overlay")
                .containsExactly("network team spans hosts but has no vxlan device tx-team here: its members on other"
                        + " hosts are unreachable until this host's agent runs (tapwire agent)");
    }

    @Test
    void theMtuLeavesVxlanItsFiftyBytesAndASmallerOneStays() {
        Realization r = realizer.realize("team", false);
        assertThat(r.mtu()).as("underlay 1500 less 50").isEqualTo(1450);
        assertThat(link("tw-team").mtu()).isEqualTo(1450);

        assertThat(realizer.realize("team", NetworkRealizer.Options.defaults().withMtu(9000)).mtu())
                .as("larger than the underlay allows: lowered, with a warning").isEqualTo(1450);
        assertThat(realizer.realize("team", NetworkRealizer.Options.defaults().withMtu(1400)).mtu())
                .as("an explicit smaller MTU stays").isEqualTo(1400);
        assertThat(link("tw-team").mtu()).isEqualTo(1400);
        assertThat(realizer.realize("team").mtu()).as("kept as recorded").isEqualTo(1400);
    }

    @Test
    void anUnderlayTooSmallForVxlanIsRefusedNamingTheRange() {
        assertThatThrownBy(() -> new NetworkRealizer.Fleet(placements, "host-a", 625))
                .isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("underlay MTU 625 is out of range").hasMessageContaining("626–65535");
        assertThatThrownBy(() -> realizer.realize("team", NetworkRealizer.Options.defaults().withMtu(575)))
                .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("cannot have MTU 575")
                .hasMessageContaining("576");
        assertThat(realizer.list()).as("nothing realized").isEmpty();
        assertThatThrownBy(() -> new NetworkRealizer.Fleet(placements, "-a", 1500))
                .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("invalid host name");
        assertThatThrownBy(() -> new NetworkRealizer(root, registry, null))
                .isInstanceOf(InvalidNetworkSpecException.class);
    }

    @Test
    void dhcpLeasesOnlyTheMembersPlacedHereAndDnsAnswersForEveryMember() throws Exception {
        HostRequirements.assume(Files.isExecutable(Path.of("/bin/busybox")), "needs busybox (Debian package busybox-static)");
        Ipv4Address local = registry.join("team", "local");
        Ipv4Address remote = registry.join("team", "remote");
        Ipv4Address nowhere = registry.join("team", "nowhere");
        HostLease a = placements.register(HOST_A, Duration.ofSeconds(10));
        HostLease b = placements.register(HOST_B, Duration.ofSeconds(10));
        a.place("team", "local", MacAddress.forMember("team", "local"));
        b.place("team", "remote", MacAddress.forMember("team", "remote"));
        realizer.realize("team", false);
        exec("ip", "link", "add", "twf0", "type", "veth", "peer", "name", "twf1");
        exec("ip", "link", "set", "twf0", "master", "tw-team", "up");

        assertThat(lease(MacAddress.forMember("team", "local"))).contains(local.toString());
        assertThat(lease(MacAddress.forMember("team", "remote"))).as("host-b's dnsmasq leases it")
                .doesNotContain("obtained");
        assertThat(lease(MacAddress.forMember("team", "nowhere"))).as("placed nowhere: no lease")
                .doesNotContain("obtained");
        for (String name : List.of("remote", "remote.team")) {
            assertThat(Dns.queryA("10.77.0.1", name)).as(name).containsExactly(remote.toString());
        }
        assertThat(Dns.queryA("10.77.0.1", "nowhere")).containsExactly(nowhere.toString());
        new NetworkRealizer(root, registry).syncAll(); // the provider's realizer, which has no fleet, syncs too
        assertThat(lease(MacAddress.forMember("team", "remote"))).as("it leases what the agent's realizer leases")
                .doesNotContain("obtained");
        assertThat(lease(MacAddress.forMember("team", "local"))).contains(local.toString());

        b.unplace("team", "remote");
        a.place("team", "remote", MacAddress.forMember("team", "remote")); // the workspace moved here
        realizer.syncAll();
        assertThat(lease(MacAddress.forMember("team", "remote"))).as("moved here: leased here, same address")
                .contains("lease of " + remote + " obtained");
    }

    /** Asks for a lease with busybox udhcpc on twf1 as {@code mac} (three tries, 1 s apart); returns its output. */
    private static String lease(MacAddress mac) throws Exception {
        exec("ip", "link", "set", "twf1", "down");
        exec("ip", "link", "set", "twf1", "address", mac.toString(), "up");
        Process p = new ProcessBuilder("busybox", "udhcpc", "-i", "twf1", "-f", "-q", "-n", "-t", "3", "-T", "1",
                "-s", "/bin/true").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        return out;
    }

    private static String exec(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(String.join(" ", command) + ": " + out).isZero();
        return out;
    }
}
