package dev.tapwire.network;

import java.net.InetSocketAddress;
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

    /** The largest VXLAN network identifier (24 bits); 0 is never allocated. */
    int MAX_VNI = (1 << 24) - 1;

    /**
     * Returns the VNI to try for a network at the {@code probe}-th attempt of its allocation: for probe 0 the
     * first 24 bits of the SHA-256 of its name, mapped into 1–16777215; each further probe the next VNI (wrapping
     * to 1). Every registry derives the same first candidate and resolves a clash (a VNI recorded for another
     * network) by probing the next.
     *
     * @param network the network's name
     * @param probe how many candidates were taken already, 0 or more
     * @return the candidate, 1–16777215
     * @throws InvalidNetworkSpecException if the name is not a valid network name or the probe is negative
     */
    static int vniCandidate(String network, int probe) {
        NetworkNames.requireValid(network);
        if (probe < 0) {
            throw new InvalidNetworkSpecException("a VNI probe is 0 or more, not " + probe);
        }
        byte[] hash = Sha256.of(network);
        int first = ((hash[0] & 0xff) << 16) | ((hash[1] & 0xff) << 8) | (hash[2] & 0xff);
        return (int) ((first % MAX_VNI + (long) probe) % MAX_VNI) + 1;
    }

    /**
     * Tells whether placements of other hosts can appear here (true on etcd; false for a single-host registry).
     *
     * @return true when the registry is shared by hosts
     */
    boolean spansHosts();

    /**
     * Returns where this registry's store is reached: the first endpoint of a shared registry. A host's default
     * underlay address is the source address its kernel picks for the route towards it (see
     * {@link dev.tapwire.network.spi.ProviderSettings#underlay()}). Empty for a registry that is not reached over
     * the network, as the single-host file registry: a single host needs no tunnel.
     *
     * @return the first endpoint (perhaps unresolved: a host name), or empty
     */
    default Optional<InetSocketAddress> defaultUnderlayTarget() {
        return Optional.empty();
    }

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
     * {@code ttl} (a single-host registry may hold it otherwise: the file registry's lease lives as long as the
     * process that registered it, and for {@code ttl} after its {@link HostLease#close()}). The same host
     * registering again (the same name and underlay address: a restart of its agent) re-attaches, taking over the
     * records of its earlier lease, which ends; a live host with the same name and another underlay address is
     * refused, and so is, on a single-host registry, any other name while a host is live. To place through the
     * lease of a host another process registered, without taking it over, use {@link #attach}.
     *
     * @param host the host's name and underlay address
     * @param ttl how long the host's records outlive its last renewal (at least 2 s)
     * @return the lease; close it to stop renewing
     * @throws HostConflictException if another live host holds the name (or, single-host, the registry)
     * @throws InvalidNetworkSpecException if {@code ttl} is shorter than 2 s
     * @throws NetworkException if the registry cannot be written
     */
    HostLease register(HostRecord host, Duration ttl);

    /**
     * Attaches to the live lease of a host that another process registered (its agent), to place and unplace that
     * host's members — a {@code tap create} beside a running agent — without taking the lease over, as a second
     * {@link #register} of the same host would. The handle never renews the lease: its {@link HostLease#close()} and
     * {@link HostLease#withdraw()} end only the handle; it is {@link HostLease#isValid() valid} while the lease holds.
     *
     * @param host the host's name
     * @return a handle on the host's lease
     * @throws InvalidNetworkSpecException if the name is not a valid host name
     * @throws NetworkException if no live host of that name is registered (the message says to start its agent)
     */
    HostLease attach(String host);

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
