package dev.tapwire.network;

import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A registry of named networks that workspaces join; each member holds a stable IPv4 address.
 *
 * <table>
 *   <caption>Behaviour</caption>
 *   <tr><th>method</th><th>behaviour</th></tr>
 *   <tr><td>{@link #create(String)}</td><td>allocates the lowest free subnet of the pool (default
 *       /24s of {@code 10.44.0.0/16}, first {@code 10.44.1.0/24}; {@code 10.44.0.0/24} is never used) that
 *       overlaps no existing subnet; gateway = first host; {@code created_at} = now, UTC, whole seconds</td></tr>
 *   <tr><td>{@link #create(String, Ipv4Subnet)}</td><td>explicit subnet; rejects a prefix longer than /30,
 *       a duplicate name, an overlap (naming the network it overlaps)</td></tr>
 *   <tr><td>{@link #list()}</td><td>every network, sorted by name</td></tr>
 *   <tr><td>{@link #find(String)} / {@link #get(String)}</td><td>{@code get} throws
 *       {@link NetworkNotFoundException}</td></tr>
 *   <tr><td>{@link #remove(String, boolean)}</td><td>fails with {@link NetworkInUseException} (listing
 *       members) while members exist unless {@code force}; unknown name → {@link NetworkNotFoundException}</td></tr>
 *   <tr><td>{@link #join(String, String)}</td><td>lowest free host, skipping network address, gateway and
 *       broadcast; a re-join returns the same address; exhausted → {@link AddressExhaustedException};
 *       blank workspace → {@link InvalidNetworkSpecException}</td></tr>
 *   <tr><td>{@link #join(String, String, Ipv4Address)}</td><td>joins with the requested address when it is a
 *       free host of the subnet (not the network address, gateway or broadcast; else
 *       {@link InvalidNetworkSpecException}); a member holding exactly that address gets it back; a member holding
 *       another address, or an address another member holds, → {@link AddressInUseException} naming the holder,
 *       and nothing changes. The address is kept until the member leaves: a later join without a request
 *       returns it, a join after a leave without a request gets the lowest free host</td></tr>
 *   <tr><td>{@link #leave(String, String)}</td><td>frees the address; idempotent, never throws for an
 *       unknown network or a non-member</td></tr>
 *   <tr><td>{@link #leaveAll(String)}</td><td>leaves every network</td></tr>
 *   <tr><td>{@link #readIndex()} / {@link #writeIndex(NetworkIndex)}</td><td>the whole index (missing
 *       file = empty); {@code writeIndex} validates before it persists</td></tr>
 *   <tr><td>{@link #watch(Consumer)}</td><td>reports networks created, changed and removed and members joined
 *       and left, whichever process or host made the change, or that the listener must read again
 *       ({@code RESYNC})</td></tr>
 * </table>
 *
 * <p>Implementations are safe for concurrent use by many threads; the file implementation is also
 * safe across processes.
 *
 * <p>A registry may hold resources (the etcd registry holds a client and its connections): close it when done,
 * best with try-with-resources. {@link #close()} of a registry that holds none does nothing.
 */
public interface NetworkRegistry extends AutoCloseable {

    /**
     * Creates a network with an automatically allocated subnet.
     *
     * @param name the network name (see {@link NetworkNames})
     * @return the created network
     * @throws InvalidNetworkSpecException if the name is invalid
     * @throws NetworkAlreadyExistsException if a network of that name exists
     * @throws AddressExhaustedException if the pool has no free subnet
     */
    NetworkRecord create(String name);

    /**
     * Creates a network on an explicit subnet (host bits are masked).
     *
     * @param name the network name
     * @param subnet the subnet, /30 or larger
     * @return the created network
     * @throws InvalidNetworkSpecException if the name is invalid or the prefix is longer than /30
     * @throws NetworkAlreadyExistsException if a network of that name exists
     * @throws SubnetOverlapException if the subnet overlaps an existing network (which it names)
     */
    NetworkRecord create(String name, Ipv4Subnet subnet);

    /**
     * Lists every network.
     *
     * @return the networks sorted by name
     * @throws RegistryCorruptedException if the stored index cannot be read
     */
    List<NetworkRecord> list();

    /**
     * Finds a network by name.
     *
     * @param name the network name
     * @return the network, or empty when there is none
     * @throws RegistryCorruptedException if the stored index cannot be read
     */
    Optional<NetworkRecord> find(String name);

    /**
     * Returns a network by name.
     *
     * @param name the network name
     * @return the network
     * @throws NetworkNotFoundException if there is no such network
     */
    default NetworkRecord get(String name) {
        return find(name).orElseThrow(() -> new NetworkNotFoundException("network \"" + name + "\" not found"));
    }

    /**
     * Removes a network.
     *
     * @param name the network name
     * @param force remove even while workspaces are members
     * @throws NetworkNotFoundException if there is no such network
     * @throws NetworkInUseException if members exist and {@code force} is false
     */
    void remove(String name, boolean force);

    /**
     * Joins a workspace to a network, or returns its address when it is already a member.
     *
     * @param network the network name
     * @param workspace the workspace name (trimmed; non-blank)
     * @return the workspace's address in the network
     * @throws NetworkNotFoundException if there is no such network
     * @throws InvalidNetworkSpecException if the workspace name is blank or malformed
     * @throws AddressExhaustedException if the subnet has no free host
     */
    Ipv4Address join(String network, String workspace);

    /**
     * Joins a workspace to a network with a requested (static) address, or returns it when the workspace already
     * holds exactly that address. The member keeps the address until it leaves; a join without a request after
     * a leave gets the lowest free host, so a VM manager that wants the same address after stop/start keeps
     * requesting it.
     *
     * @param network the network name
     * @param workspace the workspace name (trimmed; non-blank)
     * @param requested the address, a host of the network's subnet other than its network, gateway and broadcast
     *     addresses
     * @return {@code requested}
     * @throws NetworkNotFoundException if there is no such network
     * @throws InvalidNetworkSpecException if the workspace name is blank or malformed, or the address is outside
     *     the subnet or is its network, gateway or broadcast address
     * @throws AddressInUseException if another member holds the address (the message names it), or the workspace
     *     holds another address on the network; nothing changes then
     * @throws NullPointerException if {@code requested} is null
     */
    Ipv4Address join(String network, String workspace, Ipv4Address requested);

    /**
     * Removes a workspace from a network, freeing its address; does nothing when it is not a member
     * or the network does not exist.
     *
     * @param network the network name
     * @param workspace the workspace name
     */
    void leave(String network, String workspace);

    /**
     * Removes a workspace from every network it belongs to.
     *
     * @param workspace the workspace name
     */
    void leaveAll(String workspace);

    /**
     * Reads the whole index.
     *
     * @return the index, empty when nothing is stored yet
     * @throws RegistryCorruptedException if the stored index cannot be read
     */
    NetworkIndex readIndex();

    /**
     * Validates and persists a whole index, replacing what is stored.
     *
     * @param index the index to store
     * @throws InvalidNetworkSpecException if the index is invalid (nothing is written then)
     * @throws SubnetOverlapException if two of its networks overlap (nothing is written then)
     */
    void writeIndex(NetworkIndex index);

    /**
     * Reports every change made to this registry from now on — by this client, another process or another
     * host — until the returned handle is closed. Changes are delivered in order, on a thread of the
     * registry's own; a listener that throws is logged and keeps receiving. Several quick changes may be
     * reported together, as the difference between two states ({@link RegistryChange#between}). A subnet or
     * gateway change (made by {@link #writeIndex}) is {@link RegistryChange.Type#NETWORK_CHANGED}. When a watch
     * cannot report every change (the store compacted away what it missed, say) it delivers
     * {@link RegistryChange.Type#RESYNC}: the listener must then read the registry again and take that as the
     * truth. A watch never stops silently while its handle is open.
     *
     * @param listener receives each change
     * @return the watch; close it to stop
     * @throws NetworkException if the watch cannot be set up
     */
    RegistryWatch watch(Consumer<RegistryChange> listener);

    /**
     * Returns where the members of this registry's networks run: host records, placements and VNIs, runtime state
     * kept beside the index (never in it, nor in its export). The file registry's placements are single-host; the
     * etcd registry's span the fleet.
     *
     * @return the placement registry on the same store
     */
    PlacementRegistry placements();

    /**
     * Releases what the registry holds (clients, connections, watches); a registry that holds nothing, as the file
     * registry, does nothing. Leases a host took through {@link #placements()} stop being renewed with it. Idempotent,
     * never throws.
     */
    @Override
    default void close() {
    }
}
