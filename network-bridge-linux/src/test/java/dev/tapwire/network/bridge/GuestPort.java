package dev.tapwire.network.bridge;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.bridge.linux.Interfaces;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.bridge.linux.TapQueue;
import dev.tapwire.network.bridge.linux.Tun;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A guest as the host sees it, for the host-side tests: a TAP on a bridge whose queue the test holds, writing raw
 * frames with the guest's MAC and reading what the host sends back. Made and removed in the calling thread's
 * network namespace.
 */
final class GuestPort implements AutoCloseable {

    final String tap;
    final MacAddress mac;
    private final TapQueue queue;

    private GuestPort(String tap, MacAddress mac, TapQueue queue) {
        this.tap = tap;
        this.mac = mac;
        this.queue = queue;
    }

    /** A new TAP {@code tap} on {@code bridge}, up, its queue attached. */
    static GuestPort on(String bridge, String tap, MacAddress mac) {
        Tun.createPersistentTap(tap, false, OptionalInt.empty(), OptionalInt.empty());
        try (Rtnetlink netlink = Rtnetlink.open(); Interfaces interfaces = Interfaces.open()) {
            netlink.execute(List.of(Rtnetlink.bringUpOnBridge(interfaces.index(tap), tap, 0, interfaces.index(bridge))));
        }
        GuestPort port = new GuestPort(tap, mac, Tun.attach(tap, false));
        try {
            awaitForwarding(tap);
        } catch (RuntimeException | Error e) {
            port.close();
            throw e;
        }
        return port;
    }

    /**
     * Waits (at most 5 s) until the bridge forwards on the port: it turns to forwarding only once the kernel's link
     * watch has seen the carrier the attached queue gave it, and until then every frame is dropped — a check of a
     * drop would pass for the wrong reason.
     */
    private static void awaitForwarding(String tap) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        try {
            while (true) {
                Process p = new ProcessBuilder("bridge", "link", "show", "dev", tap).redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes());
                p.waitFor();
                if (out.contains("state forwarding")) {
                    return;
                }
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("port " + tap + " did not start forwarding within 5 s: " + out);
                }
                Thread.sleep(20);
            }
        } catch (IOException e) {
            throw new AssertionError("bridge (iproute2) is needed to see a port's state: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    void send(byte[] frame) {
        queue.writeFrame(frame);
    }

    /** Whether a frame matching {@code wanted} comes out of the TAP within {@code millis}. */
    boolean sees(Predicate<byte[]> wanted, int millis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        for (long left = millis; left > 0; left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())) {
            if (queue.readFrame((int) left).filter(wanted).isPresent()) {
                return true;
            }
        }
        return false;
    }

    /** Whether the host answers {@code frame} (sent 3 times) with a frame holding {@code marker} within 600 ms. */
    boolean answered(byte[] frame, Predicate<byte[]> answer) {
        for (int i = 0; i < 3; i++) {
            send(frame);
            if (sees(answer, 200)) {
                return true;
            }
        }
        return false;
    }

    /** Whether the host answers an ARP request for {@code target} (a reply naming it as sender). */
    boolean arpAnswered(Ipv4Address own, Ipv4Address target) {
        byte[] request = Frames.arp(Frames.BROADCAST, mac, 1, mac, own, MacAddress.parse("00:00:00:00:00:00"), target);
        byte[] sender = target.toBytes();
        return answered(request, f -> f.length >= 42 && (f[12] & 0xff) == 0x08 && f[13] == 0x06 && f[21] == 2
                && f[28] == sender[0] && f[29] == sender[1] && f[30] == sender[2] && f[31] == sender[3]);
    }

    /** An ICMP echo request with {@code marker} as its data. */
    static byte[] echoRequest(MacAddress dstMac, MacAddress srcMac, Ipv4Address src, Ipv4Address dst, byte[] marker) {
        byte[] icmp = ByteBuffer.allocate(8 + marker.length).put((byte) 8).put((byte) 0).putShort((short) 0)
                .putShort((short) 0x7777).putShort((short) 1).put(marker).array();
        ByteBuffer.wrap(icmp).putShort(2, (short) checksum(icmp));
        return Frames.ethernet(dstMac, srcMac, Frames.IPV4, Frames.ipv4(src, dst, 1, icmp));
    }

    private static int checksum(byte[] b) {
        long sum = 0;
        for (int i = 0; i + 1 < b.length; i += 2) {
            sum += ((b[i] & 0xff) << 8) | (b[i + 1] & 0xff);
        }
        if (b.length % 2 == 1) {
            sum += (b[b.length - 1] & 0xff) << 8;
        }
        while ((sum >> 16) != 0) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        return (int) (~sum & 0xffff);
    }

    /** Whether {@code socket} receives a datagram holding {@code marker} within {@code millis}. */
    static boolean receives(DatagramSocket socket, byte[] marker, int millis) throws IOException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        byte[] buffer = new byte[2048];
        while (true) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
                return false;
            }
            socket.setSoTimeout((int) left);
            DatagramPacket p = new DatagramPacket(buffer, buffer.length);
            try {
                socket.receive(p);
            } catch (SocketTimeoutException e) {
                return false;
            }
            if (Frames.contains(java.util.Arrays.copyOf(p.getData(), p.getLength()), marker)) {
                return true;
            }
        }
    }

    static byte[] marker() {
        byte[] marker = new byte[12];
        ThreadLocalRandom.current().nextBytes(marker);
        return marker;
    }

    @Override
    public void close() {
        queue.close();
        try (Rtnetlink netlink = Rtnetlink.open()) {
            netlink.link(tap).ifPresent(l -> netlink.execute(List.of(Rtnetlink.deleteLink(l.index(), tap))));
        }
    }
}
