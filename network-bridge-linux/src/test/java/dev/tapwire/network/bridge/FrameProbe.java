package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.bridge.linux.TapQueue;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A hostile guest's side of a test: frames written to the attacker's TAP queue, and where they show up — the
 * victim's queue or a socket of the host. Every frame carries a random marker, so only that very frame counts.
 */
final class FrameProbe {

    private final TapQueue attacker;
    private final TapQueue victim;

    /**
     * A probe between two queues.
     *
     * @param attacker the queue hostile frames are written to
     * @param victim the queue of a neighbour that must not receive them
     */
    FrameProbe(TapQueue attacker, TapQueue victim) {
        this.attacker = attacker;
        this.victim = victim;
    }


    /** Where frames may show up: returns whether one carrying {@code marker} arrived within {@code millis}. */
    @FunctionalInterface
    interface Receiver {
        boolean saw(byte[] marker, long millis) throws IOException;
    }

    Receiver atVictim() {
        return (marker, millis) -> {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            for (long left = millis; left > 0; left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())) {
                if (victim.readFrame((int) left).filter(f -> Frames.contains(f, marker)).isPresent()) {
                    return true;
                }
            }
            return false;
        };
    }

    static Receiver atHost(DatagramSocket socket) {
        return (marker, millis) -> {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            DatagramPacket packet = new DatagramPacket(new byte[2048], 2048);
            for (long left = millis; left > 0; left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())) {
                socket.setSoTimeout((int) Math.max(1, left));
                try {
                    socket.receive(packet);
                } catch (SocketTimeoutException e) {
                    return false;
                }
                if (Frames.contains(java.util.Arrays.copyOf(packet.getData(), packet.getLength()), marker)) {
                    return true;
                }
            }
            return false;
        };
    }

    /**
     * Writes the frame from the attacker's queue until it is seen (a port forwards only once the kernel's link
     * watch has seen the carrier that attaching brought up: asynchronous, up to a second), within 5 s.
     */
    void arrives(Function<byte[], byte[]> frame, Receiver at) {
        byte[] marker = marker();
        byte[] bytes = frame.apply(marker);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        try {
            while (System.nanoTime() < deadline) {
                attacker.writeFrame(bytes);
                if (at.saw(marker, 200)) {
                    return;
                }
            }
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("the frame did not arrive within 5 s: " + hex(bytes));
    }

    /** Writes the frame three times (after a control frame arrived, so the path is up) and sees none in 400 ms. */
    void isDropped(Function<byte[], byte[]> frame, Receiver at) {
        byte[] marker = marker();
        byte[] bytes = frame.apply(marker);
        for (int i = 0; i < 3; i++) {
            attacker.writeFrame(bytes);
        }
        try {
            assertThat(at.saw(marker, 400)).as("the hostile frame got through: %s", hex(bytes)).isFalse();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    static void waitFor(Supplier<Boolean> condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!condition.get()) {
            assertThat(System.nanoTime()).as("waiting for " + what).isLessThan(deadline);
            Thread.sleep(50);
        }
    }

    static DatagramSocket hostSocket(Ipv4Address address, int port) throws IOException {
        DatagramSocket socket = new DatagramSocket(null);
        socket.setReuseAddress(true);
        socket.bind(new InetSocketAddress(InetAddress.getByAddress(address.toBytes()), port));
        return socket;
    }

    static byte[] marker() {
        byte[] marker = new byte[12];
        ThreadLocalRandom.current().nextBytes(marker);
        return marker;
    }

    /** The frame with the marker appended (after an ARP body it is Ethernet padding). */
    static byte[] marked(byte[] frame, byte[] marker) {
        byte[] out = java.util.Arrays.copyOf(frame, frame.length + marker.length);
        System.arraycopy(marker, 0, out, frame.length, marker.length);
        return out;
    }

    private static String hex(byte[] bytes) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(bytes.length, 64); i++) {
            sb.append(String.format("%02x", bytes[i] & 0xff));
        }
        return sb.toString();
    }
}
