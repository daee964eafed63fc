package dev.tapwire.network.bridge;

import static dev.tapwire.network.bridge.OverlayHosts.BRIDGE;
import static dev.tapwire.network.bridge.OverlayHosts.GATEWAY;
import static dev.tapwire.network.bridge.OverlayHosts.GATEWAY_MAC;
import static dev.tapwire.network.bridge.OverlayHosts.NETWORK;
import static dev.tapwire.network.bridge.OverlayHosts.UNDERLAY_MTU;
import static dev.tapwire.network.bridge.OverlayHosts.in;
import static dev.tapwire.network.bridge.OverlayHosts.ip;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.bridge.OverlayHosts.Host;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Nftables;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.NetworkNamespace;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The overlay between hosts made of network namespaces ({@link OverlayHosts}): two hosts on an underlay of MTU 1400,
 * each with the network's bridge and one guest, joined by {@link Overlay} and guarded by {@link OverlayFilter}.
 * Where a test shows something is stopped, it first shows the same traffic getting through without the mechanism
 * (or a control that does), so it cannot pass by everything being dropped.
 */
class OverlayTest {

    private static final String OWNER = "ovltest";
    private static final int VNI = 4242;
    private static final int PORT = 5000;
    private static final String DEVICE = Overlay.deviceName(NETWORK);

    private final Overlay overlay = new Overlay(OWNER);
    private final OverlayFilter filter = new OverlayFilter(OWNER);
    private OverlayHosts hosts;

    @BeforeEach
    void hosts() {
        HostRequirements.assume(NetworkNamespace.unavailabilityCause());
        HostRequirements.assume(Nftables.unavailabilityCause());
        HostRequirements.assume(BridgeNetworkProviderTest.onPath("ip") && BridgeNetworkProviderTest.onPath("bridge"),
                "iproute2 (ip netns, bridge fdb) builds the hosts and shows their tables here (Debian package iproute2)");
        hosts = new OverlayHosts(2);
    }

    @AfterEach
    void close() {
        if (hosts != null) {
            hosts.close();
        }
    }

    private Host h(int n) {
        return hosts.host(n);
    }

    /** Host n's overlay: the device, its entries for the other host's guest. */
    private void realize(int n) throws Exception {
        realize(n, VNI);
    }

    private void realize(int n, int vni) throws Exception {
        in(h(n).ns(), () -> {
            int mtu = Overlay.mtuOver(Overlay.underlayMtu(h(n).underlay()));
            overlay.ensure(new Overlay.Tunnel(NETWORK, BRIDGE, vni, h(n).underlay(), mtu, false));
            return overlay.sync(NETWORK, hosts.remotesOf(n));
        });
    }

    private void guard(int n) throws Exception {
        in(h(n).ns(), () -> {
            filter.allowVteps(Set.of(h(3 - n).underlay()));
            filter.sync(NETWORK, new OverlayFilter.Policy(GATEWAY_MAC, Set.of(h(n).guestMac()), hosts.remotesOf(n)));
            return null;
        });
    }

    /**
     * Whether an echo with DF and {@code size} bytes gets its reply, trying three times (a port just brought up
     * forwards once the kernel's link watch has seen its carrier: asynchronous, up to a second).
     */
    private static boolean pings(String ns, Ipv4Address to, int size) throws Exception {
        for (int attempt = 0; attempt < 3; attempt++) {
            if (in(ns, () -> DfPing.reaches(to, size))) {
                return true;
            }
        }
        return false;
    }

    /** Whether one echo gets its reply within 2 s: for what must not get through, after a control that did. */
    private static boolean pingsOnce(String ns, Ipv4Address to, int size) throws Exception {
        return in(ns, () -> DfPing.reaches(to, size));
    }

    // ------------------------------------------------------------------ the device and the path

