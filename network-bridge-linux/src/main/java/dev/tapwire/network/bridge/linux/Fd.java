package dev.tapwire.network.bridge.linux;

import com.sun.jna.LastErrorException;
import dev.tapwire.network.bridge.linux.raw.LibC;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An owned file descriptor that is closed exactly once. Callers close it explicitly (try-with-resources);
 * a {@link Cleaner} closes it if an owner is ever dropped without closing — a safety net, not the plan.
 */
final class Fd implements AutoCloseable {

    private static final Cleaner CLEANER = Cleaner.create();

    private final int fd;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Cleaner.Cleanable cleanable;

    Fd(int fd) {
        this.fd = fd;
        this.cleanable = CLEANER.register(this, new Closer(fd));
    }

    /** Closes the descriptor; must not refer to the {@link Fd}, or it would never become unreachable. */
    private record Closer(int fd) implements Runnable {
        @Override
        public void run() {
            try {
                LibC.close(fd);
            } catch (LastErrorException ignored) {
                // close(2) releases the descriptor even when it reports an error
            }
        }
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
        closeOnce();
    }

    /**
     * Closes the descriptor unless it is closed already.
     *
     * @return whether this call closed it
     */
    boolean closeOnce() {
        if (closed.compareAndSet(false, true)) {
            cleanable.clean();
            return true;
        }
        return false;
    }
}
