package dev.tapwire.network.bridge.linux;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.NativeLong;
import dev.tapwire.network.bridge.linux.raw.LibC;
import dev.tapwire.network.bridge.linux.raw.Linux;
import java.lang.ref.Reference;
import java.util.Optional;

/**
 * One attached queue of a TAP, as a VMM holds it: frames written here enter the host, frames the host
 * sends come out here. Every frame carries the 10-byte virtio-net header ({@code IFF_VNET_HDR}). Not
 * thread-safe: one reader at a time, as a VMM's queue thread.
 */
public final class TapQueue implements AutoCloseable {

    /** The size of {@code struct virtio_net_hdr} that precedes each frame. */
    public static final int VNET_HDR_LEN = 10;

    private final String name;
    private final Fd fd;
    private final Memory pollfd = new Memory(8);
    private final Memory buffer = new Memory(65_536 + VNET_HDR_LEN);

    TapQueue(String name, Fd fd) {
        this.name = name;
        this.fd = fd;
    }

    /**
     * Writes one Ethernet frame, prefixed with a zeroed virtio-net header.
     *
     * @param frame the frame, from the destination MAC on
     * @throws dev.tapwire.network.DeviceOperationException if the write fails (e.g. {@code EIO} while the link is down)
     */
    public void writeFrame(byte[] frame) {
        Memory buffer = new Memory(VNET_HDR_LEN + frame.length);
        buffer.clear(VNET_HDR_LEN);
        buffer.write(VNET_HDR_LEN, frame, 0, frame.length);
        try {
            LibC.write(fd.get(), buffer, new NativeLong(buffer.size()));
        } catch (LastErrorException e) {
            throw Errno.failure("write", name, e);
        } finally {
            Reference.reachabilityFence(fd); // the Cleaner must not close it while the kernel uses it
        }
    }

    /**
     * Reads the next frame, waiting at most {@code timeoutMillis}.
     *
     * @param timeoutMillis how long to wait
     * @return the frame without its virtio-net header, or empty on timeout
     * @throws dev.tapwire.network.DeviceOperationException if poll or read fails
     */
    public Optional<byte[]> readFrame(int timeoutMillis) {
        pollfd.setInt(0, fd.get());
        pollfd.setShort(4, Linux.POLLIN);
        pollfd.setShort(6, (short) 0);
        try {
            if (LibC.poll(pollfd, new NativeLong(1), timeoutMillis) == 0) {
                return Optional.empty();
            }
            long n = LibC.read(fd.get(), buffer, new NativeLong(buffer.size())).longValue();
            if (n <= VNET_HDR_LEN) {
                return Optional.of(new byte[0]);
            }
            return Optional.of(buffer.getByteArray(VNET_HDR_LEN, (int) n - VNET_HDR_LEN));
        } catch (LastErrorException e) {
            throw Errno.failure("read", name, e);
        } finally {
            Reference.reachabilityFence(fd);
        }
    }

    /** Detaches from the TAP; a persistent TAP stays. Idempotent. */
    @Override
    public void close() {
        fd.close();
    }
}