    @Test
    void guestsOnTwoHostsReachEachOtherThroughTheOverlayAtTheOverlayMtu() throws Exception {
        assertThat(pingsOnce(h(1).guestNs(), h(2).guestIp(), 56)).as("no overlay yet").isFalse();
        realize(1);
        realize(2);
        int mtu = UNDERLAY_MTU - 50;
        // the largest packet with DF crosses: the overlay MTU leaves room for VXLAN on the underlay, no black hole
        assertThat(pings(h(1).guestNs(), h(2).guestIp(), mtu - 28)).isTrue();
        assertThat(pings(h(2).guestNs(), h(1).guestIp(), mtu - 28)).isTrue();
        Link device = in(h(1).ns(), () -> overlay.device(NETWORK)).orElseThrow();
        assertThat(device.mtu()).isEqualTo(mtu);
        assertThat(device.isUp()).isTrue();
        Link.VxlanInfo info = device.vxlan().orElseThrow();
        assertThat(info.vni()).isEqualTo(VNI);
        assertThat(info.port()).isEqualTo(4789);
        assertThat(info.local()).isEqualTo(h(1).underlay());
        assertThat(info.learning()).isFalse();
        assertThat(info.proxy()).isTrue();
        assertThat(info.udpChecksum()).isTrue();
        assertThat(in(h(1).ns(), overlay::networks)).containsExactly(NETWORK);
        assertThat(in(h(1).ns(), () -> new Overlay("someoneelse").networks())).isEmpty();
        assertThat(ip(h(1).ns(), "-d", "link", "show", DEVICE)).contains("master " + BRIDGE)
                .contains("dstport 4789").contains("nolearning").contains("proxy").contains("udpcsum");
        assertThat(OverlayHosts.command("bridge", "-n", h(1).ns(), "-d", "link", "show", "dev", DEVICE))
                .contains("learning off").contains("flood off");
    }

