package dev.tapwire.network;

/**
 * The root of every exception tapwire throws; unchecked, so callers catch what they can handle.
 */
public class NetworkException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception with a message.
     *
     * @param message the detail message
     */
    public NetworkException(String message) {
        super(message);
    }

    /**
     * Creates the exception with a message and the failure that caused it.
     *
     * @param message the detail message
     * @param cause the underlying failure
     */
    public NetworkException(String message, Throwable cause) {
        super(message, cause);
    }
}
