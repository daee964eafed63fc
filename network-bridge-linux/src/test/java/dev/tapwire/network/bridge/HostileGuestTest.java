package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static dev.tapwire.network.bridge.FrameProbe.hostSocket;
import static dev.tapwire.network.bridge.FrameProbe.marked;
import static dev.tapwire.network.bridge.FrameProbe.waitFor;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.bridge.PortSecurity.Entry;
import dev.tapwire.network.bridge.linux.BridgePorts;
import dev.tapwire.network.bridge.linux.Interfaces;
import dev.tapwire.network.bridge.linux.Nftables;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.bridge.linux.TapQueue;
import dev.tapwire.network.bridge.linux.Tun;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.NetworkNamespace;
import java.io.IOException;
import java.net.DatagramSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A hostile guest writes raw frames to its TAP queue; a victim's queue and the host (a UDP socket, its neighbour
 * table, its routes, the bridge's forwarding database) show what got through. Each test first shows the hostile
 * frame getting through without port security (what the room must stop), then — with both ports admitted — that a
 * control frame with the right MAC and address still arrives, and that the hostile one does not: a test cannot pass
 * by dropping everything, and none passes without the room. Each runs in its own network namespace.
 */
@IsolatedNetns
class HostileGuestTest {

    private static final String BRIDGE = "br0";
    private static final String VICTIM = "victim0";
    private static final String ATTACKER = "attack0";
    private static final MacAddress VICTIM_MAC = MacAddress.parse("02:00:00:00:00:0a");
    private static final MacAddress ATTACKER_MAC = MacAddress.parse("02:00:00:00:00:0b");
    private static final MacAddress FOREIGN_MAC = MacAddress.parse("02:00:00:00:00:66");
    private static final Ipv4Address GATEWAY = Ipv4Address.parse("10.44.1.1");
    private static final Ipv4Address VICTIM_IP = Ipv4Address.parse("10.44.1.10");
    private static final Ipv4Address ATTACKER_IP = Ipv4Address.parse("10.44.1.11");
    private static final Ipv4Address FOREIGN_IP = Ipv4Address.parse("10.44.1.99");
    private static final Ipv4Address ANY = Ipv4Address.parse("0.0.0.0");
    private static final Ipv4Address ALL = Ipv4Address.parse("255.255.255.255");
    private static final MacAddress NOBODY = MacAddress.parse("00:00:00:00:00:00");
    private static final int PORT = 5000;

    private final PortSecurity security = new PortSecurity("hostile");
    private final List<AutoCloseable> closing = new ArrayList<>();
    private MacAddress bridgeMac;
    private TapQueue victim;
    private TapQueue attacker;
    private FrameProbe probe;

    @BeforeEach
    void network() {
        HostRequirements.assume(Nftables.unavailabilityCause());
        HostRequirements.assume(BridgeNetworkProviderTest.onPath("ip") && BridgeNetworkProviderTest.onPath("bridge"),
                "iproute2 (ip, bridge) reads the host's neighbour table, routes and forwarding database here (Debian "
                        + "package iproute2)");
        NetworkNamespace.createBridge(BRIDGE);
        try (Rtnetlink netlink = Rtnetlink.open(); Interfaces interfaces = Interfaces.open()) {
            interfaces.setIpv4(BRIDGE, GATEWAY, 24);
            int bridge = interfaces.index(BRIDGE);
            for (String tap : List.of(VICTIM, ATTACKER)) {
                Tun.createPersistentTap(tap, false, OptionalInt.empty(), OptionalInt.empty());
                netlink.execute(List.of(Rtnetlink.bringUpOnBridge(interfaces.index(tap), tap, 0, bridge)));
            }
            bridgeMac = interfaces.mac(BRIDGE); // a bridge without a MAC of its own takes its lowest port's
        }
        victim = open(Tun.attach(VICTIM, false));
        attacker = open(Tun.attach(ATTACKER, false));
        probe = new FrameProbe(attacker, victim);
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
    }

    private void admitBoth() {
        security.admit(Map.of(VICTIM, Entry.strict(VICTIM_MAC, VICTIM_IP), ATTACKER, Entry.strict(ATTACKER_MAC,
                ATTACKER_IP)), Map::of);
    }

    // ------------------------------------------------------------------ MAC

