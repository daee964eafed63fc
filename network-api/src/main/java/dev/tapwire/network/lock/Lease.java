package dev.tapwire.network.lock;

/** A held lock; closing it releases the lock, and closing it again does nothing. */
public interface Lease extends AutoCloseable {

    /** Releases the lock; idempotent, never throws. */
    @Override
    void close();
}
