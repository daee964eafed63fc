package dev.tapwire.network;

/** Thrown when a subnet overlaps a network that already exists. */
public class SubnetOverlapException extends NetworkException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception with a message that says what was wrong and what is accepted.
     *
     * @param message the detail message
     */
    public SubnetOverlapException(String message) {
        super(message);
    }

    /**
     * Creates the exception with a message and the failure that caused it.
     *
     * @param message the detail message
     * @param cause the underlying failure
     */
    public SubnetOverlapException(String message, Throwable cause) {
        super(message, cause);
    }
}
