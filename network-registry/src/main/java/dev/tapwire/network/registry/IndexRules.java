package dev.tapwire.network.registry;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.RegistryCorruptedException;
import dev.tapwire.network.spi.RegistryRules;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What an index read from disk must be ({@code writeIndex} applies {@link RegistryRules#validate} directly).
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
     * Checks an index read from {@code file} and returns it sorted by name, as {@code list()} promises.
     *
     * @throws RegistryCorruptedException if it breaks a rule the Go reference never breaks
     */
    static NetworkIndex checkLoaded(NetworkIndex index, Path file) {
        try {
            RegistryRules.check(index, overlap -> LOG.warn("registry index {}: {}; kept as found (the Go reference"
                    + " allocates such subnets), but packets between the two networks may go astray", file, overlap));
        } catch (InvalidNetworkSpecException e) {
            throw new RegistryCorruptedException("registry index " + file + " is corrupt: " + e.getMessage()
                    + "; it was left untouched — correct that entry, or restore the file from a backup");
        }
        return index.sorted();
    }
}
