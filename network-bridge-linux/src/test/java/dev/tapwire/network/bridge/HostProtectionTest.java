package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.bridge.linux.Nftables;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.TemporaryRegistry;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The host seen from a hostile guest: raw frames written to a TAP on a realized network's bridge, asserting what the
 * host receives (a UDP socket listening on every address) and what it answers (frames coming out of the TAP). The
 * host has a "management" address on a dummy interface, a service address on {@code lo} and a second network.
 */
@IsolatedNetns
class HostProtectionTest {

    private static final int PORT = 7001;
    private static final MacAddress GUEST_MAC = MacAddress.parse("02:00:00:00:01:0a");
    private static final Ipv4Address GUEST = Ipv4Address.parse("10.77.0.10");
    private static final Ipv4Address GATEWAY = Ipv4Address.parse("10.77.0.1");
    private static final Ipv4Address OTHER_GATEWAY = Ipv4Address.parse("10.78.0.1");
    private static final Ipv4Address MANAGEMENT = Ipv4Address.parse("192.0.2.1");
    private static final Ipv4Address ON_LO = Ipv4Address.parse("198.18.0.1");

    @TempDir
    Path root;

    NetworkRealizer realizer;
    GuestPort guest;
    DatagramSocket host;
    MacAddress gatewayMac;

    @BeforeEach
    void network(@TemporaryRegistry NetworkRegistry registry) throws Exception {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        HostRequirements.assume(BridgeNetworkProviderTest.onPath("ip") && BridgeNetworkProviderTest.onPath("bridge"),
                "iproute2 (ip, bridge) adds the host's other addresses and shows port states "
                + "here (Debian package iproute2)");
        registry.create("team", Ipv4Subnet.parse("10.77.0.0/24"));
        registry.create("other", Ipv4Subnet.parse("10.78.0.0/24"));
        realizer = new NetworkRealizer(root, registry);
        exec("ip", "link", "set", "lo", "up");
        exec("ip", "link", "add", "mgmt0", "type", "bridge"); // no dummy module here: any interface will do
        exec("ip", "addr", "add", MANAGEMENT + "/24", "dev", "mgmt0");
        exec("ip", "link", "set", "mgmt0", "up");
        exec("ip", "addr", "add", ON_LO + "/32", "dev", "lo");
        host = new DatagramSocket(new InetSocketAddress(InetAddress.getByName("0.0.0.0"), PORT));
    }

    @AfterEach
    void close() {
        if (guest != null) {
            guest.close();
        }
        if (host != null) {
            host.close();
        }
        realizer.list().forEach(r -> realizer.unrealize(r.network()));
    }

