package dev.tapwire.network;

/** Thrown when a subnet has no free host address left, or the subnet pool has no free subnet left. */
public class AddressExhaustedException extends NetworkException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception with a message that says what was wrong and what is accepted.
     *
     * @param message the detail message
     */
    public AddressExhaustedException(String message) {
        super(message);
    }

    /**
     * Creates the exception with a message and the failure that caused it.
     *
     * @param message the detail message
     * @param cause the underlying failure
     */
    public AddressExhaustedException(String message, Throwable cause) {
        super(message, cause);
    }
}
