package dev.tapwire.network.registry;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.RegistryCorruptedException;
import dev.tapwire.network.SubnetOverlapException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What makes an index valid, for {@code writeIndex} and for an index read from disk.
 *
 * <p>Read from disk, an index is held to what the Go reference itself can write: it never writes one network
 * name twice, one workspace twice in a network, a member outside its subnet, on the network, gateway or
 * broadcast address, or one address for two members — a file with any of these was edited or damaged, and
 * using it would hand out an address twice or drop a member on the next write, so it is refused. The
 * reference does write overlapping subnets (its allocator ignores an explicit smaller subnet), so an
 * overlap read from disk is a warning, kept as found; {@code writeIndex} refuses it.
 */
final class IndexRules {

    private static final Logger LOG = LoggerFactory.getLogger(IndexRules.class);

    private IndexRules() {
    }

    /**
     * Validates a whole index as {@code writeIndex} requires.
     *
     * @throws InvalidNetworkSpecException if a network or member is listed twice, a member's address is not
     *     a free host of its subnet or is held twice
     * @throws SubnetOverlapException if two subnets overlap
     */
    static void validate(NetworkIndex index) {
        check(index, overlap -> {
            throw new SubnetOverlapException(overlap);
        });
    }

    /**
     * Checks an index read from {@code file} and returns it sorted by name, as {@code list()} promises.
     *
     * @throws RegistryCorruptedException if it breaks a rule the Go reference never breaks
     */
    static NetworkIndex checkLoaded(NetworkIndex index, Path file) {
        try {
            check(index, overlap -> LOG.warn("registry index {}: {}; kept as found (the Go reference allocates"
                    + " such subnets), but packets between the two networks may go astray", file, overlap));
        } catch (InvalidNetworkSpecException e) {
            throw new RegistryCorruptedException("registry index " + file + " is corrupt: " + e.getMessage()
                    + "; it was left untouched — correct that entry, or restore the file from a backup");
        }
        return index.sorted();
    }

    private static void check(NetworkIndex index, Consumer<String> onOverlap) {
        Set<String> names = new HashSet<>();
        List<NetworkRecord> networks = index.networks();
        for (int i = 0; i < networks.size(); i++) {
            NetworkRecord n = networks.get(i);
            if (!names.add(n.name())) {
                throw new InvalidNetworkSpecException("the index lists network " + n.name() + " twice");
            }
            for (NetworkRecord other : networks.subList(0, i)) {
                if (other.subnet().overlaps(n.subnet())) {
                    onOverlap.accept("network " + n.name() + " (" + n.subnet() + ") overlaps network " + other.name()
                            + " (" + other.subnet() + ")");
                    break;
                }
            }
            checkMembers(n);
        }
    }

    private static void checkMembers(NetworkRecord n) {
        Set<String> workspaces = new HashSet<>();
        Set<Ipv4Address> addresses = new HashSet<>();
        for (Member m : n.members()) {
            String ws = FileNetworkRegistry.requireWorkspace(m.workspace());
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
