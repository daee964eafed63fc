package dev.tapwire.network.bridge;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.NetworkNames;

/**
 * How a named network is realized on this host: its bridge (holding the gateway address), its subnet,
 * whether its traffic leaving the host is masqueraded, whether its guest ports are port-secured and whether they
 * are isolated from each other.
 *
 * @param network the network name
 * @param bridge the bridge device
 * @param subnet the network's subnet
 * @param gateway the gateway address, on the bridge; dnsmasq listens there
 * @param nat whether traffic leaving the host through other interfaces is masqueraded
 * @param portSecurity whether every guest port on the bridge may send only with its own MAC and address (the
 *     default; a NIC may still turn it off for itself)
 * @param isolated whether guest ports on the bridge are isolated from each other ({@code IFLA_BRPORT_ISOLATED}):
 *     they reach the gateway, never each other
 */
public record Realization(String network, String bridge, Ipv4Subnet subnet, Ipv4Address gateway, boolean nat,
        boolean portSecurity, boolean isolated) {

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

    /**
     * A realization with the default guest-port settings: port security on, ports not isolated.
     *
     * @param network the network name
     * @param bridge the bridge device
     * @param subnet the network's subnet
     * @param gateway the gateway address
     * @param nat whether traffic leaving the host is masqueraded
     * @throws dev.tapwire.network.InvalidNetworkSpecException if the network name is invalid or a field is missing
     */
    public Realization(String network, String bridge, Ipv4Subnet subnet, Ipv4Address gateway, boolean nat) {
        this(network, bridge, subnet, gateway, nat, true, false);
    }
}
