package dev.tapwire.network;

/**
 * Thrown when a join requests an address that another member of the network holds (the message names that
 * member), when a member that holds one address asks for another, or when a {@link PortPublication} asks for a host
 * port that is published already (the message names the VM and NIC holding it).
 */
public class AddressInUseException extends NetworkException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception with a message that names the holder and says what is accepted.
     *
     * @param message the detail message
     */
    public AddressInUseException(String message) {
        super(message);
    }
}
