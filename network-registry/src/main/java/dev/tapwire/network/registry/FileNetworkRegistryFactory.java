package dev.tapwire.network.registry;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.spi.NetworkRegistryFactory;
import dev.tapwire.network.spi.RegistryRules;
import java.net.URI;
import java.nio.file.Path;
import java.util.Map;

/**
 * Opens {@link FileNetworkRegistry file registries} for {@code file:} URIs: {@code file:///var/lib/mymanager} is
 * the registry whose index is {@code /var/lib/mymanager/networks/index.json}. Optional query parameters set the
 * auto-allocation: {@code ?pool=10.44.0.0/16&subnet-prefix=24}.
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
                    + " expected file:///absolute/path[?pool=10.44.0.0/16&subnet-prefix=24]");
        }
        FileNetworkRegistry.Builder builder = FileNetworkRegistry.builder(Path.of(uri.getPath()));
        for (Map.Entry<String, String> p : RegistryRules.parameters(uri, "pool", "subnet-prefix").entrySet()) {
            if (p.getKey().equals("pool")) {
                builder.subnetPool(Ipv4Subnet.parse(p.getValue()));
            } else {
                builder.subnetPrefix(RegistryRules.subnetPrefix(uri, p.getValue()));
            }
        }
        return builder.build();
    }
}
