package dev.tapwire.network.bridge;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;

/**
 * Raw frames as a hostile guest writes them to its TAP queue: Ethernet, 802.1Q/802.1ad tags, ARP, IPv4 and IPv6
 * with UDP, DHCP server replies, ICMPv6 router advertisements. Checksums are computed where a receiver checks them
 * (IPv4 header, UDP over IPv6, ICMPv6); UDP over IPv4 carries checksum 0 (none).
 */
final class Frames {

    static final MacAddress BROADCAST = MacAddress.parse("ff:ff:ff:ff:ff:ff");
    static final int ARP = 0x0806;
    static final int IPV4 = 0x0800;
    static final int IPV6 = 0x86dd;
    static final int VLAN_8021Q = 0x8100;
    static final int VLAN_8021AD = 0x88a8;
    static final int DHCP_OFFER = 2;
    static final int DHCP_ACK = 5;

    private Frames() {
    }

    /** An Ethernet II frame. */
    static byte[] ethernet(MacAddress dst, MacAddress src, int type, byte[] payload) {
        return ByteBuffer.allocate(14 + payload.length).put(dst.toBytes()).put(src.toBytes()).putShort((short) type)
                .put(payload).array();
    }

    /** The same frame with a VLAN tag ({@code tpid} 0x8100 or 0x88a8) inserted after the source MAC. */
    static byte[] tagged(int tpid, int vlan, byte[] frame) {
        return ByteBuffer.allocate(frame.length + 4).put(frame, 0, 12).putShort((short) tpid).putShort((short) vlan)
                .put(frame, 12, frame.length - 12).array();
    }

    /** An ARP frame (Ethernet/IPv4), sent from {@code src}; {@code op} 1 is a request, 2 a reply. */
    static byte[] arp(MacAddress dst, MacAddress src, int op, MacAddress senderMac, Ipv4Address senderIp,
            MacAddress targetMac, Ipv4Address targetIp) {
        ByteBuffer b = ByteBuffer.allocate(28).putShort((short) 1).putShort((short) IPV4).put((byte) 6).put((byte) 4)
                .putShort((short) op).put(senderMac.toBytes()).put(senderIp.toBytes()).put(targetMac.toBytes())
                .put(targetIp.toBytes());
        return ethernet(dst, src, ARP, b.array());
    }

    /** An IPv4 packet (TTL 64, header checksum set). */
    static byte[] ipv4(Ipv4Address src, Ipv4Address dst, int protocol, byte[] payload) {
        ByteBuffer h = ByteBuffer.allocate(20 + payload.length).put((byte) 0x45).put((byte) 0)
                .putShort((short) (20 + payload.length)).putShort((short) 0x1234).putShort((short) 0x4000)
                .put((byte) 64).put((byte) protocol).putShort((short) 0).put(src.toBytes()).put(dst.toBytes());
        h.putShort(10, (short) checksum(h.array(), 0, 20, 0));
        return h.put(payload).array();
    }

    /** A UDP datagram over IPv4 in an Ethernet frame (UDP checksum 0: none). */
    static byte[] udp4(MacAddress dstMac, MacAddress srcMac, Ipv4Address src, Ipv4Address dst, int sport, int dport,
            byte[] data) {
        byte[] udp = udp(sport, dport, data);
        return ethernet(dstMac, srcMac, IPV4, ipv4(src, dst, 17, udp));
    }

    /** A UDP datagram over IPv6 in an Ethernet frame, checksum set. */
    static byte[] udp6(MacAddress dstMac, MacAddress srcMac, byte[] src, byte[] dst, int sport, int dport,
            byte[] data) {
        byte[] udp = udp(sport, dport, data);
        ByteBuffer.wrap(udp).putShort(6, (short) checksum6(src, dst, 17, udp));
        return ethernet(dstMac, srcMac, IPV6, ipv6(src, dst, 17, 64, udp));
    }

    /**
     * An ICMPv6 router advertisement (hop limit 255, router lifetime 1800 s) from {@code src}, a link-local
     * address, to all nodes, announcing {@code prefix}/64 for SLAAC and the sender's MAC, and carrying
     * {@code marker} (at most 14 bytes) in a nonce option.
     */
    static byte[] routerAdvertisement(MacAddress srcMac, byte[] src, byte[] prefix, byte[] marker) {
        ByteBuffer ra = ByteBuffer.allocate(16 + 8 + 32 + 16);
        ra.put((byte) 134).put((byte) 0).putShort((short) 0).put((byte) 64).put((byte) 0).putShort((short) 1800)
                .putInt(0).putInt(0);
        ra.put((byte) 1).put((byte) 1).put(srcMac.toBytes()); // source link-layer address
        ra.put((byte) 3).put((byte) 4).put((byte) 64).put((byte) 0xc0).putInt(86_400).putInt(14_400).putInt(0)
                .put(prefix, 0, 8).putLong(0); // prefix information: on-link, autonomous
        ra.put((byte) 14).put((byte) 2).put(marker); // nonce (RFC 3971), zero-padded to 16 bytes
        byte[] icmp = ra.array();
        byte[] allNodes = ipv6Address("ff02::1");
        ByteBuffer.wrap(icmp).putShort(2, (short) checksum6(src, allNodes, 58, icmp));
        return ethernet(MacAddress.parse("33:33:00:00:00:01"), srcMac, IPV6, ipv6(src, allNodes, 58, 255, icmp));
    }

