package dev.tapwire.network;

/**
 * A running {@link NetworkRegistry#watch watch}; close it to stop receiving changes. While open it reports every
 * change, or {@link RegistryChange.Type#RESYNC} when it could not — then its listener reads the registry again.
 */
public interface RegistryWatch extends AutoCloseable {

    /** Stops the watch; no change is delivered once this returns. Idempotent, never throws. */
    @Override
    void close();
}