    @Test
    void aTcpTransferLargerThanOneMtuCrossesHosts() throws Exception {
        realize(1);
        realize(2);
        byte[] data = new byte[1 << 20];
        new java.util.Random(7).nextBytes(data);
        ServerSocket server = in(h(2).guestNs(), () -> {
            ServerSocket s = new ServerSocket();
            s.bind(new InetSocketAddress(InetAddress.getByAddress(h(2).guestIp().toBytes()), 7000));
            return s;
        });
        try (server) {
            CompletableFuture<Long> received = CompletableFuture.supplyAsync(() -> {
                try (Socket s = server.accept(); InputStream in = s.getInputStream()) {
                    long n = 0;
                    byte[] buf = new byte[65536];
                    for (int r; (r = in.read(buf)) > 0; ) {
                        n += r;
                    }
                    return n;
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            server.setSoTimeout(10_000);
            in(h(1).guestNs(), () -> {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress(InetAddress.getByAddress(h(2).guestIp().toBytes()), 7000), 5000);
                    s.setSoTimeout(10_000);
                    try (OutputStream out = s.getOutputStream()) {
                        out.write(data);
                    }
                }
                return null;
            });
            assertThat(received.get(15, TimeUnit.SECONDS)).isEqualTo(data.length);
        }
    }

    @Test
    void anArpRequestForARemoteMemberIsAnsweredOnItsOwnHost() throws Exception {
        realize(1);
        realize(2);
        // host 2 counts the VXLAN packets it receives by their inner ethertype
        in(h(2).ns(), () -> Nftables.run("table inet probe {\n counter arps {}\n counter ipv4s {}\n"
                + " chain input { type filter hook input priority -300; policy accept;\n"
                + "  udp dport 4789 @th,224,16 0x0806 counter name arps\n"
                + "  udp dport 4789 @th,224,16 0x0800 counter name ipv4s\n }\n}\n"));
        assertThat(pings(h(1).guestNs(), h(2).guestIp(), 56)).isTrue();
        assertThat(ip(h(1).guestNs(), "neigh", "show", h(2).guestIp().toString()))
                .contains("lladdr " + h(2).guestMac());
        assertThat(in(h(2).ns(), () -> packets("inet probe", "ipv4s"))).as("the ping crossed").isPositive();
        assertThat(in(h(2).ns(), () -> packets("inet probe", "arps"))).as("ARP requests that crossed").isZero();
    }

    @Test
    void broadcastDoesNotCrossHosts() throws Exception {
        realize(1);
        realize(2);
        try (DatagramSocket listener = in(h(2).guestNs(), () -> FrameProbe.hostSocket(Ipv4Address.parse("0.0.0.0"),
                PORT))) {
            assertThat(sendsTo(h(1).guestNs(), h(2).guestIp(), listener)).as("unicast, the control").isTrue();
            assertThat(sendsTo(h(1).guestNs(), Ipv4Address.parse("10.44.1.255"), listener)).isFalse();
            assertThat(sendsTo(h(1).guestNs(), Ipv4Address.parse("255.255.255.255"), listener)).isFalse();
        }
        String entries = OverlayHosts.command("bridge", "-n", h(1).ns(), "fdb", "show", "dev", DEVICE);
        assertThat(entries).doesNotContain("00:00:00:00:00:00");
    }

    /** Sends a UDP datagram from the namespace to {@code to}; tells whether the listener got it within 500 ms. */
    private static boolean sendsTo(String ns, Ipv4Address to, DatagramSocket listener) throws Exception {
        byte[] marker = FrameProbe.marker();
        in(ns, () -> {
            try (DatagramSocket s = new DatagramSocket()) {
                s.setBroadcast(true);
                for (int i = 0; i < 3; i++) {
                    s.send(new DatagramPacket(marker, marker.length, InetAddress.getByAddress(to.toBytes()), PORT));
                }
            }
            return null;
        });
        return FrameProbe.atHost(listener).saw(marker, 500);
    }

    // ------------------------------------------------------------------ reconcile

    @Test
    void aLearnedEntryDoesNotBreakTheSync() throws Exception {
        Host h1 = h(1);
        in(h1.ns(), () -> overlay.ensure(new Overlay.Tunnel(NETWORK, BRIDGE, VNI, h1.underlay(), 1350, false)));
        String mac = h(2).guestMac().toString();
        // what the kernel learns (or a crashed agent left): a dynamic entry for the MAC, elsewhere
        bridge(h1.ns(), "fdb", "add", mac, "dev", DEVICE, "dst", "198.51.100.77", "self");
        ip(h1.ns(), "neigh", "add", h(2).guestIp().toString(), "lladdr", "02:00:00:00:00:66", "dev", DEVICE);
        // an exclusive add, as a naive agent does it, fails on that entry (moby#53663)
        assertThatThrownBy(() -> bridge(h1.ns(), "fdb", "add", mac, "dev", DEVICE, "dst", h(2).underlay().toString(),
                "self", "permanent")).hasMessageContaining("File exists");
        List<String> changes = in(h1.ns(), () -> overlay.sync(NETWORK, hosts.remotesOf(1)));
        assertThat(changes).isNotEmpty();
        assertThat(bridge(h1.ns(), "fdb", "show", "dev", DEVICE)).contains(mac + " dst " + h(2).underlay() + " self "
                + "permanent").doesNotContain("198.51.100.77");
        assertThat(ip(h1.ns(), "neigh", "show", "dev", DEVICE)).contains(h(2).guestIp() + " lladdr " + mac
                + " PERMANENT");
        realize(2);
        assertThat(pings(h1.guestNs(), h(2).guestIp(), 56)).isTrue();
    }

    @Test
    void entriesNoRemoteExplainsAreRemovedAndAMovedMemberIsRepointed() throws Exception {
        Host h1 = h(1);
        in(h1.ns(), () -> overlay.ensure(new Overlay.Tunnel(NETWORK, BRIDGE, VNI, h1.underlay(), 1350, false)));
        MacAddress moved = h(2).guestMac();
        List<Overlay.Remote> before = List.of(new Overlay.Remote(moved, h(2).guestIp(),
                Ipv4Address.parse("198.51.100.9")));
        in(h1.ns(), () -> overlay.sync(NETWORK, before));
        // stale: an all-zeros entry (would flood broadcast to a VTEP), a member that left, its neighbour and bridge entry
        bridge(h1.ns(), "fdb", "append", "00:00:00:00:00:00", "dev", DEVICE, "dst", "198.51.100.9", "self",
                "permanent");
        bridge(h1.ns(), "fdb", "add", "02:00:00:00:00:99", "dev", DEVICE, "dst", "198.51.100.9", "self", "permanent");
        bridge(h1.ns(), "fdb", "add", "02:00:00:00:00:99", "dev", DEVICE, "master", "static");
        ip(h1.ns(), "neigh", "add", "10.44.1.99", "lladdr", "02:00:00:00:00:99", "dev", DEVICE, "nud", "permanent");
        // the member moved to host 2
        List<String> changes = in(h1.ns(), () -> overlay.sync(NETWORK, hosts.remotesOf(1)));
        assertThat(changes).hasSize(5);
        String fdb = bridge(h1.ns(), "fdb", "show", "dev", DEVICE);
        assertThat(fdb).doesNotContain("00:00:00:00:00:00").doesNotContain("02:00:00:00:00:99")
                .doesNotContain("198.51.100.9 ").contains(moved + " dst " + h(2).underlay() + " self permanent")
                .contains(moved + " master " + BRIDGE + " static");
        assertThat(ip(h1.ns(), "neigh", "show", "dev", DEVICE)).doesNotContain("10.44.1.99");
        assertThat(in(h1.ns(), () -> overlay.sync(NETWORK, hosts.remotesOf(1)))).as("a second sync").isEmpty();
        assertThat(in(h1.ns(), () -> overlay.sync(NETWORK, List.of()))).hasSize(3); // FDB, bridge entry, neighbour
        assertThat(bridge(h1.ns(), "fdb", "show", "dev", DEVICE)).doesNotContain(moved.toString() + " dst");
    }

    @Test
    void aSyncIsOneNetlinkStreamEvenForAThousandRemotes() throws Exception {
        Host h1 = h(1);
        in(h1.ns(), () -> overlay.ensure(new Overlay.Tunnel(NETWORK, BRIDGE, VNI, h1.underlay(), 1350, false)));
        List<Overlay.Remote> many = new java.util.ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            many.add(new Overlay.Remote(MacAddress.parse(String.format("02:00:00:01:%02x:%02x", i >> 8, i & 0xff)),
                    Ipv4Address.parse("10.45." + (i >> 8) + "." + (i & 0xff)), Ipv4Address.parse("198.51.100."
                            + (10 + i % 50))));
        }
        assertThat(in(h1.ns(), () -> overlay.sync(NETWORK, many))).hasSize(3000);
        try (var lines = bridge(h1.ns(), "fdb", "show", "dev", DEVICE).lines()) {
            assertThat(lines.filter(l -> l.contains(" self permanent")).count()).isEqualTo(1000);
        }
        assertThat(in(h1.ns(), () -> overlay.sync(NETWORK, many))).isEmpty();
    }