    /**
     * An ICMP redirect (type 5, code 1: for the host) telling {@code dst} to send to {@code gateway}, carrying
     * {@code marker} where the offending datagram's header would be.
     */
    static byte[] icmpRedirect(MacAddress dstMac, MacAddress srcMac, Ipv4Address src, Ipv4Address dst,
            Ipv4Address gateway, byte[] marker) {
        byte[] icmp = ByteBuffer.allocate(8 + marker.length).put((byte) 5).put((byte) 1).putShort((short) 0)
                .put(gateway.toBytes()).put(marker).array();
        ByteBuffer.wrap(icmp).putShort(2, (short) checksum(icmp, 0, icmp.length, 0));
        return ethernet(dstMac, srcMac, IPV4, ipv4(src, dst, 1, icmp));
    }

    /**
     * A DHCP server message (BOOTREPLY, {@code type} OFFER or ACK) offering {@code yiaddr} to {@code chaddr},
     * naming {@code router} as router and DNS server: what a rogue server sends.
     */
    static byte[] dhcpReply(int type, int xid, MacAddress chaddr, Ipv4Address yiaddr, Ipv4Address router) {
        ByteBuffer b = ByteBuffer.allocate(300);
        b.put((byte) 2).put((byte) 1).put((byte) 6).put((byte) 0).putInt(xid).putShort((short) 0)
                .putShort((short) 0x8000).putInt(0).put(yiaddr.toBytes()).put(router.toBytes()).putInt(0)
                .put(chaddr.toBytes()).put(new byte[10 + 64 + 128]).putInt(0x63825363);
        b.put((byte) 53).put((byte) 1).put((byte) type);
        b.put((byte) 54).put((byte) 4).put(router.toBytes());
        b.put((byte) 51).put((byte) 4).putInt(86_400);
        b.put((byte) 1).put((byte) 4).put(new byte[] {(byte) 255, (byte) 255, (byte) 255, 0});
        b.put((byte) 3).put((byte) 4).put(router.toBytes());
        b.put((byte) 6).put((byte) 4).put(router.toBytes());
        b.put((byte) 255);
        return b.array();
    }

    /** A DHCPv6 ADVERTISE (message type 2) with transaction id {@code xid}: what a rogue DHCPv6 server sends. */
    static byte[] dhcp6Advertise(int xid, byte[] marker) {
        return ByteBuffer.allocate(4 + marker.length).putInt((2 << 24) | (xid & 0xffffff)).put(marker).array();
    }

    /** A link-local IPv6 address (fe80::/64) formed from a MAC by EUI-64. */
    static byte[] linkLocal(MacAddress mac) {
        byte[] m = mac.toBytes();
        return new byte[] {(byte) 0xfe, (byte) 0x80, 0, 0, 0, 0, 0, 0, (byte) (m[0] ^ 2), m[1], m[2], (byte) 0xff,
                (byte) 0xfe, m[3], m[4], m[5]};
    }

    /** Parses an IPv6 address literal (no DNS lookup: a literal). */
    static byte[] ipv6Address(String literal) {
        try {
            return java.net.InetAddress.getByName(literal).getAddress();
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(literal, e);
        }
    }

    /** Whether {@code frame} contains {@code marker} anywhere. */
    static boolean contains(byte[] frame, byte[] marker) {
        outer:
        for (int i = 0; i + marker.length <= frame.length; i++) {
            for (int j = 0; j < marker.length; j++) {
                if (frame[i + j] != marker[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    private static byte[] udp(int sport, int dport, byte[] data) {
        return ByteBuffer.allocate(8 + data.length).putShort((short) sport).putShort((short) dport)
                .putShort((short) (8 + data.length)).putShort((short) 0).put(data).array();
    }

    private static byte[] ipv6(byte[] src, byte[] dst, int next, int hopLimit, byte[] payload) {
        return ByteBuffer.allocate(40 + payload.length).putInt(0x60000000).putShort((short) payload.length)
                .put((byte) next).put((byte) hopLimit).put(src).put(dst).put(payload).array();
    }

    private static int checksum6(byte[] src, byte[] dst, int next, byte[] payload) {
        ByteArrayOutputStream pseudo = new ByteArrayOutputStream();
        pseudo.writeBytes(src);
        pseudo.writeBytes(dst);
        pseudo.writeBytes(ByteBuffer.allocate(8).putInt(payload.length).putInt(next).array());
        byte[] p = pseudo.toByteArray();
        int sum = sum(p, 0, p.length, 0);
        int c = checksum(payload, 0, payload.length, sum);
        return c == 0 ? 0xffff : c;
    }

    private static int checksum(byte[] b, int off, int len, int initial) {
        int sum = sum(b, off, len, initial);
        while ((sum >> 16) != 0) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        return ~sum & 0xffff;
    }

    private static int sum(byte[] b, int off, int len, int initial) {
        long sum = initial;
        for (int i = 0; i < len; i += 2) {
            int hi = b[off + i] & 0xff;
            int lo = i + 1 < len ? b[off + i + 1] & 0xff : 0;
            sum += (hi << 8) | lo;
        }
        while ((sum >> 16) != 0) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        return (int) sum;
    }
}
