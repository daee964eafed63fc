package dev.tapwire.network.bridge;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.NetworkNames;
import java.util.List;
import java.util.TreeSet;

/**
 * How a named network is realized on this host: its bridge (holding the gateway address), its subnet,
 * whether its traffic leaving the host is masqueraded, whether its guest ports are port-secured, whether they
 * are isolated from each other, and which host ports its guests may reach on the gateway.
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
 * @param hostPorts the host ports the guests may reach on the gateway besides DHCP, DNS and ICMP, sorted, no
 *     duplicates (empty by default)
 */
public record Realization(String network, String bridge, Ipv4Subnet subnet, Ipv4Address gateway, boolean nat,
        boolean portSecurity, boolean isolated, List<HostPort> hostPorts) {

    /**
     * Validates the record: the gateway must be a host of the subnet.
     *
     * @throws InvalidNetworkSpecException if the network name is invalid, a field is missing, the bridge name is no
     *     interface name or the gateway is not in the subnet
     */
    public Realization {
        NetworkNames.requireValid(network);
        if (bridge == null || subnet == null || gateway == null || hostPorts == null) {
            throw new InvalidNetworkSpecException("realization of " + network
                    + " needs a bridge, a subnet, a gateway and a host-port list");
        }
        Firewall.requireIfname(bridge);
        if (!subnet.contains(gateway) || gateway.equals(subnet.networkAddress())
                || gateway.equals(subnet.broadcastAddress())) {
            throw new InvalidNetworkSpecException("realization of " + network + ": gateway " + gateway
                    + " is not a host of subnet " + subnet);
        }
        hostPorts = List.copyOf(new TreeSet<>(hostPorts));
    }

    /**
     * A realization without host ports.
     *
     * @param network the network name
     * @param bridge the bridge device
     * @param subnet the network's subnet
     * @param gateway the gateway address
     * @param nat whether traffic leaving the host is masqueraded
     * @param portSecurity whether guest ports are port-secured
     * @param isolated whether guest ports are isolated from each other
     * @throws InvalidNetworkSpecException as the canonical constructor
     */
    public Realization(String network, String bridge, Ipv4Subnet subnet, Ipv4Address gateway, boolean nat,
            boolean portSecurity, boolean isolated) {
        this(network, bridge, subnet, gateway, nat, portSecurity, isolated, List.of());
    }

    /**
     * A realization with the default guest-port settings: port security on, ports not isolated, no host ports.
     *
     * @param network the network name
     * @param bridge the bridge device
     * @param subnet the network's subnet
     * @param gateway the gateway address
     * @param nat whether traffic leaving the host is masqueraded
     * @throws InvalidNetworkSpecException as the canonical constructor
     */
    public Realization(String network, String bridge, Ipv4Subnet subnet, Ipv4Address gateway, boolean nat) {
        this(network, bridge, subnet, gateway, nat, true, false);
    }
}