    @Test
    void aFrameWithANeighboursSourceMacIsDropped() {
        Function<byte[], byte[]> spoofed = m -> Frames.udp4(Frames.BROADCAST, VICTIM_MAC, ATTACKER_IP, ALL, PORT,
                PORT, m);
        Function<byte[], byte[]> own = m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, ATTACKER_IP, ALL, PORT, PORT,
                m);
        arrives(spoofed, atVictim());
        admitBoth();
        arrives(own, atVictim());
        isDropped(spoofed, atVictim());
    }

    @Test
    void aDroppedFrameTeachesTheBridgeNothing() throws Exception {
        // the bridge learns a source MAC before its forward hook: only a prerouting rule keeps a spoofed frame
        // from moving a neighbour's forwarding entry to the attacker's port
        arrives(m -> Frames.udp4(Frames.BROADCAST, FOREIGN_MAC, ATTACKER_IP, ALL, PORT, PORT, m), atVictim());
        assertThat(fdb(ATTACKER)).contains(FOREIGN_MAC.toString());
        run("bridge", "fdb", "del", FOREIGN_MAC.toString(), "dev", ATTACKER, "master");
        admitBoth();
        arrives(m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, ATTACKER_IP, ALL, PORT, PORT, m), atVictim());
        isDropped(m -> Frames.udp4(Frames.BROADCAST, VICTIM_MAC, ATTACKER_IP, ALL, PORT, PORT, m), atVictim());
        assertThat(fdb(ATTACKER)).contains(ATTACKER_MAC.toString()).doesNotContain(VICTIM_MAC.toString());
    }

    @Test
    void aLinkLocalFrameWithASpoofedSourceTeachesTheBridgeNothingEither() throws Exception {
        // 01:80:c2:00:00:03 (802.1X) is passed up at the bridge's input hook without prerouting, and the bridge
        // learns its source there: only the input chain keeps it from moving the victim's MAC to the attacker
        MacAddress pae = MacAddress.parse("01:80:c2:00:00:03");
        byte[] eapol = Frames.ethernet(pae, FOREIGN_MAC, 0x888e, new byte[46]);
        waitFor(() -> {
            attacker.writeFrame(eapol);
            return fdb(ATTACKER).contains(FOREIGN_MAC.toString());
        }, "the bridge to learn the source of a link-local frame");
        run("bridge", "fdb", "del", FOREIGN_MAC.toString(), "dev", ATTACKER, "master");
        admitBoth();
        arrives(m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, ATTACKER_IP, ALL, PORT, PORT, m), atVictim());
        byte[] spoofed = Frames.ethernet(pae, VICTIM_MAC, 0x888e, new byte[46]);
        for (int i = 0; i < 3; i++) {
            attacker.writeFrame(spoofed);
        }
        Thread.sleep(300);
        assertThat(fdb(ATTACKER)).doesNotContain(VICTIM_MAC.toString());
    }

    @Test
    void afterTheRulesetIsFlushedReconcileRestoresTheFiltering() {
        Function<byte[], byte[]> spoofed = m -> Frames.udp4(Frames.BROADCAST, VICTIM_MAC, ATTACKER_IP, ALL, PORT,
                PORT, m);
        Map<String, Entry> expected = Map.of(VICTIM, Entry.strict(VICTIM_MAC, VICTIM_IP), ATTACKER,
                Entry.strict(ATTACKER_MAC, ATTACKER_IP));
        security.admit(expected, Map::of);
        arrives(m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, ATTACKER_IP, ALL, PORT, PORT, m), atVictim());
        isDropped(spoofed, atVictim());

        Nftables.run("flush ruleset"); // a firewall reload
        arrives(spoofed, atVictim());
        assertThat(security.verify(expected, true)).isNotEmpty();
        assertThat(security.reconcile(expected)).isNotEmpty();
        isDropped(spoofed, atVictim());
        assertThat(security.verify(expected, true)).isEmpty();
    }

    // ------------------------------------------------------------------ ARP

    @Test
    void arpWithAForeignSenderMacIsDroppedAndLeavesTheHostsNeighbourEntry() throws Exception {
        Function<byte[], byte[]> foreign = m -> marked(Frames.arp(Frames.BROADCAST, ATTACKER_MAC, 1, FOREIGN_MAC,
                ATTACKER_IP, NOBODY, GATEWAY), m);
        Function<byte[], byte[]> own = m -> marked(Frames.arp(Frames.BROADCAST, ATTACKER_MAC, 1, ATTACKER_MAC,
                ATTACKER_IP, NOBODY, GATEWAY), m);
        arrives(foreign, atVictim());
        assertThat(neighbour(ATTACKER_IP)).contains(FOREIGN_MAC.toString());
        run("ip", "neigh", "flush", "dev", BRIDGE);
        admitBoth();
        arrives(own, atVictim());
        assertThat(neighbour(ATTACKER_IP)).contains(ATTACKER_MAC.toString());
        isDropped(foreign, atVictim());
        assertThat(neighbour(ATTACKER_IP)).contains(ATTACKER_MAC.toString()).doesNotContain(FOREIGN_MAC.toString());
    }

    @Test
    void arpClaimingTheVictimsOrTheGatewaysAddressIsDroppedAndPoisonsNoCache() throws Exception {
        // "who-has gateway, tell <victim>" with the attacker's MAC: without the room the host's entry for the
        // victim moves to the attacker
        Function<byte[], byte[]> poison = m -> marked(Frames.arp(Frames.BROADCAST, ATTACKER_MAC, 1, ATTACKER_MAC,
                VICTIM_IP, NOBODY, GATEWAY), m);
        arrives(poison, atVictim());
        assertThat(neighbour(VICTIM_IP)).contains(ATTACKER_MAC.toString());
        run("ip", "neigh", "flush", "dev", BRIDGE);
        admitBoth();
        arrives(m -> marked(Frames.arp(Frames.BROADCAST, ATTACKER_MAC, 1, ATTACKER_MAC, ATTACKER_IP, NOBODY,
                GATEWAY), m), atVictim());
        // an RFC 5227 probe (sender 0.0.0.0) claims nothing and passes
        arrives(m -> marked(Frames.arp(Frames.BROADCAST, ATTACKER_MAC, 1, ATTACKER_MAC, ANY, NOBODY, VICTIM_IP), m),
                atVictim());
        isDropped(poison, atVictim());
        // a gratuitous ARP for the victim's address, and "who-has victim, tell <gateway>"
        isDropped(m -> marked(Frames.arp(Frames.BROADCAST, ATTACKER_MAC, 2, ATTACKER_MAC, VICTIM_IP,
                Frames.BROADCAST, VICTIM_IP), m), atVictim());
        isDropped(m -> marked(Frames.arp(Frames.BROADCAST, ATTACKER_MAC, 1, ATTACKER_MAC, GATEWAY, NOBODY,
                VICTIM_IP), m), atVictim());
        assertThat(neighbour(VICTIM_IP)).doesNotContain(ATTACKER_MAC.toString());
    }

    // ------------------------------------------------------------------ IPv4 source

    @Test
    void ipv4FromAForeignSourceIsDroppedToTheHostAndToOtherGuests() throws Exception {
        try (DatagramSocket host = hostSocket(GATEWAY, PORT)) {
            Function<byte[], byte[]> toHost = m -> Frames.udp4(bridgeMac, ATTACKER_MAC, VICTIM_IP, GATEWAY, PORT,
                    PORT, m);
            Function<byte[], byte[]> toGuests = m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, FOREIGN_IP, ALL,
                    PORT, PORT, m);
            arrives(toHost, atHost(host));
            arrives(toGuests, atVictim());
            admitBoth();
            arrives(m -> Frames.udp4(bridgeMac, ATTACKER_MAC, ATTACKER_IP, GATEWAY, PORT, PORT, m), atHost(host));
            arrives(m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, ATTACKER_IP, ALL, PORT, PORT, m), atVictim());
            isDropped(toHost, atHost(host));
            isDropped(toGuests, atVictim());
        }
    }

    @Test
    void aDhcpClientFromNoAddressReachesTheHostAndCrossesTheBridgeButNothingElseFromNoAddressDoes()
            throws Exception {
        try (DatagramSocket server = hostSocket(ANY, 67)) {
            admitBoth();
            Function<byte[], byte[]> discover = m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, ANY, ALL, 68, 67,
                    m);
            arrives(discover, atHost(server));
            arrives(discover, atVictim());
            isDropped(m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, ANY, ALL, 1068, 67, m), atHost(server));
            isDropped(m -> Frames.udp4(bridgeMac, ATTACKER_MAC, ANY, GATEWAY, 68, 67, m), atHost(server));
        }
    }

    // ------------------------------------------------------------------ rogue servers

    @Test
    void dhcpOffersAndAcksFromAGuestAreDropped() {
        int xid = ThreadLocalRandom.current().nextInt();
        Function<byte[], byte[]> offer = m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, ATTACKER_IP, ALL, 67, 68,
                marked(Frames.dhcpReply(Frames.DHCP_OFFER, xid, VICTIM_MAC, VICTIM_IP, ATTACKER_IP), m));
        Function<byte[], byte[]> ack = m -> Frames.udp4(VICTIM_MAC, ATTACKER_MAC, ATTACKER_IP, VICTIM_IP, 67, 68,
                marked(Frames.dhcpReply(Frames.DHCP_ACK, xid, VICTIM_MAC, VICTIM_IP, ATTACKER_IP), m));
        arrives(offer, atVictim());
        arrives(ack, atVictim());
        admitBoth();
        // the same bytes to another port are ordinary traffic
        arrives(m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, ATTACKER_IP, ALL, 67, 1068,
                marked(Frames.dhcpReply(Frames.DHCP_OFFER, xid, VICTIM_MAC, VICTIM_IP, ATTACKER_IP), m)), atVictim());
        isDropped(offer, atVictim());
        isDropped(ack, atVictim());
    }

    @Test
    void icmpRedirectsFromAGuestAreDroppedEvenFromItsOwnAddress() {
        Function<byte[], byte[]> redirect = m -> Frames.icmpRedirect(VICTIM_MAC, ATTACKER_MAC, ATTACKER_IP, VICTIM_IP,
                ATTACKER_IP, m);
        arrives(redirect, atVictim());
        admitBoth();
        arrives(m -> Frames.udp4(VICTIM_MAC, ATTACKER_MAC, ATTACKER_IP, VICTIM_IP, PORT, PORT, m), atVictim());
        isDropped(redirect, atVictim());
    }

    @Test
    void dhcpv6AdvertisementsAndRouterAdvertisementsFromAGuestAreDropped() throws Exception {
        byte[] attackerLl = Frames.linkLocal(ATTACKER_MAC);
        byte[] allNodes = Frames.ipv6Address("ff02::1");
        MacAddress allNodesMac = MacAddress.parse("33:33:00:00:00:01");
        Function<byte[], byte[]> advertise = m -> Frames.udp6(allNodesMac, ATTACKER_MAC, attackerLl, allNodes, 547,
                546, Frames.dhcp6Advertise(0x42, m));
        Function<byte[], byte[]> ra = m -> Frames.routerAdvertisement(ATTACKER_MAC, attackerLl,
                Frames.ipv6Address("2001:db8:66::"), m);
        arrives(advertise, atVictim());
        arrives(ra, atVictim());
        // the host's bridge took a default route from it
        waitFor(() -> run("ip", "-6", "route", "show", "default").contains("fe80::"), "a default route from the RA");
        run("ip", "-6", "route", "flush", "default");
        run("ip", "-6", "addr", "flush", "dev", BRIDGE, "scope", "global");
        admitBoth();
        arrives(m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, ATTACKER_IP, ALL, PORT, PORT, m), atVictim());
        isDropped(advertise, atVictim());
        isDropped(ra, atVictim());
        assertThat(run("ip", "-6", "route", "show", "default")).isEmpty();
        assertThat(run("ip", "-6", "addr", "show", "dev", BRIDGE, "scope", "global")).isEmpty();
    }

    // ------------------------------------------------------------------ VLAN

    @Test
    void vlanAndQinQTaggedFramesCannotCarryASpoofedFrameAroundTheRules() {
        Function<byte[], byte[]> spoofedInner = m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, VICTIM_IP, ALL, PORT,
                PORT, m);
        Function<byte[], byte[]> dot1q = m -> Frames.tagged(Frames.VLAN_8021Q, 10, spoofedInner.apply(m));
        Function<byte[], byte[]> qinq = m -> Frames.tagged(Frames.VLAN_8021AD, 20,
                Frames.tagged(Frames.VLAN_8021Q, 10, spoofedInner.apply(m)));
        Function<byte[], byte[]> taggedPoison = m -> Frames.tagged(Frames.VLAN_8021Q, 10, marked(Frames.arp(
                Frames.BROADCAST, ATTACKER_MAC, 1, ATTACKER_MAC, VICTIM_IP, NOBODY, GATEWAY), m));
        arrives(dot1q, atVictim());
        arrives(qinq, atVictim());
        arrives(taggedPoison, atVictim());
        admitBoth();
        arrives(m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, ATTACKER_IP, ALL, PORT, PORT, m), atVictim());
        isDropped(dot1q, atVictim());
        isDropped(qinq, atVictim());
        isDropped(taggedPoison, atVictim());
        // even with the right inner source
        isDropped(m -> Frames.tagged(Frames.VLAN_8021Q, 10, Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, ATTACKER_IP,
                ALL, PORT, PORT, m)), atVictim());
    }

    @Test
    void everyEthertypeButArpAndIpv4IsDroppedFromAStrictPort() {
        Function<byte[], byte[]> ipv6 = m -> Frames.udp6(MacAddress.parse("33:33:00:00:00:01"), ATTACKER_MAC,
                Frames.linkLocal(ATTACKER_MAC), Frames.ipv6Address("ff02::1"), PORT, PORT, m);
        Function<byte[], byte[]> other = m -> Frames.ethernet(Frames.BROADCAST, ATTACKER_MAC, 0x88b5, m); // local exp.
        arrives(ipv6, atVictim());
        arrives(other, atVictim());
        admitBoth();
        arrives(m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, ATTACKER_IP, ALL, PORT, PORT, m), atVictim());
        isDropped(ipv6, atVictim());
        isDropped(other, atVictim());
    }

    // ------------------------------------------------------------------ the other modes

    @Test
    void aPortWithoutAnAddressGetsTheMacAndArpRulesOnly() {
        security.admit(Map.of(VICTIM, Entry.strict(VICTIM_MAC, VICTIM_IP), ATTACKER, Entry.macOnly(ATTACKER_MAC)),
                Map::of);
        // its address is not tapwire's to know: any source address with its own MAC passes
        arrives(m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, FOREIGN_IP, ALL, PORT, PORT, m), atVictim());
        arrives(m -> marked(Frames.arp(Frames.BROADCAST, ATTACKER_MAC, 1, ATTACKER_MAC, FOREIGN_IP, NOBODY, GATEWAY),
                m), atVictim());
        isDropped(m -> Frames.udp4(Frames.BROADCAST, VICTIM_MAC, FOREIGN_IP, ALL, PORT, PORT, m), atVictim());
        isDropped(m -> marked(Frames.arp(Frames.BROADCAST, ATTACKER_MAC, 1, VICTIM_MAC, FOREIGN_IP, NOBODY, GATEWAY),
                m), atVictim());
        isDropped(m -> Frames.tagged(Frames.VLAN_8021Q, 10, marked(Frames.arp(Frames.BROADCAST, ATTACKER_MAC, 1,
                VICTIM_MAC, FOREIGN_IP, NOBODY, GATEWAY), m)), atVictim());
    }

    @Test
    void aPortWithPortSecurityOffStillCannotActAsADhcpServerOrRouter() {
        security.admit(Map.of(VICTIM, Entry.strict(VICTIM_MAC, VICTIM_IP), ATTACKER, Entry.open()), Map::of);
        byte[] attackerLl = Frames.linkLocal(ATTACKER_MAC);
        byte[] allNodes = Frames.ipv6Address("ff02::1");
        MacAddress allNodesMac = MacAddress.parse("33:33:00:00:00:01");
        // what the manager turned filtering off for passes: another MAC, another address, IPv6, tags
        arrives(m -> Frames.udp4(Frames.BROADCAST, FOREIGN_MAC, FOREIGN_IP, ALL, PORT, PORT, m), atVictim());
        arrives(m -> Frames.udp6(allNodesMac, ATTACKER_MAC, attackerLl, allNodes, PORT, 546, m), atVictim());
        arrives(m -> Frames.tagged(Frames.VLAN_8021Q, 10, Frames.udp4(Frames.BROADCAST, FOREIGN_MAC, FOREIGN_IP, ALL,
                PORT, PORT, m)), atVictim());
        isDropped(m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, ATTACKER_IP, ALL, 67, 68, marked(
                Frames.dhcpReply(Frames.DHCP_OFFER, 7, VICTIM_MAC, VICTIM_IP, ATTACKER_IP), m)), atVictim());
        isDropped(m -> Frames.udp6(allNodesMac, ATTACKER_MAC, attackerLl, allNodes, 547, 546,
                Frames.dhcp6Advertise(7, m)), atVictim());
        isDropped(m -> Frames.routerAdvertisement(ATTACKER_MAC, attackerLl,
                Frames.ipv6Address("2001:db8:66::"), m), atVictim());
        isDropped(m -> Frames.icmpRedirect(VICTIM_MAC, ATTACKER_MAC, ATTACKER_IP, VICTIM_IP, ATTACKER_IP, m),
                atVictim());
    }

    // ------------------------------------------------------------------ isolation

    @Test
    void isolatedPortsCannotReachEachOtherButStillReachTheGateway() throws Exception {
        Function<byte[], byte[]> toVictim = m -> Frames.udp4(VICTIM_MAC, ATTACKER_MAC, ATTACKER_IP, VICTIM_IP, PORT,
                PORT, m);
        Function<byte[], byte[]> broadcast = m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, ATTACKER_IP, ALL, PORT,
                PORT, m);
        arrives(toVictim, atVictim());
        arrives(broadcast, atVictim());
        isolate(true);
        assertThat(run("bridge", "-d", "link", "show", "dev", ATTACKER)).contains("isolated on");
        try (DatagramSocket host = hostSocket(GATEWAY, PORT)) {
            arrives(m -> Frames.udp4(bridgeMac, ATTACKER_MAC, ATTACKER_IP, GATEWAY, PORT, PORT, m), atHost(host));
            isDropped(toVictim, atVictim());
            isDropped(broadcast, atVictim());
        }
        isolate(false);
        assertThat(run("bridge", "-d", "link", "show", "dev", ATTACKER)).contains("isolated off");
        arrives(toVictim, atVictim());
    }

    @Test
    void isolatingALinkThatIsNoBridgePortFailsNamingIt() {
        Tun.createPersistentTap("loose0", false, OptionalInt.empty(), OptionalInt.empty());
        try (Rtnetlink netlink = Rtnetlink.open(); Interfaces interfaces = Interfaces.open()) {
            int index = interfaces.index("loose0");
            assertThatThrownBy(() -> netlink.execute(List.of(BridgePorts.setIsolated(index, "loose0", true))))
                    .isInstanceOf(DeviceOperationException.class).hasMessageContaining("loose0")
                    .hasMessageContaining("RTM_SETLINK AF_BRIDGE isolated on");
        }
    }

    private void isolate(boolean on) {
        try (Rtnetlink netlink = Rtnetlink.open(); Interfaces interfaces = Interfaces.open()) {
            netlink.execute(List.of(BridgePorts.setIsolated(interfaces.index(VICTIM), VICTIM, on),
                    BridgePorts.setIsolated(interfaces.index(ATTACKER), ATTACKER, on)));
        }
    }

    // ------------------------------------------------------------------ harness

    private FrameProbe.Receiver atVictim() {
        return probe.atVictim();
    }

    private static FrameProbe.Receiver atHost(DatagramSocket socket) {
        return FrameProbe.atHost(socket);
    }

    private void arrives(Function<byte[], byte[]> frame, FrameProbe.Receiver at) {
        probe.arrives(frame, at);
    }

    private void isDropped(Function<byte[], byte[]> frame, FrameProbe.Receiver at) {
        probe.isDropped(frame, at);
    }

    private static String neighbour(Ipv4Address ip) {
        return run("ip", "neigh", "show", ip.toString(), "dev", BRIDGE);
    }

    private static String fdb(String port) {
        return run("bridge", "fdb", "show", "dev", port);
    }

    private static String run(String... command) {
        try {
            return BridgeNetworkProviderTest.run(command);
        } catch (IOException e) {
            throw new AssertionError(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private <T extends AutoCloseable> T open(T resource) {
        closing.add(resource);
        return resource;
    }
}
