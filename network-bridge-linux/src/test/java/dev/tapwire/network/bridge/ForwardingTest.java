package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.bridge.linux.Interfaces;
import dev.tapwire.network.bridge.linux.Namespaces;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.TemporaryRegistry;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Forwarding seen from both sides: "team" is realized with NAT, "other" without; the outside is a second network
 * namespace behind a veth ({@code 198.51.100.0/24}) with a UDP socket that records every datagram and its source.
 * Guests are raw TAP queues on the bridges.
 */
@IsolatedNetns
class ForwardingTest {

    private static final int PORT = 7002;
    private static final Ipv4Address OUTSIDE = Ipv4Address.parse("198.51.100.2");
    private static final Ipv4Address UPLINK = Ipv4Address.parse("198.51.100.1");
    private static final MacAddress NAT_GUEST_MAC = MacAddress.parse("02:00:00:00:02:0a");
    private static final Ipv4Address NAT_GUEST = Ipv4Address.parse("10.77.0.10");
    private static final MacAddress PLAIN_GUEST_MAC = MacAddress.parse("02:00:00:00:02:0b");
    private static final Ipv4Address PLAIN_GUEST = Ipv4Address.parse("10.78.0.10");

    @TempDir
    Path root;

    NetworkRealizer realizer;
    String outside;
    DatagramSocket outsideSocket;
    final BlockingQueue<DatagramPacket> received = new LinkedBlockingQueue<>();
    Thread outsideThread;

    @BeforeEach
    void network(@TemporaryRegistry NetworkRegistry registry) throws Exception {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        HostRequirements.assume(BridgeNetworkProviderTest.onPath("ip") && BridgeNetworkProviderTest.onPath("bridge"),
                "iproute2 (ip, bridge) makes the outside namespace and shows port states here "
                + "(Debian package iproute2)");
        registry.create("team", Ipv4Subnet.parse("10.77.0.0/24"));
        registry.create("other", Ipv4Subnet.parse("10.78.0.0/24"));
        realizer = new NetworkRealizer(root, registry);
        outside = "tw-hostside-out-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24));
        exec("ip", "netns", "add", outside);
        exec("ip", "link", "add", "out0", "type", "veth", "peer", "name", "out1", "netns", outside);
        exec("ip", "addr", "add", UPLINK + "/24", "dev", "out0");
        exec("ip", "link", "set", "out0", "up");
        exec("ip", "netns", "exec", outside, "ip", "addr", "add", OUTSIDE + "/24", "dev", "out1");
        exec("ip", "netns", "exec", outside, "ip", "link", "set", "out1", "up");
        exec("ip", "netns", "exec", outside, "ip", "route", "add", "10.0.0.0/8", "via", UPLINK.toString());
        BlockingQueue<Object> ready = new LinkedBlockingQueue<>();
        outsideThread = new Thread(() -> {
            try {
                Namespaces.enterNetworkNamespace(Path.of("/run/netns", outside));
                outsideSocket = new DatagramSocket(new InetSocketAddress(InetAddress.getByName("0.0.0.0"), PORT));
                ready.add(Boolean.TRUE);
                while (true) {
                    DatagramPacket p = new DatagramPacket(new byte[2048], 2048);
                    outsideSocket.receive(p);
                    received.add(p);
                }
            } catch (Exception e) {
                ready.add(e);
            }
        }, "outside");
        outsideThread.setDaemon(true);
        outsideThread.start();
        assertThat(ready.poll(5, TimeUnit.SECONDS)).isEqualTo(Boolean.TRUE);
    }

    @AfterEach
    void close() throws Exception {
        if (outsideSocket != null) {
            outsideSocket.close();
        }
        outsideThread.join(2000);
        realizer.list().forEach(r -> realizer.unrealize(r.network()));
        exec("ip", "netns", "del", outside);
    }

    private static MacAddress macOf(String bridge) {
        try (Interfaces interfaces = Interfaces.open()) {
            return interfaces.mac(bridge);
        }
    }

