package dev.tapwire.network;

/** A running {@link NetworkRegistry#watch watch}; close it to stop receiving changes. */
public interface RegistryWatch extends AutoCloseable {

    /** Stops the watch; no change is delivered once this returns. Idempotent, never throws. */
    @Override
    void close();
}