    @Test
    void aDeviceWhoseFixedSettingsDifferIsRecreated() throws Exception {
        Host h1 = h(1);
        realize(1);
        realize(2);
        int before = in(h1.ns(), () -> overlay.device(NETWORK)).orElseThrow().index();
        realize(1, VNI + 1);
        Link after = in(h1.ns(), () -> overlay.device(NETWORK)).orElseThrow();
        assertThat(after.index()).isNotEqualTo(before);
        assertThat(after.vxlan().orElseThrow().vni()).isEqualTo(VNI + 1);
        assertThat(pingsOnce(h1.guestNs(), h(2).guestIp(), 56)).as("VNIs differ now").isFalse();
        realize(2, VNI + 1);
        assertThat(pings(h1.guestNs(), h(2).guestIp(), 56)).isTrue();
        // one made with the kernel's default port (8472) and learning, carrying our alias: re-created with 4789
        in(h1.ns(), () -> overlay.remove(NETWORK));
        ip(h1.ns(), "link", "add", DEVICE, "type", "vxlan", "id", String.valueOf(VNI), "local",
                h1.underlay().toString());
        ip(h1.ns(), "link", "set", DEVICE, "alias", "tapwire-overlay:" + OWNER + ":" + NETWORK);
        assertThat(ip(h1.ns(), "-d", "link", "show", DEVICE)).contains("dstport 8472");
        realize(1);
        assertThat(in(h1.ns(), () -> overlay.device(NETWORK)).orElseThrow().vxlan().orElseThrow().port())
                .isEqualTo(4789);
    }