    /** The source the outside saw a datagram holding {@code marker} from, or null when none arrived in 500 ms. */
    private String outsideSaw(byte[] marker) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
        while (System.nanoTime() < deadline) {
            DatagramPacket p = received.poll(50, TimeUnit.MILLISECONDS);
            if (p != null && Frames.contains(java.util.Arrays.copyOf(p.getData(), p.getLength()), marker)) {
                return p.getAddress().getHostAddress();
            }
        }
        return null;
    }

    private String sendOut(GuestPort guest, String bridge, Ipv4Address source) throws Exception {
        byte[] marker = GuestPort.marker();
        for (int i = 0; i < 3; i++) {
            guest.send(Frames.udp4(macOf(bridge), guest.mac, source, OUTSIDE, PORT, PORT, marker));
        }
        return outsideSaw(marker);
    }

    @Test
    void onlyANatNetworksOwnSubnetLeavesTheHostAndItLeavesMasqueraded() throws Exception {
        realizer.realize("team", true);
        realizer.realize("other", false);
        try (GuestPort nat = GuestPort.on("tw-team", "nat0", NAT_GUEST_MAC);
                GuestPort plain = GuestPort.on("tw-other", "plain0", PLAIN_GUEST_MAC)) {
            assertThat(sendOut(nat, "tw-team", NAT_GUEST)).as("a NAT guest, masqueraded").isEqualTo(UPLINK.toString());
            assertThat(sendOut(plain, "tw-other", PLAIN_GUEST)).as("a guest of a network without NAT").isNull();
            assertThat(sendOut(plain, "tw-other", NAT_GUEST)).as("spoofing the NAT network's subnet").isNull();
            assertThat(sendOut(nat, "tw-team", Ipv4Address.parse("10.99.0.5"))).as("a NAT guest, from another subnet")
                    .isNull();
        }
    }

    @Test
    void nothingFromOutsideOpensAConnectionToAGuest() throws Exception {
        realizer.realize("team", true);
        realizer.realize("other", false);
        try (GuestPort nat = GuestPort.on("tw-team", "nat0", NAT_GUEST_MAC);
                GuestPort plain = GuestPort.on("tw-other", "plain0", PLAIN_GUEST_MAC)) {
            exec("ip", "neigh", "replace", NAT_GUEST.toString(), "lladdr", NAT_GUEST_MAC.toString(), "dev", "tw-team",
                    "nud", "permanent");
            exec("ip", "neigh", "replace", PLAIN_GUEST.toString(), "lladdr", PLAIN_GUEST_MAC.toString(), "dev",
                    "tw-other", "nud", "permanent");
            for (GuestPort guest : java.util.List.of(nat, plain)) {
                byte[] marker = GuestPort.marker();
                Ipv4Address to = guest == nat ? NAT_GUEST : PLAIN_GUEST;
                for (int i = 0; i < 3; i++) {
                    outsideSocket.send(new DatagramPacket(marker, marker.length, InetAddress.getByName(to.toString()),
                            PORT));
                }
                assertThat(guest.sees(f -> Frames.contains(f, marker), 500)).as("unsolicited inbound to " + to)
                        .isFalse();
            }
            // a reply to a NAT guest's own datagram comes back in
            byte[] marker = GuestPort.marker();
            nat.send(Frames.udp4(macOf("tw-team"), NAT_GUEST_MAC, NAT_GUEST, OUTSIDE, 40_001, PORT, marker));
            DatagramPacket asked = null;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            while (asked == null && System.nanoTime() < deadline) {
                DatagramPacket p = received.poll(50, TimeUnit.MILLISECONDS);
                if (p != null && Frames.contains(java.util.Arrays.copyOf(p.getData(), p.getLength()), marker)) {
                    asked = p;
                }
            }
            assertThat(asked).isNotNull();
            byte[] answer = GuestPort.marker();
            outsideSocket.send(new DatagramPacket(answer, answer.length, asked.getSocketAddress()));
            assertThat(nat.sees(f -> Frames.contains(f, answer), 1000)).as("the reply").isTrue();
        }
    }

    @Test
    void guestsOfOneNetworkStillReachEachOtherWhateverBrNetfilterHandsToTheForwardHook() throws Exception {
        realizer.realize("team", true);
        MacAddress peerMac = MacAddress.parse("02:00:00:00:02:0c");
        try (GuestPort nat = GuestPort.on("tw-team", "nat0", NAT_GUEST_MAC);
                GuestPort peer = GuestPort.on("tw-team", "peer0", peerMac)) {
            byte[] marker = GuestPort.marker();
            byte[] frame = Frames.udp4(peerMac, NAT_GUEST_MAC, NAT_GUEST, Ipv4Address.parse("10.77.0.11"), PORT, PORT,
                    marker);
            for (int i = 0; i < 3; i++) {
                nat.send(frame);
            }
            assertThat(peer.sees(f -> Frames.contains(f, marker), 500)).as("a datagram between two guests of team")
                    .isTrue();
        }
    }

    @Test
    void theHostsPreviousIpForwardingComesBackWhenTheLastNatNetworkGoes() throws Exception {
        Path forward = Path.of("/proc/sys/net/ipv4/ip_forward");
        assertThat(Files.readString(forward).strip()).as("a new namespace").isEqualTo("0");
        realizer.realize("team", true);
        realizer.realize("other", true);
        assertThat(Files.readString(forward).strip()).isEqualTo("1");
        realizer.unrealize("team");
        assertThat(Files.readString(forward).strip()).as("one NAT network left").isEqualTo("1");
        realizer.realize("other", false);
        assertThat(Files.readString(forward).strip()).as("no NAT network left").isEqualTo("0");

        Files.writeString(forward, "1\n"); // on before tapwire: stays on
        realizer.realize("team", true);
        realizer.unrealize("team");
        assertThat(Files.readString(forward).strip()).isEqualTo("1");
    }

    private static String exec(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(String.join(" ", command) + ": " + out).isZero();
        return out;
    }
}
