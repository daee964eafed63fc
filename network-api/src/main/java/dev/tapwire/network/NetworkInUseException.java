package dev.tapwire.network;

import java.util.List;

/** Thrown when a network cannot be removed because workspaces are still members of it. */
public class NetworkInUseException extends NetworkException {

    private static final long serialVersionUID = 1L;

    /** The network that was to be removed. */
    private final String network;
    /** Its member workspaces. */
    private final List<String> workspaces;

    /**
     * Creates the exception for {@code network} naming the workspaces that still use it.
     *
     * @param network the network that was to be removed
     * @param workspaces the member workspaces, in registry order
     */
    public NetworkInUseException(String network, List<String> workspaces) {
        super("network \"" + network + "\" is in use by " + workspaces.size() + " workspace(s): "
                + String.join(", ", workspaces) + "; leave it first or remove with force");
        this.network = network;
        this.workspaces = List.copyOf(workspaces);
    }

    /**
     * Returns the name of the network that is in use.
     *
     * @return the network name
     */
    public String network() {
        return network;
    }

    /**
     * Returns the workspaces that are still members.
     *
     * @return an immutable list of workspace names
     */
    public List<String> workspaces() {
        return workspaces;
    }
}
