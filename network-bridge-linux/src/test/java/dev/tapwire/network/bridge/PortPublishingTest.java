package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.AddressInUseException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.PortPublication;
import dev.tapwire.network.bridge.linux.Interfaces;
import dev.tapwire.network.bridge.linux.Namespaces;
import dev.tapwire.network.bridge.linux.Nftables;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.TemporaryRegistry;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.FutureTask;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Published ports with real servers: the test's (isolated) namespace is the host; "team" (no NAT) and "other" are
 * realized there. A guest of team is a network namespace behind a veth on team's bridge ({@code 10.77.0.10}, its
 * default route via the gateway) running a TCP and a UDP server that answer with their name, plus a TCP server on a
 * port nothing publishes; a guest of other likewise ({@code 10.78.0.10}). The outside is a third namespace behind a
 * veth ({@code 198.51.100.2}) that routes to the host's address only, unless a test adds more.
 */
@IsolatedNetns
class PortPublishingTest {

    private static final Ipv4Address UPLINK = Ipv4Address.parse("198.51.100.1");
    private static final Ipv4Address OUTSIDE = Ipv4Address.parse("198.51.100.2");
    private static final Ipv4Address GUEST = Ipv4Address.parse("10.77.0.10");
    private static final Ipv4Address GATEWAY = Ipv4Address.parse("10.77.0.1");
    private static final Ipv4Address OTHER_GUEST = Ipv4Address.parse("10.78.0.10");
    private static final Ipv4Address OTHER_GATEWAY = Ipv4Address.parse("10.78.0.1");
    private static final int TCP = 8080;
    private static final int UDP = 5353;
    private static final int UNPUBLISHED = 9090;
    private static final PortPublication WEB = PortPublication.parse("tcp:18080:" + TCP);
    private static final PortPublication DNS = PortPublication.parse("udp:15353:" + UDP);
    private static final PortPublishing.Target VM1 = new PortPublishing.Target("vm1", "pubg0", "tw-team", GUEST);

    @TempDir
    Path root;

    NetworkRealizer realizer;
    PortPublishing publishing;
    String guest;
    String otherGuest;
    String outside;
    final List<AutoCloseable> servers = new ArrayList<>();

