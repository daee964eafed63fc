package dev.tapwire.network;

/** Thrown when the registry's index file cannot be read as a valid index; it is left untouched. */
public class RegistryCorruptedException extends NetworkException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception with a message that says what was wrong and what is accepted.
     *
     * @param message the detail message
     */
    public RegistryCorruptedException(String message) {
        super(message);
    }

    /**
     * Creates the exception with a message and the failure that caused it.
     *
     * @param message the detail message
     * @param cause the underlying failure
     */
    public RegistryCorruptedException(String message, Throwable cause) {
        super(message, cause);
    }
}
