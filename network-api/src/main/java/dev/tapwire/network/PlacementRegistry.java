package dev.tapwire.network;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Which host each member of a named network runs on, and each host's tunnel endpoint: the runtime state a fleet
 * needs to realize one named network on many hosts. Obtained from {@link NetworkRegistry#placements()}; it never
 * changes the registry's index, its file format or its export.
 *
 * <p>A host takes part by {@link #register registering}: its record and every placement it makes are bound to its
 * {@link HostLease}, so they vanish when the host stops renewing it. On etcd the records of every host are seen by
 * every host; the file registry's placements are single-host ({@link #spansHosts()} is false).
 *
 * <p>Implementations are thread-safe.
 */
public interface PlacementRegistry {

    /**
     * Tells whether placements of other hosts can appear here (true on etcd; false for a single-host registry).
     *
     * @return true when the registry is shared by hosts
     */
    boolean spansHosts();

    /**
     * Returns the live hosts (those whose lease holds), sorted by name.
     *
     * @return the hosts
     * @throws NetworkException if the registry cannot be read
     */
    List<HostRecord> hosts();

    /**
     * Returns the placements of a network's members on live hosts, sorted by workspace; empty for an unknown
     * network.
     *
     * @param network the network's name
     * @return the placements
     * @throws NetworkException if the registry cannot be read
     */
    List<Placement> placements(String network);

    /**
     * Returns the VXLAN network identifier recorded for a network, if one was {@link HostLease#vni allocated}.
     *
     * @param network the network's name
     * @return the VNI (1–16777215), or empty
     * @throws NetworkException if the registry cannot be read
     */
    Optional<Integer> vni(String network);

    /**
     * Registers a host: its record, bound to a lease that the returned {@link HostLease} keeps alive every third of
     * {@code ttl}. The same host registering again (the same name and underlay address: a restart of its agent)
     * re-attaches, taking over the records of its earlier lease; a live host with the same name and another
     * underlay address is refused.
     *
     * @param host the host's name and underlay address
     * @param ttl how long the host's records outlive its last renewal (at least 2 s)
     * @return the lease; close it to stop renewing
     * @throws HostConflictException if another live host holds the name
     * @throws InvalidNetworkSpecException if {@code ttl} is shorter than 2 s
     * @throws NetworkException if the registry cannot be written
     */
    HostLease register(HostRecord host, Duration ttl);

    /**
     * Reports every change to hosts and placements until the returned watch is closed, or {@link
     * PlacementChange.Type#RESYNC} when changes may have been missed. The listener runs on a thread of the watch,
     * one change at a time; it is first called with a {@code RESYNC} once the watch is established.
     *
     * @param listener called for each change
     * @return the running watch
     * @throws NetworkException if the watch cannot be started
     */
    RegistryWatch watch(Consumer<PlacementChange> listener);
}
