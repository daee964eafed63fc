package dev.tapwire.network;

/**
 * A host's registration in a {@link PlacementRegistry}: while it is renewed, the host's record and every placement
 * made through it stay; once it ends, they vanish together and other hosts stop sending to this one.
 *
 * <p>Implementations are thread-safe.
 */
public interface HostLease extends AutoCloseable {

    /**
     * Returns the host this lease registered.
     *
     * @return the host record
     */
    HostRecord host();

    /**
     * Records that a member's NIC runs on this host with the given guest MAC, replacing the member's placement on
     * any host (a workspace moved here). Idempotent.
     *
     * @param network the network's name
     * @param workspace the member's workspace; it must be a member of the network
     * @param mac the guest MAC of the member's NIC
     * @throws NetworkNotFoundException if the network does not exist
     * @throws InvalidNetworkSpecException if the workspace is not a member of the network
     * @throws NetworkException if the lease has ended or the registry cannot be written
     */
    void place(String network, String workspace, MacAddress mac);

    /**
     * Removes a member's placement if it is on this host; a placement on another host is left alone. Idempotent.
     *
     * @param network the network's name
     * @param workspace the member's workspace
     * @throws NetworkException if the registry cannot be written
     */
    void unplace(String network, String workspace);

    /**
     * Returns the network's VXLAN network identifier, allocating it on first use: derived from the network's name,
     * recorded fleet-wide, and never the VNI of another network.
     *
     * @param network the network's name
     * @return the VNI, 1–16777215
     * @throws NetworkNotFoundException if the network does not exist
     * @throws NetworkException if the registry cannot be written
     */
    int vni(String network);

    /**
     * Tells whether the lease still holds: false once it was closed, withdrawn or lost (not renewed within its TTL,
     * so its records are gone and the host must {@link PlacementRegistry#register register} again).
     *
     * @return true while the lease holds
     */
    boolean isValid();

    /** Ends the lease at once: the host's record and placements vanish now. Idempotent. */
    void withdraw();

    /**
     * Stops renewing the lease without withdrawing it: the records stay until the TTL runs out, so an agent that
     * restarts within it re-attaches without other hosts ever dropping this one. Idempotent, never throws.
     */
    @Override
    void close();
}
