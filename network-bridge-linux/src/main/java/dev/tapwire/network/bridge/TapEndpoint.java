package dev.tapwire.network.bridge;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.bridge.linux.TapQueue;
import dev.tapwire.network.bridge.linux.Tun;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * The VMM's end of a TAP tapwire made, for tools and tests that stand in for a guest: a frame {@linkplain #write
 * written} here leaves the guest's NIC into the host (the bridge), a frame the host sends to the guest is
 * {@linkplain #read read} here. Ethernet frames from the destination MAC on; the virtio-net header the TAP carries
 * is added and removed here. Not thread-safe: one reader at a time, as a VMM's queue thread. Close it to detach; the
 * TAP stays.
 */
public final class TapEndpoint implements AutoCloseable {

    private final TapQueue queue;

    private TapEndpoint(TapQueue queue) {
        this.queue = queue;
    }

    /**
     * Attaches to a TAP as a VMM does, in the calling thread's network namespace.
     *
     * @param tap the TAP's name, e.g. a {@code NicConfig}'s {@code tap()}
     * @param multiQueue whether the TAP is multi-queue (its {@code NicConfig} has more than one queue pair); it must
     *     match how the TAP was made
     * @return the endpoint
     * @throws InvalidNetworkSpecException if {@code tap} is not a valid interface name
     * @throws DeviceOperationException if the TAP cannot be attached ({@code EPERM} unless its owner, group member or
     *     {@code CAP_NET_ADMIN}; {@code EINVAL} when {@code multiQueue} does not match)
     */
    public static TapEndpoint attach(String tap, boolean multiQueue) {
        Objects.requireNonNull(tap, "tap");
        return new TapEndpoint(Tun.attach(tap, multiQueue));
    }

    /**
     * Sends one Ethernet frame into the host, as the guest would.
     *
     * @param frame the frame, from the destination MAC on
     * @throws DeviceOperationException if the write fails ({@code EIO} while the TAP is down)
     */
    public void write(byte[] frame) {
        queue.writeFrame(Objects.requireNonNull(frame, "frame"));
    }

    /**
     * Receives the next frame the host sent to the guest, waiting at most {@code timeout}.
     *
     * @param timeout how long to wait, at most {@link Integer#MAX_VALUE} milliseconds
     * @return the frame, or empty when none came in time
     * @throws InvalidNetworkSpecException if {@code timeout} is negative
     * @throws DeviceOperationException if the read fails
     */
    public Optional<byte[]> read(Duration timeout) {
        if (timeout.isNegative()) {
            throw new InvalidNetworkSpecException("a read timeout must not be negative, got " + timeout);
        }
        return queue.readFrame((int) Math.min(timeout.toMillis(), Integer.MAX_VALUE));
    }

    /** Detaches from the TAP; the TAP itself stays. Idempotent. */
    @Override
    public void close() {
        queue.close();
    }
}