    @Test
    void aDeviceOfTheNameThatIsNotOursIsLeftAlone() throws Exception {
        Host h1 = h(1);
        ip(h1.ns(), "link", "add", DEVICE, "type", "bridge");
        assertThatThrownBy(() -> realize(1)).isInstanceOf(DeviceOperationException.class)
                .hasMessageContaining("not this owner's vxlan device");
        assertThatThrownBy(() -> in(h1.ns(), () -> overlay.remove(NETWORK)))
                .isInstanceOf(DeviceOperationException.class);
        assertThat(ip(h1.ns(), "-d", "link", "show", DEVICE)).contains("bridge");
        assertThat(in(h1.ns(), overlay::networks)).isEmpty();
        assertThatThrownBy(() -> in(h1.ns(), () -> Overlay.underlayMtu(Ipv4Address.parse("198.51.100.200"))))
                .isInstanceOf(DeviceOperationException.class).hasMessageContaining("198.51.100.200");
        assertThatThrownBy(() -> Overlay.mtuOver(600)).hasMessageContaining("at least 626");
        assertThatThrownBy(() -> new Overlay.Tunnel(NETWORK, BRIDGE, 1 << 24, h1.underlay(), 1350, false))
                .hasMessageContaining("VNI");
        assertThatThrownBy(() -> new Overlay.Remote(MacAddress.parse("01:00:5e:00:00:01"), h1.guestIp(),
                h1.underlay())).hasMessageContaining("unicast");
        assertThatThrownBy(() -> in(h1.ns(), () -> overlay.sync(NETWORK, List.of(
                new Overlay.Remote(h(2).guestMac(), h(2).guestIp(), h(2).underlay()),
                new Overlay.Remote(h(2).guestMac(), Ipv4Address.parse("10.44.1.50"), h(2).underlay())))))
                .hasMessageContaining("share the MAC");
    }

    // ------------------------------------------------------------------ isolation

    @Test
    void theTunnelPortIsIsolatedWhenTheNetworksGuestPortsAre() throws Exception {
        realize(2);
        ip(h(1).ns(), "link", "set", "gp1", "type", "bridge_slave", "isolated", "on");
        in(h(1).ns(), () -> {
            overlay.ensure(new Overlay.Tunnel(NETWORK, BRIDGE, VNI, h(1).underlay(), 1350, false));
            return overlay.sync(NETWORK, hosts.remotesOf(1));
        });
        assertThat(pings(h(1).guestNs(), h(2).guestIp(), 56)).as("an isolated guest, an open tunnel").isTrue();
        in(h(1).ns(), () -> overlay.ensure(new Overlay.Tunnel(NETWORK, BRIDGE, VNI, h(1).underlay(), 1350, true)));
        assertThat(OverlayHosts.command("bridge", "-n", h(1).ns(), "-d", "link", "show", "dev", DEVICE))
                .contains("isolated on");
        assertThat(pingsOnce(h(1).guestNs(), h(2).guestIp(), 56)).isFalse();
        assertThat(pings(h(1).guestNs(), GATEWAY, 56)).as("the gateway is not isolated").isTrue();
    }

    @Test
    void vxlanFromAnAddressOutsideTheVtepSetDoesNotReachTheBridge() throws Exception {
        realize(1);
        realize(2);
        guard(1);
        guard(2);
        assertThat(pings(h(1).guestNs(), h(2).guestIp(), 56)).as("host 1 is in host 2's set").isTrue();
        in(h(2).ns(), () -> {
            filter.allowVteps(Set.of(Ipv4Address.parse("198.51.100.9")));
            return null;
        });
        assertThat(pingsOnce(h(1).guestNs(), h(2).guestIp(), 56)).isFalse();
        assertThat(bridge(h(2).ns(), "fdb", "show", "br", BRIDGE)).doesNotContain(h(1).guestMac().toString()
                + " dev gp2");
        in(h(2).ns(), () -> {
            filter.allowVteps(Set.of(h(1).underlay()));
            return null;
        });
        assertThat(pings(h(1).guestNs(), h(2).guestIp(), 56)).isTrue();
    }

