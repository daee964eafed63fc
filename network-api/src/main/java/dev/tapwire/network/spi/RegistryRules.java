package dev.tapwire.network.spi;

import dev.tapwire.network.AddressExhaustedException;
import dev.tapwire.network.AddressInUseException;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.RegistryChange;
import dev.tapwire.network.SubnetOverlapException;
import java.net.URI;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The rules of the {@link dev.tapwire.network.NetworkRegistry} contract that every store applies the same way —
 * workspace names, what an index may hold, subnet allocation — for the file and etcd registries and for anyone
 * writing a registry on their own store.
 */
public final class RegistryRules {

    /** The longest workspace name accepted. */
    public static final int MAX_WORKSPACE_LENGTH = 253;

    private static final Logger LOG = LoggerFactory.getLogger(RegistryRules.class);

    private RegistryRules() {
    }

    /**
     * Trims and checks a workspace name.
     *
     * @param workspace the name
     * @return the trimmed name
     * @throws InvalidNetworkSpecException if it is null, blank, longer than 253 characters or holds a control character
     */
    public static String requireWorkspace(String workspace) {
        if (workspace == null || workspace.isBlank()) {
            throw new InvalidNetworkSpecException("workspace name must not be blank");
        }
        String ws = workspace.strip();
        if (ws.length() > MAX_WORKSPACE_LENGTH) {
            throw new InvalidNetworkSpecException("workspace name is " + ws.length() + " characters long; at most "
                    + MAX_WORKSPACE_LENGTH + " are accepted");
        }
        for (int i = 0; i < ws.length(); i++) {
            if (Character.isISOControl(ws.charAt(i))) {
                throw new InvalidNetworkSpecException("workspace name \"" + ws.replaceAll("\\p{Cntrl}", "?")
                        + "\" contains a control character at position " + i + "; printable characters only");
            }
        }
        return ws;
    }

    /**
     * Checks that an explicit subnet may hold a network: /30 or shorter.
     *
     * @param name the network name, for the message
     * @param subnet the subnet
     * @throws InvalidNetworkSpecException if the prefix is longer than /30
     */
    public static void requireNetworkSubnet(String name, Ipv4Subnet subnet) {
        if (subnet.prefixLength() > 30) {
            throw new InvalidNetworkSpecException("subnet " + subnet + " for network " + name + " is too small:"
                    + " the prefix must be /30 or shorter (a /30 holds the gateway and one member)");
        }
    }

    /**
     * Returns the first of {@code networks} whose subnet overlaps {@code subnet}.
     *
     * @param networks the networks
     * @param subnet the subnet
     * @return the network it overlaps, or empty
     */
    public static Optional<NetworkRecord> overlapping(List<NetworkRecord> networks, Ipv4Subnet subnet) {
        return networks.stream().filter(n -> n.subnet().overlaps(subnet)).findFirst();
    }

    /**
     * Allocates the lowest block of {@code pool} (of {@code prefix} bits; block 0 is never used) that overlaps
     * none of {@code networks}.
     *
     * @param networks the existing networks
     * @param pool the pool, e.g. {@code 10.44.0.0/16}
     * @param prefix the prefix length of a block, e.g. 24
     * @param name the network being created, for the message
     * @return the subnet
     * @throws AddressExhaustedException if every block overlaps a network
     */
    public static Ipv4Subnet allocateSubnet(List<NetworkRecord> networks, Ipv4Subnet pool, int prefix, String name) {
        long blockSize = 1L << (32 - prefix);
        long blocks = pool.size() / blockSize;
        for (long k = 1; k < blocks; k++) {
            Ipv4Subnet candidate = new Ipv4Subnet(pool.networkAddress().plus(k * blockSize), prefix);
            if (overlapping(networks, candidate).isEmpty()) {
                return candidate;
            }
        }
        throw new AddressExhaustedException("no free /" + prefix + " subnet left in pool " + pool + " for network "
                + name + "; remove a network or create it with an explicit subnet");
    }

