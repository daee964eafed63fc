package dev.tapwire.network.guest;

import dev.tapwire.network.NetworkException;

/** The guest image cannot be found or built; the message says what failed and what to install or run. */
public class GuestImageException extends NetworkException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message what failed
     */
    public GuestImageException(String message) {
        super(message);
    }

    /**
     * Creates the exception with its cause.
     *
     * @param message what failed
     * @param cause the underlying failure
     */
    public GuestImageException(String message, Throwable cause) {
        super(message, cause);
    }
}
