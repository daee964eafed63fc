package dev.tapwire.network.bridge.linux;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.NativeLong;
import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.bridge.linux.raw.LibC;
import dev.tapwire.network.bridge.linux.raw.Linux;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Sends a DHCPRELEASE on behalf of a guest to the DHCP server of a bridge on this host, as dnsmasq's own
 * {@code dhcp_release} tool does: a UDP datagram to the server's address, port 67, from a socket bound to the
 * bridge ({@code SO_BINDTODEVICE}), so the server sees it arrive on that interface. The server drops the lease of
 * that MAC and address at once, and the address can be leased to another client. Acts in the calling thread's
 * network namespace.
 */
public final class DhcpRelease {

    /** {@code SO_BINDTODEVICE} from {@code <asm-generic/socket.h>}. */
    private static final int SO_BINDTODEVICE = 25;
    private static final int BOOTP_SIZE = 236;
    private static final int DHCP_RELEASE = 7;

    private DhcpRelease() {
    }

    /**
     * Releases the lease of {@code mac} on {@code address} held from the server at {@code server} on {@code bridge}.
     * A lease the server does not hold is ignored by it.
     *
     * @param bridge the interface the server serves
     * @param server the server's address on it (its server identifier)
     * @param address the leased address
     * @param mac the client's hardware address
     * @throws DeviceOperationException if the datagram cannot be sent (the errno of the failing call)
     */
    public static void send(String bridge, Ipv4Address server, Ipv4Address address, MacAddress mac) {
        byte[] packet = packet(server, address, mac);
        int fd;
        try {
            fd = LibC.socket(Linux.AF_INET, Linux.SOCK_DGRAM | Linux.SOCK_CLOEXEC, 0);
        } catch (LastErrorException e) {
            throw Errno.failure("socket", bridge, e);
        }
        try (Fd socket = new Fd(fd)) {
            byte[] name = (bridge + "\0").getBytes(StandardCharsets.US_ASCII);
            Memory device = new Memory(name.length);
            device.write(0, name, 0, name.length);
            try {
                LibC.setsockopt(socket.get(), Linux.SOL_SOCKET, SO_BINDTODEVICE, device, name.length);
            } catch (LastErrorException e) {
                throw Errno.failure("setsockopt(SO_BINDTODEVICE)", bridge, e);
            }
            Memory to = new Memory(16); // struct sockaddr_in
            to.clear();
            to.setShort(0, (short) Linux.AF_INET);
            to.setByte(2, (byte) 0); // port 67, network order
            to.setByte(3, (byte) 67);
            to.write(4, server.toBytes(), 0, 4);
            Memory buffer = new Memory(packet.length);
            buffer.write(0, packet, 0, packet.length);
            try {
                LibC.sendto(socket.get(), buffer, new NativeLong(packet.length), 0, to, 16);
            } catch (LastErrorException e) {
                throw Errno.failure("sendto(DHCPRELEASE " + address + ")", bridge, e);
            }
        }
    }

    /** The BOOTP request: ciaddr = the address, chaddr = the MAC; options: message type RELEASE, server id. */
    static byte[] packet(Ipv4Address server, Ipv4Address address, MacAddress mac) {
        ByteBuffer b = ByteBuffer.allocate(BOOTP_SIZE + 4 + 3 + 6 + 1).order(ByteOrder.BIG_ENDIAN);
        b.put((byte) 1).put((byte) 1).put((byte) 6).put((byte) 0); // op BOOTREQUEST, htype Ethernet, hlen 6, hops
        b.putInt(ThreadLocalRandom.current().nextInt()); // xid
        b.putShort((short) 0).putShort((short) 0); // secs, flags
        b.put(address.toBytes()); // ciaddr
        b.position(28);
        b.put(mac.toBytes()); // chaddr; the rest of its 16 bytes, sname and file stay zero
        b.position(BOOTP_SIZE);
        b.put(new byte[] {99, (byte) 130, 83, 99}); // the DHCP magic cookie
        b.put(new byte[] {53, 1, DHCP_RELEASE});
        b.put((byte) 54).put((byte) 4).put(server.toBytes());
        b.put((byte) 255);
        return b.array();
    }
}