    /**
     * Checks that a subnet prefix fits a pool, as a registry builder must.
     *
     * @param pool the pool
     * @param prefix the prefix of auto-allocated subnets
     * @throws InvalidNetworkSpecException if the prefix is not longer than the pool's or longer than /30
     */
    public static void requirePrefixFitsPool(Ipv4Subnet pool, int prefix) {
        if (prefix <= pool.prefixLength() || prefix > 30) {
            throw new InvalidNetworkSpecException("subnet prefix /" + prefix + " does not fit pool " + pool
                    + ": it must be longer than /" + pool.prefixLength() + " and at most /30");
        }
    }

    /**
     * Decides a join that requests an address, as every registry must: the address must be a host of the
     * network's subnet other than the network, gateway and broadcast addresses; a member that holds exactly that
     * address keeps it; a member that holds another address, or an address that another member holds, is refused.
     *
     * @param record the network as read
     * @param workspace the trimmed workspace name
     * @param requested the address asked for
     * @return true when the workspace already holds {@code requested} (nothing to change), false when it may join
     *     with it
     * @throws InvalidNetworkSpecException if the address is outside the subnet or is its network, gateway or
     *     broadcast address
     * @throws AddressInUseException if the workspace holds another address there, or another member holds this one
     *     (naming that member)
     */
    public static boolean requireRequestable(NetworkRecord record, String workspace, Ipv4Address requested) {
        Ipv4Subnet subnet = record.subnet();
        if (!subnet.contains(requested)) {
            throw new InvalidNetworkSpecException("address " + requested + " requested by " + workspace
                    + " is outside network " + record.name() + "'s subnet " + subnet + "; request a host of " + subnet
                    + " other than its gateway " + record.gateway());
        }
        if (requested.equals(record.gateway()) || requested.equals(subnet.networkAddress())
                || (subnet.prefixLength() < 31 && requested.equals(subnet.broadcastAddress()))) {
            throw new InvalidNetworkSpecException("address " + requested + " requested by " + workspace
                    + " is the network, gateway or broadcast address of network " + record.name() + " (" + subnet
                    + ", gateway " + record.gateway() + "); request another host of " + subnet);
        }
        Optional<Member> own = record.member(workspace);
        if (own.isPresent()) {
            if (own.get().ip().equals(requested)) {
                return true;
            }
            throw new AddressInUseException("workspace " + workspace + " already holds " + own.get().ip()
                    + " on network " + record.name() + ", not the requested " + requested + "; leave the network"
                    + " first to join with another address");
        }
        record.members().stream().filter(m -> m.ip().equals(requested)).findFirst().ifPresent(holder -> {
            throw addressHeld(record.name(), requested, holder.workspace());
        });
        return false;
    }

    /**
     * Returns the error for a requested address that a member holds.
     *
     * @param network the network name
     * @param requested the address asked for
     * @param holder the member that holds it
     * @return the exception, naming the holder
     */
    public static AddressInUseException addressHeld(String network, Ipv4Address requested, String holder) {
        return new AddressInUseException("address " + requested + " on network " + network + " is held by member "
                + holder + "; request a free address, or join without one to get the lowest free host");
    }

