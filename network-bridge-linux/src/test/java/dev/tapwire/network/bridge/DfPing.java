package dev.tapwire.network.bridge;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.NativeLong;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.bridge.linux.raw.LibC;

/**
 * An ICMP echo with the don't-fragment bit ({@code IP_PMTUDISC_DO}) from the calling thread's network namespace, as
 * {@code ping -M do -s SIZE} does: a packet larger than the route's MTU is refused at once ({@code EMSGSIZE}),
 * never fragmented. busybox ping cannot set DF, so the host side sends it.
 */
final class DfPing {

    private static final int AF_INET = 2;
    private static final int SOCK_RAW = 3;
    private static final int IPPROTO_ICMP = 1;
    private static final int IP_MTU_DISCOVER = 10;
    private static final int IP_PMTUDISC_DO = 2;
    private static final int EMSGSIZE = 90;
    private static final short POLLIN = 1;

    private DfPing() {
    }

    /**
     * Sends one echo request with {@code size} bytes of data and DF set; returns whether its reply came within 2 s
     * (false also when the kernel refuses the packet as larger than the MTU).
     */
    static boolean reaches(Ipv4Address to, int size) {
        int fd = LibC.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
        try {
            Memory opt = new Memory(4);
            opt.setInt(0, IP_PMTUDISC_DO);
            LibC.setsockopt(fd, 0, IP_MTU_DISCOVER, opt, 4);
            int id = (int) (ProcessHandle.current().pid() & 0xffff);
            Memory packet = new Memory(8 + size);
            packet.clear();
            packet.setByte(0, (byte) 8); // echo request
            packet.setShort(4, Short.reverseBytes((short) id));
            packet.setShort(6, Short.reverseBytes((short) size));
            packet.setShort(2, checksum(packet.getByteArray(0, 8 + size)));
            Memory address = new Memory(16);
            address.clear();
            address.setShort(0, (short) AF_INET);
            address.write(4, to.toBytes(), 0, 4);
            try {
                LibC.sendto(fd, packet, new NativeLong(8 + size), 0, address, 16);
            } catch (LastErrorException e) {
                if (e.getErrorCode() == EMSGSIZE) {
                    return false;
                }
                throw e;
            }
            long deadline = System.nanoTime() + 2_000_000_000L;
            Memory reply = new Memory(65536);
            Memory poll = new Memory(8);
            while (System.nanoTime() < deadline) {
                poll.clear();
                poll.setInt(0, fd);
                poll.setShort(4, POLLIN);
                if (LibC.poll(poll, new NativeLong(1), 100) == 0) {
                    continue;
                }
                int n = LibC.recv(fd, reply, new NativeLong(reply.size()), 0).intValue();
                int header = (reply.getByte(0) & 0xf) * 4;
                byte[] from = reply.getByteArray(12, 4);
                if (n >= header + 8 && reply.getByte(header) == 0 && java.util.Arrays.equals(from, to.toBytes())
                        && Short.reverseBytes(reply.getShort(header + 4)) == (short) id
                        && Short.reverseBytes(reply.getShort(header + 6)) == (short) size) {
                    return n - header - 8 == size;
                }
            }
            return false;
        } finally {
            LibC.close(fd);
        }
    }

    /** The Internet checksum of {@code data}, in the byte order to store it with {@code setShort}. */
    private static short checksum(byte[] data) {
        long sum = 0;
        for (int i = 0; i < data.length; i += 2) {
            int hi = data[i] & 0xff;
            int lo = i + 1 < data.length ? data[i + 1] & 0xff : 0;
            sum += (hi << 8) | lo;
        }
        while ((sum >> 16) != 0) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        return Short.reverseBytes((short) ~sum);
    }
}