    private void realize(NetworkRealizer.Options options) {
        realizer.realize("team", options);
        realizer.realize("other", false);
        try (dev.tapwire.network.bridge.linux.Interfaces interfaces = dev.tapwire.network.bridge.linux.Interfaces.open()) {
            gatewayMac = interfaces.mac("tw-team");
        }
        guest = GuestPort.on("tw-team", "guest0", GUEST_MAC);
        try { // the host's answers need the guest's MAC; the raw guest answers no ARP
            exec("ip", "neigh", "replace", GUEST.toString(), "lladdr", GUEST_MAC.toString(), "dev", "tw-team", "nud",
                    "permanent");
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private boolean hostReceives(Ipv4Address to) throws Exception {
        byte[] marker = GuestPort.marker();
        for (int i = 0; i < 3; i++) {
            guest.send(Frames.udp4(gatewayMac, GUEST_MAC, GUEST, to, PORT, PORT, marker));
        }
        return GuestPort.receives(host, marker, 500);
    }

    @Test
    void aGuestReachesNoHostPortOnAnyAddressUnlessItsNetworksAllowListOpensItOnTheGateway() throws Exception {
        realize(NetworkRealizer.Options.defaults());
        assertThat(hostReceives(GATEWAY)).as("the gateway, port not allowed").isFalse();
        assertThat(hostReceives(MANAGEMENT)).as("the host's management address").isFalse();
        assertThat(hostReceives(ON_LO)).as("a service address on lo").isFalse();
        assertThat(hostReceives(OTHER_GATEWAY)).as("another network's gateway").isFalse();

        realizer.realize("team", NetworkRealizer.Options.defaults().withHostPorts(List.of(HostPort.parse(PORT
                + "/udp"))));
        assertThat(hostReceives(GATEWAY)).as("the allowed port on the gateway").isTrue();
        assertThat(hostReceives(MANAGEMENT)).as("the allowed port elsewhere").isFalse();
        assertThat(realizer.inspect("team").orElseThrow().realization().hostPorts())
                .containsExactly(HostPort.parse(PORT + "/udp"));
    }

    @Test
    void theGatewayStillAnswersPingsAndDnsButNoOtherAddressOfTheHostAnswersPings() throws Exception {
        realize(NetworkRealizer.Options.defaults());
        byte[] marker = GuestPort.marker();
        java.util.function.Predicate<byte[]> reply = f -> Frames.contains(f, marker) && f.length > 34 && f[23] == 1
                && f[34] == 0;
        assertThat(guest.answered(GuestPort.echoRequest(gatewayMac, GUEST_MAC, GUEST, GATEWAY, marker), reply))
                .as("the gateway answers a ping").isTrue();
        assertThat(guest.answered(GuestPort.echoRequest(gatewayMac, GUEST_MAC, GUEST, MANAGEMENT, marker), reply))
                .as("the management address does not").isFalse();
        assertThat(guest.answered(GuestPort.echoRequest(gatewayMac, GUEST_MAC, GUEST, OTHER_GATEWAY, marker), reply))
                .as("another network's gateway does not").isFalse();
        byte[] query = Dns.query("web.team");
        assertThat(guest.answered(Frames.udp4(gatewayMac, GUEST_MAC, GUEST, GATEWAY, 40_000, 53, query),
                f -> f.length > 42 && (f[34] & 0xff) == 0 && (f[35] & 0xff) == 53 && f[42] == query[0]
                        && f[43] == query[1])).as("dnsmasq answers DNS on the gateway").isTrue();
    }

    @Test
    void theHostAnswersArpOnABridgeOnlyForThatBridgesGateway() {
        realize(NetworkRealizer.Options.defaults());
        assertThat(guest.arpAnswered(GUEST, GATEWAY)).as("its own gateway").isTrue();
        assertThat(guest.arpAnswered(GUEST, MANAGEMENT)).as("the host's management address").isFalse();
        assertThat(guest.arpAnswered(GUEST, OTHER_GATEWAY)).as("another network's gateway").isFalse();
        assertThat(guest.arpAnswered(GUEST, ON_LO)).as("an address on lo").isFalse();
    }

    @Test
    void aTapwireBridgeHasNoIpv6TakesNoRouterAdvertisementAndIpv6InputFromGuestsIsDropped() throws Exception {
        realize(NetworkRealizer.Options.defaults());
        assertThat(Files.readString(Path.of("/proc/sys/net/ipv6/conf/tw-team/disable_ipv6")).strip()).isEqualTo("1");
        assertThat(Files.readString(Path.of("/proc/sys/net/ipv6/conf/tw-team/accept_ra")).strip()).isEqualTo("0");
        for (int i = 0; i < 3; i++) {
            guest.send(Frames.routerAdvertisement(GUEST_MAC, Frames.linkLocal(GUEST_MAC),
                    Frames.ipv6Address("2001:db8:66::"), GuestPort.marker()));
        }
        Thread.sleep(300);
        assertThat(exec("ip", "-6", "route", "show")).as("no route via the guest").doesNotContain("tw-team");
        assertThat(exec("ip", "-6", "addr", "show", "dev", "tw-team")).doesNotContain("2001:db8:66");

        // an operator turns IPv6 back on the bridge: the table still keeps guests' IPv6 from the host
        Files.writeString(Path.of("/proc/sys/net/ipv6/conf/tw-team/disable_ipv6"), "0\n");
        exec("ip", "-6", "addr", "add", "fd00:77::1/64", "dev", "tw-team", "nodad");
        try (DatagramSocket six = new DatagramSocket(new InetSocketAddress(InetAddress.getByName("::"), PORT + 1))) {
            byte[] marker = GuestPort.marker();
            for (int i = 0; i < 3; i++) {
                guest.send(Frames.udp6(gatewayMac, GUEST_MAC, Frames.ipv6Address("fd00:77::10"),
                        Frames.ipv6Address("fd00:77::1"), PORT + 1, PORT + 1, marker));
            }
            assertThat(GuestPort.receives(six, marker, 500)).as("IPv6 from a guest reaches no host socket").isFalse();
        }
        assertThat(realizer.verify("team").problems()).anySatisfy(p -> assertThat(p).contains("disable_ipv6"));
        assertThat(Files.readString(Path.of("/proc/sys/net/ipv6/conf/tw-team/disable_ipv6")).strip()).isEqualTo("1");
    }

    @Test
    void theHostsOwnConnectionsToAGuestGetTheirReplies() throws Exception {
        realize(NetworkRealizer.Options.defaults());
        try (DatagramSocket client = new DatagramSocket(new InetSocketAddress(InetAddress.getByName("0.0.0.0"), 0))) {
            byte[] marker = GuestPort.marker();
            client.send(new java.net.DatagramPacket(marker, marker.length, InetAddress.getByName(GUEST.toString()),
                    PORT));
            assertThat(guest.sees(f -> Frames.contains(f, marker), 1000)).isTrue();
            byte[] answer = GuestPort.marker();
            for (int i = 0; i < 3; i++) {
                guest.send(Frames.udp4(gatewayMac, GUEST_MAC, GUEST, GATEWAY, PORT, client.getLocalPort(), answer));
            }
            assertThat(GuestPort.receives(client, answer, 500)).as("a reply to the host's own datagram").isTrue();
        }
        assertThat(Nftables.run("list table inet tapwire_" + NetworkRealizer.ownerTag(root)))
                .contains("ct state established,related accept");
    }

    private static String exec(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(String.join(" ", command) + ": " + out).isZero();
        return out;
    }
}