    /**
     * Checks a whole index: no network or workspace listed twice, every member on a free host of its subnet
     * (not the network, gateway or broadcast address), no address held twice; overlapping subnets go to
     * {@code onOverlap}, which may throw ({@code writeIndex}) or warn (an index read as the Go reference wrote it).
     *
     * @param index the index
     * @param onOverlap told of each overlap, in words
     * @throws InvalidNetworkSpecException naming the first rule broken
     */
    public static void check(NetworkIndex index, Consumer<String> onOverlap) {
        Set<String> names = new HashSet<>();
        List<NetworkRecord> networks = index.networks();
        for (int i = 0; i < networks.size(); i++) {
            NetworkRecord n = networks.get(i);
            if (!names.add(n.name())) {
                throw new InvalidNetworkSpecException("the index lists network " + n.name() + " twice");
            }
            overlapping(networks.subList(0, i), n.subnet()).ifPresent(other -> onOverlap.accept("network " + n.name()
                    + " (" + n.subnet() + ") overlaps network " + other.name() + " (" + other.subnet() + ")"));
            Set<String> workspaces = new HashSet<>();
            Set<Ipv4Address> addresses = new HashSet<>();
            for (Member m : n.members()) {
                String ws = requireWorkspace(m.workspace());
                if (!ws.equals(m.workspace())) {
                    throw new InvalidNetworkSpecException("network " + n.name() + ": workspace \"" + m.workspace()
                            + "\" has leading or trailing whitespace; names are stored trimmed");
                }
                if (!workspaces.add(ws)) {
                    throw new InvalidNetworkSpecException("network " + n.name() + " lists workspace " + ws + " twice");
                }
                if (!n.subnet().contains(m.ip())) {
                    throw new InvalidNetworkSpecException("network " + n.name() + ": member " + ws + " has address "
                            + m.ip() + " outside the subnet " + n.subnet());
                }
                if (m.ip().equals(n.gateway()) || m.ip().equals(n.subnet().networkAddress())
                        || (n.subnet().prefixLength() < 31 && m.ip().equals(n.subnet().broadcastAddress()))) {
                    throw new InvalidNetworkSpecException("network " + n.name() + ": member " + ws + " has address "
                            + m.ip() + ", which is the network, gateway or broadcast address of " + n.subnet());
                }
                if (!addresses.add(m.ip())) {
                    throw new InvalidNetworkSpecException("network " + n.name() + ": address " + m.ip()
                            + " is held by more than one member");
                }
            }
        }
    }

    /**
     * Checks a whole index as {@code writeIndex} requires: {@link #check} with overlaps refused.
     *
     * @param index the index
     * @throws InvalidNetworkSpecException naming the first rule broken
     * @throws SubnetOverlapException if two subnets overlap
     */
    public static void validate(NetworkIndex index) {
        check(index, overlap -> {
            throw new SubnetOverlapException(overlap);
        });
    }

    /**
     * Splits a registry URI's query into parameters, refusing any that {@code accepted} does not name.
     *
     * @param uri the URI
     * @param accepted the parameter names accepted, e.g. {@code pool, prefix}
     * @return the parameters in order
     * @throws InvalidNetworkSpecException naming an unknown parameter and the accepted ones
     */
    public static Map<String, String> parameters(URI uri, String... accepted) {
        Map<String, String> parameters = new LinkedHashMap<>();
        String query = uri.getQuery();
        if (query == null || query.isEmpty()) {
            return parameters;
        }
        for (String pair : query.split("&")) {
            int eq = pair.indexOf('=');
            String key = eq < 0 ? pair : pair.substring(0, eq);
            if (!List.of(accepted).contains(key)) {
                throw new InvalidNetworkSpecException("registry URI \"" + uri + "\" has the unknown parameter \"" + key
                        + "\"; accepted: " + String.join(", ", accepted));
            }
            parameters.put(key, eq < 0 ? "" : pair.substring(eq + 1));
        }
        return parameters;
    }

    /**
     * Reads the {@code subnet-prefix} parameter of a registry URI.
     *
     * @param uri the URI, for the message
     * @param value the parameter's value
     * @return the prefix length
     * @throws InvalidNetworkSpecException if it is not a number
     */
    public static int subnetPrefix(URI uri, String value) {
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new InvalidNetworkSpecException("registry URI \"" + uri + "\": subnet-prefix \"" + value
                    + "\" is not a number; expected e.g. subnet-prefix=24", e);
        }
    }

    /**
     * Delivers changes to a watch's listener in order while the watch is open; a listener that throws is logged
     * and keeps receiving.
     *
     * @param changes the changes
     * @param listener the listener
     * @param open whether the watch is still open
     */
    public static void deliver(List<RegistryChange> changes, Consumer<RegistryChange> listener, BooleanSupplier open) {
        for (RegistryChange change : changes) {
            if (!open.getAsBoolean()) {
                return;
            }
            try {
                listener.accept(change);
            } catch (RuntimeException e) {
                LOG.warn("registry watch: a listener failed on {}: {}", change, e.toString(), e);
            }
        }
    }
}
