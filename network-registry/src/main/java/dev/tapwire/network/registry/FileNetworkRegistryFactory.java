package dev.tapwire.network.registry;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.spi.NetworkRegistryFactory;
import java.net.URI;
import java.nio.file.Path;

/**
 * Opens {@link FileNetworkRegistry file registries} for {@code file:} URIs: {@code file:///var/lib/mymanager} is
 * the registry whose index is {@code /var/lib/mymanager/networks/index.json}. Optional query parameters set the
 * auto-allocation: {@code ?pool=10.44.0.0/16&prefix=24}.
 */
public final class FileNetworkRegistryFactory implements NetworkRegistryFactory {

    /** Creates the factory; {@link java.util.ServiceLoader} does this. */
    public FileNetworkRegistryFactory() {
    }

    /** Returns {@code file}. */
    @Override
    public String scheme() {
        return "file";
    }

    /**
     * Opens the file registry under the URI's path.
     *
     * @throws InvalidNetworkSpecException if the URI is not an absolute {@code file:} path on this host, or a
     *     query parameter is unknown or invalid
     */
    @Override
    public NetworkRegistry open(URI uri) {
        if (!"file".equalsIgnoreCase(uri.getScheme()) || uri.getPath() == null || uri.getPath().isEmpty()
                || (uri.getAuthority() != null && !uri.getAuthority().isEmpty() && !"localhost".equals(uri.getAuthority()))) {
            throw new InvalidNetworkSpecException("registry URI \"" + uri + "\" is not a local state directory;"
                    + " expected file:///absolute/path[?pool=10.44.0.0/16&prefix=24]");
        }
        FileNetworkRegistry.Builder builder = FileNetworkRegistry.builder(Path.of(uri.getPath()));
        String query = uri.getQuery();
        if (query != null && !query.isEmpty()) {
            for (String pair : query.split("&")) {
                int eq = pair.indexOf('=');
                String key = eq < 0 ? pair : pair.substring(0, eq);
                String value = eq < 0 ? "" : pair.substring(eq + 1);
                switch (key) {
                    case "pool" -> builder.subnetPool(Ipv4Subnet.parse(value));
                    case "prefix" -> builder.subnetPrefix(prefix(value, uri));
                    default -> throw new InvalidNetworkSpecException("registry URI \"" + uri + "\" has the unknown"
                            + " parameter \"" + key + "\"; accepted: pool (e.g. 10.44.0.0/16), prefix (e.g. 24)");
                }
            }
        }
        return builder.build();
    }

    private static int prefix(String value, URI uri) {
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new InvalidNetworkSpecException("registry URI \"" + uri + "\": prefix \"" + value
                    + "\" is not a number; expected e.g. prefix=24", e);
        }
    }
}
