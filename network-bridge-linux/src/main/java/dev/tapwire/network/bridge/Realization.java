package dev.tapwire.network.bridge;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.NetworkNames;

/**
 * How a named network is realized on this host: its bridge (holding the gateway address), its subnet and
 * whether its traffic leaving the host is masqueraded.
 *
 * @param network the network name
 * @param bridge the bridge device
 * @param subnet the network's subnet
 * @param gateway the gateway address, on the bridge; dnsmasq listens there
 * @param nat whether traffic leaving the host through other interfaces is masqueraded
 */
public record Realization(String network, String bridge, Ipv4Subnet subnet, Ipv4Address gateway, boolean nat) {

    /**
     * Validates the record.
     *
     * @throws dev.tapwire.network.InvalidNetworkSpecException if the network name is invalid or a field is missing
     */
    public Realization {
        NetworkNames.requireValid(network);
        if (bridge == null || subnet == null || gateway == null) {
            throw new dev.tapwire.network.InvalidNetworkSpecException("realization of " + network
                    + " needs a bridge, a subnet and a gateway");
        }
    }
}
