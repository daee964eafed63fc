package dev.tapwire.network.bridge.linux;

import com.sun.jna.LastErrorException;
import dev.tapwire.network.bridge.linux.raw.LibC;
import java.util.concurrent.atomic.AtomicBoolean;

/** An owned file descriptor that is closed exactly once. */
final class Fd implements AutoCloseable {

    private final int fd;
    private final AtomicBoolean closed = new AtomicBoolean();

    Fd(int fd) {
        this.fd = fd;
    }

    int get() {
        if (closed.get()) {
            throw new IllegalStateException("file descriptor " + fd + " is closed");
        }
        return fd;
    }

    boolean isOpen() {
        return !closed.get();
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                LibC.close(fd);
            } catch (LastErrorException ignored) {
                // close(2) releases the descriptor even when it reports an error
            }
        }
    }
}
