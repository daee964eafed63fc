package dev.tapwire.network;

/** Thrown when a host registers under a name that another live host holds: an error, never a takeover. */
public class HostConflictException extends NetworkException {

    private static final long serialVersionUID = 1L;

    /** The contested host name. */
    private final String host;

    /**
     * Creates the exception.
     *
     * @param host the contested host name
     * @param message what was found and what to do
     */
    public HostConflictException(String host, String message) {
        super(message);
        this.host = host;
    }

    /**
     * Returns the contested host name.
     *
     * @return the name
     */
    public String host() {
        return host;
    }
}
