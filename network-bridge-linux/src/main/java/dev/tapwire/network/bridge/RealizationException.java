package dev.tapwire.network.bridge;

import dev.tapwire.network.NetworkException;

/**
 * Thrown when a named network cannot be realized or kept up on this host for a reason that is no device's: a
 * tool it needs is not installed (the message names the Debian package), or its state cannot be read or written
 * (the message names the file and the cause).
 */
public class RealizationException extends NetworkException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception with a message.
     *
     * @param message what is wrong and what to do about it
     */
    public RealizationException(String message) {
        super(message);
    }

    /**
     * Creates the exception with a message and the failure that caused it.
     *
     * @param message what is wrong and what to do about it
     * @param cause the underlying failure
     */
    public RealizationException(String message, Throwable cause) {
        super(message, cause);
    }
}