    @Test
    void framesFromTheTunnelWithSourcesNoRemoteMemberHasAreDropped() throws Exception {
        // a rogue host (host 1's own VTEP, which host 2 accepts) encapsulates frames by hand: the ARP proxy of an
        // honest host never lets ARP into the tunnel, so only host 2's filter stands between these and its guest
        realize(1);
        realize(2);
        MacAddress g2 = h(2).guestMac();
        Ipv4Address g2ip = h(2).guestIp();
        MacAddress g1 = h(1).guestMac();
        Ipv4Address g1ip = h(1).guestIp();
        Function<byte[], byte[]> own = m -> Frames.udp4(g2, g1, g1ip, g2ip, PORT, PORT, m);
        Function<byte[], byte[]> foreignMac = m -> Frames.udp4(g2, MacAddress.parse("02:00:00:00:00:66"), g1ip,
                g2ip, PORT, PORT, m);
        Function<byte[], byte[]> foreignIp = m -> Frames.udp4(g2, g1, Ipv4Address.parse("10.44.1.66"), g2ip, PORT,
                PORT, m);
        Function<byte[], byte[]> gatewayMac = m -> Frames.udp4(g2, GATEWAY_MAC, GATEWAY, g2ip, PORT, PORT, m);
        Function<byte[], byte[]> notLocal = m -> Frames.udp4(MacAddress.parse("02:00:00:00:00:77"), g1, g1ip, g2ip,
                PORT, PORT, m);
        // host 2's bridge counts ARP from the tunnel by sender address, at a hook after the filter's
        in(h(2).ns(), () -> Nftables.run("table bridge probe {\n counter member {}\n counter claim {}\n"
                + " counter flooded {}\n"
                + " chain forward { type filter hook forward priority 100; policy accept;\n"
                + "  iifname \"" + DEVICE + "\" arp saddr ip " + g1ip + " arp saddr ether " + g1 + " counter name member\n"
                + "  iifname \"" + DEVICE + "\" arp saddr ip " + g2ip + " counter name claim\n"
                + "  iifname \"" + DEVICE + "\" ether daddr 02:00:00:00:00:77 counter name flooded\n }\n}\n"));
        Function<byte[], byte[]> arpOwn = m -> FrameProbe.marked(Frames.arp(g2, g1, 2, g1, g1ip, g2, g2ip), m);
        // claims host 2's own guest's address for host 1's guest's MAC
        Function<byte[], byte[]> arpClaim = m -> FrameProbe.marked(Frames.arp(g2, g1, 2, g1, g2ip, g2, g2ip), m);
        Tunnel rogue = new Tunnel(h(1).ns(), h(1).underlay(), h(2).underlay());
        try (DatagramSocket listener = in(h(2).guestNs(), () -> FrameProbe.hostSocket(g2ip, PORT))) {
            FrameProbe.Receiver atGuest2 = FrameProbe.atHost(listener);
            for (Function<byte[], byte[]> frame : List.of(own, foreignMac, foreignIp, gatewayMac)) {
                rogue.arrives(frame, atGuest2); // without the filter, each crosses
            }
            rogue.send(arpClaim.apply(FrameProbe.marker()));
            rogue.send(notLocal.apply(FrameProbe.marker()));
            FrameProbe.waitFor(() -> counted(h(2).ns(), "claim") > 0 && counted(h(2).ns(), "flooded") > 0,
                    "the claiming ARP and the frame for a non-member to cross unfiltered");
            in(h(2).ns(), () -> Nftables.run("reset counters table bridge probe"));
            guard(2);
            rogue.arrives(own, atGuest2);
            rogue.isDropped(foreignMac, atGuest2);
            rogue.isDropped(foreignIp, atGuest2);
            rogue.isDropped(gatewayMac, atGuest2);
            rogue.send(arpOwn.apply(FrameProbe.marker()));
            FrameProbe.waitFor(() -> counted(h(2).ns(), "member") > 0, "host 1's guest's own ARP to cross");
            for (int i = 0; i < 3; i++) {
                rogue.send(arpClaim.apply(FrameProbe.marker()));
                rogue.send(notLocal.apply(FrameProbe.marker()));
            }
            Thread.sleep(300);
            assertThat(counted(h(2).ns(), "claim")).as("ARP claiming host 2's guest's address").isZero();
            assertThat(counted(h(2).ns(), "flooded")).as("a frame for a MAC no local member has").isZero();
        }
    }

    @Test
    void vxlanFromAnUnknownTunnelEndpointIsDroppedBeforeTheDevice() throws Exception {
        realize(1);
        realize(2);
        ip(h(1).ns(), "addr", "add", "198.51.100.9/24", "dev", "eth0");
        Function<byte[], byte[]> frame = m -> Frames.udp4(h(2).guestMac(), h(1).guestMac(), h(1).guestIp(),
                h(2).guestIp(), PORT, PORT, m);
        Tunnel member = new Tunnel(h(1).ns(), h(1).underlay(), h(2).underlay());
        Tunnel stranger = new Tunnel(h(1).ns(), Ipv4Address.parse("198.51.100.9"), h(2).underlay());
        try (DatagramSocket listener = in(h(2).guestNs(), () -> FrameProbe.hostSocket(h(2).guestIp(), PORT))) {
            FrameProbe.Receiver atGuest2 = FrameProbe.atHost(listener);
            stranger.arrives(frame, atGuest2);
            guard(2);
            member.arrives(frame, atGuest2);
            stranger.isDropped(frame, atGuest2);
        }
    }

