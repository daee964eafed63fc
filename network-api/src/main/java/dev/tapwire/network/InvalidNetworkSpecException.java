package dev.tapwire.network;

/** Thrown when a name, address, subnet, workspace or other input is malformed or out of range. */
public class InvalidNetworkSpecException extends NetworkException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception with a message that says what was wrong and what is accepted.
     *
     * @param message the detail message
     */
    public InvalidNetworkSpecException(String message) {
        super(message);
    }

    /**
     * Creates the exception with a message and the failure that caused it.
     *
     * @param message the detail message
     * @param cause the underlying failure
     */
    public InvalidNetworkSpecException(String message, Throwable cause) {
        super(message, cause);
    }
}