    @BeforeEach
    void network(@TemporaryRegistry NetworkRegistry registry) throws Exception {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        HostRequirements.assume(BridgeNetworkProviderTest.onPath("ip"),
                "iproute2 (ip) makes the guest and outside namespaces here (Debian package iproute2)");
        registry.create("team", Ipv4Subnet.parse("10.77.0.0/24"));
        registry.create("other", Ipv4Subnet.parse("10.78.0.0/24"));
        realizer = new NetworkRealizer(root, registry);
        realizer.realize("team", false);
        realizer.realize("other", false);
        publishing = new PortPublishing(root);
        String id = Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24));
        exec("ip", "link", "set", "lo", "up");
        guest = guestNamespace("tw-publish-g-" + id, "pubg0", "tw-team", GUEST, GATEWAY);
        otherGuest = guestNamespace("tw-publish-o-" + id, "pubo0", "tw-other", OTHER_GUEST, OTHER_GATEWAY);
        outside = "tw-publish-x-" + id;
        exec("ip", "netns", "add", outside);
        exec("ip", "link", "add", "out0", "type", "veth", "peer", "name", "out1", "netns", outside);
        exec("ip", "addr", "add", UPLINK + "/24", "dev", "out0");
        exec("ip", "link", "set", "out0", "up");
        exec("ip", "netns", "exec", outside, "ip", "addr", "add", OUTSIDE + "/24", "dev", "out1");
        exec("ip", "netns", "exec", outside, "ip", "link", "set", "out1", "up");
        exec("ip", "netns", "exec", outside, "ip", "link", "set", "lo", "up");
        for (String ns : List.of(guest, otherGuest)) {
            servers.add(in(ns, () -> tcpServer(TCP, ns)));
            servers.add(in(ns, () -> tcpServer(UNPUBLISHED, ns + "-unpublished")));
            servers.add(in(ns, () -> udpServer(UDP, ns)));
        }
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable server : servers) {
            server.close();
        }
        publishing.unpublishVms(publishing.list().stream().map(p -> p.target().vmId()).toList());
        realizer.list().forEach(r -> realizer.unrealize(r.network()));
        for (String ns : new String[] {guest, otherGuest, outside}) {
            if (ns != null) {
                run("ip", "netns", "del", ns);
            }
        }
    }

    @Test
    void aPublishedTcpAndUdpPortReachesTheGuestFromOutsideAndFromTheHostItselfUntilUnpublished() throws Exception {
        assertThat(publishing.publish(VM1, List.of(WEB, DNS))).extracting(PortPublishing.Published::publication)
                .containsExactly(WEB, DNS);

        assertThat(in(outside, () -> tcp(UPLINK, 18080))).as("tcp from outside").contains(guest);
        assertThat(in(outside, () -> udp(UPLINK, 15353))).as("udp from outside").contains(guest);
        for (Ipv4Address own : List.of(UPLINK, GATEWAY, Ipv4Address.parse("127.0.0.1"))) {
            assertThat(tcp(own, 18080)).as("tcp from the host to " + own).contains(guest);
            assertThat(udp(own, 15353)).as("udp from the host to " + own).contains(guest);
        }
        assertThat(Files.readString(Path.of("/proc/sys/net/ipv4/conf/tw-team/route_localnet")).strip())
                .as("127.0.0.1 is routed to the bridge of a publication on every address").isEqualTo("1");
        assertThat(Files.readString(Path.of("/proc/sys/net/ipv4/conf/tw-other/route_localnet")).strip())
                .as("a bridge without publications").isEqualTo("0");
        assertThat(Files.readString(Path.of("/proc/sys/net/ipv4/ip_forward")).strip()).isEqualTo("1");

        assertThat(publishing.unpublish("vm1", List.of(WEB))).hasSize(1);
        assertThat(in(outside, () -> tcp(UPLINK, 18080))).as("tcp once unpublished").isEmpty();
        assertThat(tcp(Ipv4Address.parse("127.0.0.1"), 18080)).as("tcp from the host once unpublished").isEmpty();
        assertThat(in(outside, () -> udp(UPLINK, 15353))).as("udp still published").contains(guest);
        publishing.unpublish("vm1", List.of(DNS));
        assertThat(in(outside, () -> udp(UPLINK, 15353))).as("udp once unpublished").isEmpty();
        assertThat(Files.readString(Path.of("/proc/sys/net/ipv4/conf/tw-team/route_localnet")).strip())
                .as("set back with the last publication").isEqualTo("0");
        assertThat(Files.readString(Path.of("/proc/sys/net/ipv4/ip_forward")).strip()).as("as before").isEqualTo("0");
        assertThat(Nftables.run("list tables")).doesNotContain("tapwire_pub_");
    }

    @Test
    void aPublicationOnOneHostAddressTakesOnlyThatAddress() throws Exception {
        publishing.publish(VM1, List.of(PortPublication.parse("tcp:" + UPLINK + ":18080:" + TCP)));
        assertThat(in(outside, () -> tcp(UPLINK, 18080))).contains(guest);
        assertThat(tcp(GATEWAY, 18080)).as("another address of the host").isEmpty();
        assertThat(tcp(Ipv4Address.parse("127.0.0.1"), 18080)).as("loopback").isEmpty();
        assertThat(Files.readString(Path.of("/proc/sys/net/ipv4/conf/tw-team/route_localnet")).strip())
                .as("no publication takes 127.0.0.1: the bridge keeps route_localnet off").isEqualTo("0");
    }

    @Test
    void aGuestReachesAPublishedPortOfItsOwnNetworkThroughTheHost() throws Exception {
        publishing.publish(VM1, List.of(WEB, DNS));
        String peer = guestNamespace(guest + "-p", "pubp0", "tw-team", Ipv4Address.parse("10.77.0.11"), GATEWAY);
        try {
            assertThat(in(peer, () -> tcp(GATEWAY, 18080))).as("the hairpin, tcp").contains(guest);
            assertThat(in(peer, () -> udp(UPLINK, 15353))).as("the hairpin to another host address, udp")
                    .contains(guest);
        } finally {
            run("ip", "netns", "del", peer);
        }
        // its own published port: where the host routes it (br_netfilter not handing bridged IPv4 to nftables)
        Path brNetfilter = Path.of("/proc/sys/net/bridge/bridge-nf-call-iptables");
        if (Files.exists(brNetfilter)) {
            Files.writeString(brNetfilter, "0\n"); // this test's namespace only
        }
        assertThat(in(guest, () -> tcp(GATEWAY, 18080))).as("its own port, tcp").contains(guest);
        assertThat(in(guest, () -> udp(UPLINK, 15353))).as("its own port, udp").contains(guest);
    }

    @Test
    void aPublishedPortOpensNothingElseOfItsNetworkAndGuestsOfAnotherNetworkReachNothingNew() throws Exception {
        publishing.publish(VM1, List.of(WEB, DNS));
        exec("ip", "netns", "exec", outside, "ip", "route", "add", "10.0.0.0/8", "via", UPLINK.toString());
        assertThat(in(outside, () -> tcp(UPLINK, 18080))).as("the published port").contains(guest);
        assertThat(in(outside, () -> tcp(GUEST, TCP))).as("the guest's port, directly").isEmpty();
        assertThat(in(outside, () -> tcp(GUEST, UNPUBLISHED))).as("another port of the guest").isEmpty();
        assertThat(in(outside, () -> udp(GUEST, UDP))).as("the guest's udp port, directly").isEmpty();
        assertThat(in(outside, () -> tcp(UPLINK, UNPUBLISHED))).as("an unpublished host port").isEmpty();
        assertThat(in(outside, () -> tcp(OTHER_GUEST, TCP))).as("a guest of another network").isEmpty();
        assertThat(in(otherGuest, () -> tcp(OTHER_GATEWAY, 18080))).as("other's guest, via its gateway").isEmpty();
        assertThat(in(otherGuest, () -> tcp(GUEST, TCP))).as("other's guest, directly").isEmpty();
        assertThat(in(otherGuest, () -> udp(GUEST, UDP))).as("other's guest, udp directly").isEmpty();
    }

    @Test
    void aGuestReachesNoLoopbackServiceOfTheHostThoughItsBridgeRoutesLocalnet() throws Exception {
        publishing.publish(VM1, List.of(WEB));
        MacAddress guestMac = MacAddress.parse("02:00:00:00:07:0a");
        try (DatagramSocket host = new DatagramSocket(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 7007));
                GuestPort raw = GuestPort.on("tw-team", "pubraw0", guestMac)) {
            MacAddress gatewayMac;
            try (Interfaces interfaces = Interfaces.open()) {
                gatewayMac = interfaces.mac("tw-team");
            }
            // without Firewall's input chain, only the publishing table's guard stands between them
            Nftables.run("delete table inet tapwire_" + NetworkRealizer.ownerTag(root));
            byte[] marker = GuestPort.marker();
            for (int i = 0; i < 3; i++) {
                raw.send(Frames.udp4(gatewayMac, guestMac, Ipv4Address.parse("10.77.0.20"),
                        Ipv4Address.parse("127.0.0.1"), 7007, 7007, marker));
            }
            assertThat(GuestPort.receives(host, marker, 500)).as("a guest's datagram to 127.0.0.1").isFalse();
        }
    }

    @Test
    void aSecondPublicationOfOneHostPortIsRefusedAcrossVmsAndNothingOfItIsApplied() throws Exception {
        publishing.publish(VM1, List.of(WEB));
        PortPublishing.Target vm2 = new PortPublishing.Target("vm2", "pubo0", "tw-other", OTHER_GUEST);
        String before = Nftables.run("list table " + publishing.table());
        assertThatThrownBy(() -> publishing.publish(vm2, List.of(DNS, PortPublication.parse("tcp:127.0.0.1:18080:80"))))
                .isInstanceOf(AddressInUseException.class)
                .hasMessageContaining("tcp 127.0.0.1:18080 is published already")
                .hasMessageContaining("VM vm1");
        assertThatThrownBy(() -> publishing.publish(vm2, List.of(PortPublication.parse("udp:9999:1"),
                PortPublication.parse("udp:9999:2")))).as("two of one call").isInstanceOf(AddressInUseException.class);
        assertThat(publishing.list()).extracting(PortPublishing.Published::publication).containsExactly(WEB);
        assertThat(Nftables.run("list table " + publishing.table())).isEqualTo(before);
        assertThat(in(outside, () -> udp(UPLINK, 15353))).as("the refused call's other publication").isEmpty();

        assertThat(publishing.publish(VM1, List.of(WEB))).as("publishing it again is a no-op").hasSize(1);
        publishing.publish(vm2, List.of(PortPublication.parse("udp:18080:" + UDP)));
        assertThat(in(outside, () -> udp(UPLINK, 18080))).as("the same port number, other protocol")
                .contains(otherGuest);

        PortPublishing foreign = new PortPublishing(root.resolve("another-owner"));
        assertThatThrownBy(() -> foreign.publish(vm2, List.of(WEB))).isInstanceOf(AddressInUseException.class)
                .hasMessageContaining("another tapwire state directory");
    }

    @Test
    void aFlushedRulesetIsRestoredFromTheRecordByReconcile() throws Exception {
        publishing.publish(VM1, List.of(WEB, DNS));
        Nftables.run("flush ruleset");
        assertThat(in(outside, () -> tcp(UPLINK, 18080))).as("after the flush").isEmpty();
        assertThat(publishing.verify()).anySatisfy(p -> assertThat(p).contains("is missing"));

        PortPublishing restarted = new PortPublishing(root); // a new process: only the record knows
        assertThat(restarted.list()).extracting(PortPublishing.Published::publication).containsExactly(WEB, DNS);
        assertThat(restarted.reconcile()).isNotEmpty();
        realizer.verify("team");
        assertThat(restarted.verify()).isEmpty();
        assertThat(restarted.reconcile()).as("nothing left to repair").isEmpty();
        assertThat(in(outside, () -> tcp(UPLINK, 18080))).as("restored").contains(guest);
        assertThat(in(outside, () -> udp(UPLINK, 15353))).as("restored").contains(guest);

        Nftables.run("delete element " + publishing.table() + " wild { tcp . 18080 : " + GUEST + " . " + TCP + " }\n"
                + "add element " + publishing.table() + " wild { tcp . 18081 : " + GUEST + " . " + UNPUBLISHED + " }");
        assertThat(restarted.verify()).hasSize(2);
        restarted.reconcile();
        assertThat(in(outside, () -> tcp(UPLINK, 18080))).contains(guest);
        assertThat(in(outside, () -> tcp(UPLINK, 18081))).as("an element nobody recorded").isEmpty();
    }

    @Test
    void theGcReclaimsThePublicationsOfVmsThatNoLongerExist() throws Exception {
        PortPublishing.Target vm2 = new PortPublishing.Target("vm2", "pubo0", "tw-other", OTHER_GUEST);
        publishing.publish(VM1, List.of(WEB));
        publishing.publish(vm2, List.of(DNS));
        assertThat(publishing.reclaim(Set.of("vm1"))).containsExactly("vm2");
        assertThat(publishing.list()).extracting(p -> p.target().vmId()).containsExactly("vm1");
        assertThat(in(outside, () -> udp(UPLINK, 15353))).as("vm2's port").isEmpty();
        assertThat(in(outside, () -> tcp(UPLINK, 18080))).as("vm1's port").contains(guest);
        assertThat(publishing.unpublishNic("vm1", "pubg0")).hasSize(1);
        assertThat(publishing.list()).isEmpty();
    }

    @Test
    void aRecordTapwireDidNotWriteFailsClosedNamingTheFileAndLine() throws Exception {
        publishing.publish(VM1, List.of(WEB));
        Path record = root.resolve("bridge").resolve("publications");
        Files.writeString(record, Files.readString(record) + "vm2 pubo0 tw-other 10.78.0.10 tcp:18080:22\n");
        assertThatThrownBy(publishing::list).isInstanceOf(RealizationException.class)
                .hasMessageContaining("line 3 of " + record).hasMessageContaining("publishes already");
        Files.writeString(record, "vm1 pubg0 tw-team 10.77.0.10 sctp:18080:22\n");
        assertThatThrownBy(publishing::list).isInstanceOf(RealizationException.class)
                .hasMessageContaining("line 1 of " + record).hasMessageContaining("sctp");
        Files.delete(record);
        Files.createSymbolicLink(record, root.resolve("elsewhere"));
        Files.writeString(root.resolve("elsewhere"), "vm1 pubg0 tw-team 10.77.0.10 tcp:18080:22\n");
        assertThatThrownBy(publishing::list).as("a link is never followed").isInstanceOf(RealizationException.class);
        Files.delete(record);
    }

    @Test
    void aPublicationThatCannotBeRecordedLeavesTheKernelUntouched() throws Exception {
        publishing.publish(VM1, List.of(WEB));
        String before = Nftables.run("list table " + publishing.table());
        Path dir = root.resolve("bridge");
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxr-x"));
        try {
            assertThatThrownBy(() -> publishing.publish(VM1, List.of(DNS))).isInstanceOf(RealizationException.class)
                    .hasMessageContaining("chmod go-w");
        } finally {
            Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        assertThat(Nftables.run("list table " + publishing.table())).isEqualTo(before);
        assertThat(publishing.list()).extracting(PortPublishing.Published::publication).containsExactly(WEB);
        assertThat(in(outside, () -> udp(UPLINK, 15353))).isEmpty();
    }

    // ------------------------------------------------------------------ namespaces and sockets

    /** A namespace whose veth {@code hostSide} is on {@code bridge}, holding {@code address}, routed via the gateway. */
    private static String guestNamespace(String ns, String hostSide, String bridge, Ipv4Address address,
            Ipv4Address gateway) throws Exception {
        exec("ip", "netns", "add", ns);
        exec("ip", "link", "add", hostSide, "type", "veth", "peer", "name", "eth0", "netns", ns);
        exec("ip", "link", "set", hostSide, "master", bridge, "up");
        exec("ip", "netns", "exec", ns, "ip", "addr", "add", address + "/24", "dev", "eth0");
        exec("ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up");
        exec("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up");
        exec("ip", "netns", "exec", ns, "ip", "route", "add", "default", "via", gateway.toString());
        return ns;
    }

    /** Runs {@code work} on a new platform thread in namespace {@code ns} (null: this thread's), within 10 s. */
    private static <T> T in(String ns, Callable<T> work) throws Exception {
        FutureTask<T> task = new FutureTask<>(() -> {
            Namespaces.enterNetworkNamespace(Path.of("/run/netns", ns));
            return work.call();
        });
        Thread thread = new Thread(task, "in-" + ns);
        thread.setDaemon(true);
        thread.start();
        return task.get(10, TimeUnit.SECONDS);
    }

    /** A TCP server (on a thread of the calling thread's namespace) that answers each connection with its name. */
    private static AutoCloseable tcpServer(int port, String name) throws Exception {
        ServerSocket server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getByName("0.0.0.0"), port));
        Thread thread = new Thread(() -> {
            while (!server.isClosed()) {
                try (Socket s = server.accept(); OutputStream out = s.getOutputStream()) {
                    out.write((name + "\n").getBytes(StandardCharsets.UTF_8));
                } catch (java.io.IOException e) {
                    // closed
                }
            }
        }, "tcp-" + name);
        thread.setDaemon(true);
        thread.start();
        return server;
    }

    /** A UDP server that answers each datagram with its name. */
    private static AutoCloseable udpServer(int port, String name) throws Exception {
        DatagramSocket server = new DatagramSocket(new InetSocketAddress(InetAddress.getByName("0.0.0.0"), port));
        Thread thread = new Thread(() -> {
            byte[] answer = name.getBytes(StandardCharsets.UTF_8);
            while (!server.isClosed()) {
                try {
                    DatagramPacket p = new DatagramPacket(new byte[512], 512);
                    server.receive(p);
                    server.send(new DatagramPacket(answer, answer.length, p.getSocketAddress()));
                } catch (java.io.IOException e) {
                    // closed
                }
            }
        }, "udp-" + name);
        thread.setDaemon(true);
        thread.start();
        return server;
    }

    /** What a TCP server at {@code to:port} answers (within 1 s), or empty when no connection is made. */
    private static Optional<String> tcp(Ipv4Address to, int port) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getByName(to.toString()), port), 1000);
            s.setSoTimeout(1000);
            return Optional.ofNullable(new BufferedReader(new InputStreamReader(s.getInputStream(),
                    StandardCharsets.UTF_8)).readLine());
        } catch (java.net.ConnectException | SocketTimeoutException e) {
            return Optional.empty();
        } catch (java.net.NoRouteToHostException e) {
            return Optional.empty();
        }
    }

    /** What a UDP server at {@code to:port} answers (three tries within 1.5 s), or empty. */
    private static Optional<String> udp(Ipv4Address to, int port) throws Exception {
        try (DatagramSocket s = new DatagramSocket()) {
            s.setSoTimeout(500);
            byte[] ask = "?".getBytes(StandardCharsets.UTF_8);
            for (int i = 0; i < 3; i++) {
                s.send(new DatagramPacket(ask, ask.length, InetAddress.getByName(to.toString()), port));
                try {
                    DatagramPacket p = new DatagramPacket(new byte[512], 512);
                    s.receive(p);
                    return Optional.of(new String(p.getData(), 0, p.getLength(), StandardCharsets.UTF_8));
                } catch (SocketTimeoutException e) {
                    // again
                } catch (java.net.PortUnreachableException e) {
                    return Optional.empty();
                }
            }
            return Optional.empty();
        } catch (java.io.IOException e) {
            if (e.getMessage() != null && e.getMessage().contains("unreachable")) {
                return Optional.empty();
            }
            throw e;
        }
    }

    private static String exec(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(String.join(" ", command) + ": " + out).isZero();
        return out;
    }

    private static void run(String... command) throws Exception {
        new ProcessBuilder(command).redirectErrorStream(true).start().waitFor();
    }
}