    @Test
    void framesOfTheGatewayNeverCrossAndEachHostAnswersAsTheGateway() throws Exception {
        realize(1);
        realize(2);
        in(h(2).ns(), () -> Nftables.run("table bridge probe {\n counter gateway {}\n"
                + " chain forward { type filter hook forward priority 100; policy accept;\n"
                + "  iifname \"" + DEVICE + "\" ether saddr " + GATEWAY_MAC + " counter name gateway\n }\n}\n"));
        assertThat(pings(h(1).guestNs(), h(2).guestIp(), 56)).as("the path is up").isTrue();
        // without the filter, host 1's own bridge (the gateway) sends to host 2's guest through the tunnel
        pingsOnce(h(1).ns(), h(2).guestIp(), 56);
        assertThat(counted(h(2).ns(), "gateway")).isPositive();
        in(h(2).ns(), () -> Nftables.run("reset counters table bridge probe"));
        guard(1); // host 1 keeps them from the tunnel
        assertThat(pings(h(1).guestNs(), h(2).guestIp(), 56)).as("guest to guest still crosses").isTrue();
        pingsOnce(h(1).ns(), h(2).guestIp(), 56);
        assertThat(counted(h(2).ns(), "gateway")).isZero();
        in(h(1).ns(), () -> {
            filter.remove(NETWORK);
            return null;
        });
        guard(2); // and host 2 from its bridge
        pingsOnce(h(1).ns(), h(2).guestIp(), 56);
        assertThat(counted(h(2).ns(), "gateway")).isZero();
        // each guest's gateway is its own host's bridge, at the same address and MAC
        for (int n = 1; n <= 2; n++) {
            assertThat(pings(h(n).guestNs(), GATEWAY, 56)).isTrue();
            assertThat(ip(h(n).guestNs(), "neigh", "show", GATEWAY.toString())).contains("lladdr " + GATEWAY_MAC);
        }
    }

    /** A hand-made VXLAN sender in a host namespace: frames encapsulated in UDP from {@code from} to {@code to}. */
    private record Tunnel(String ns, Ipv4Address from, Ipv4Address to) {

        void send(byte[] frame) {
            byte[] packet = new byte[8 + frame.length];
            packet[0] = 0x08; // VNI present
            packet[4] = (byte) (VNI >>> 16);
            packet[5] = (byte) (VNI >>> 8);
            packet[6] = (byte) VNI;
            System.arraycopy(frame, 0, packet, 8, frame.length);
            try {
                in(ns, () -> {
                    try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(
                            InetAddress.getByAddress(from.toBytes()), 0))) {
                        s.send(new DatagramPacket(packet, packet.length, InetAddress.getByAddress(to.toBytes()),
                                Overlay.VXLAN_PORT));
                    }
                    return null;
                });
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        }

        /** Sends until the receiver sees it, within 5 s. */
        void arrives(Function<byte[], byte[]> frame, FrameProbe.Receiver at) throws Exception {
            byte[] marker = FrameProbe.marker();
            byte[] bytes = frame.apply(marker);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (System.nanoTime() < deadline) {
                send(bytes);
                if (at.saw(marker, 200)) {
                    return;
                }
            }
            throw new AssertionError("the encapsulated frame did not arrive within 5 s");
        }

        /** Sends three times and sees none within 400 ms. */
        void isDropped(Function<byte[], byte[]> frame, FrameProbe.Receiver at) throws Exception {
            byte[] marker = FrameProbe.marker();
            byte[] bytes = frame.apply(marker);
            for (int i = 0; i < 3; i++) {
                send(bytes);
            }
            assertThat(at.saw(marker, 400)).as("the encapsulated frame got through").isFalse();
        }
    }

    // ------------------------------------------------------------------ helpers

    private static long counted(String ns, String counter) {
        try {
            return in(ns, () -> packets("bridge probe", counter));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static long packets(String table, String counter) {
        Matcher m = Pattern.compile("packets (\\d+)").matcher(Nftables.run("list counter " + table + " " + counter));
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    private static String bridge(String ns, String... args) {
        List<String> command = new java.util.ArrayList<>(List.of("bridge", "-n", ns));
        command.addAll(List.of(args));
        return OverlayHosts.command(command.toArray(String[]::new));
    }
}
