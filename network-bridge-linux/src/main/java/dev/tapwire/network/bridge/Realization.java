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
 * are isolated from each other, which host ports its guests may reach on the gateway, its MTU, and whether it
 * spans hosts (an overlay).
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
 * @param mtu the MTU of the bridge and of every guest TAP on it, and the one DHCP gives guests (option 26),
 *     {@value #MIN_MTU}–{@value #MAX_MTU}; {@value #DEFAULT_MTU} by default
 * @param overlay whether the network spans hosts here: its bridge then carries the fleet-wide gateway MAC
 *     ({@link dev.tapwire.network.MacAddress#forGateway}) instead of this state directory's own, and its MTU leaves
 *     room for the VXLAN header ({@link #VXLAN_OVERHEAD} bytes below the underlay's)
 */
public record Realization(String network, String bridge, Ipv4Subnet subnet, Ipv4Address gateway, boolean nat,
        boolean portSecurity, boolean isolated, List<HostPort> hostPorts, int mtu, boolean overlay) {

    /** What VXLAN over IPv4 costs of the underlay's MTU: outer IPv4 (20), UDP (8), VXLAN (8) and Ethernet (14). */
    public static final int VXLAN_OVERHEAD = 50;
    /** The lowest MTU of a network across hosts: what every IPv4 host must take in one piece (RFC 791). */
    public static final int MIN_OVERLAY_MTU = 576;

    /** The MTU of a network realized without one: Ethernet's. */
    public static final int DEFAULT_MTU = 1500;
    /** The lowest MTU accepted: the least an IPv4 host must take (RFC 791). */
    public static final int MIN_MTU = 68;
    /** The highest MTU accepted: the largest the kernel's bridge and TAP take. */
    public static final int MAX_MTU = 65535;

    /**
     * Validates the record: the gateway must be a host of the subnet.
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
     * @param mtu the MTU of the bridge and of every guest TAP on it, and the one DHCP gives guests (option 26),
     *     {@value #MIN_MTU}–{@value #MAX_MTU}; {@value #DEFAULT_MTU} by default
     * @param overlay whether the network spans hosts here: its bridge then carries the fleet-wide gateway MAC ({@link
     *     dev.tapwire.network.MacAddress#forGateway}) instead of this state directory's own, and its MTU leaves room
     *     for the VXLAN header ({@link #VXLAN_OVERHEAD} bytes below the underlay's)
     * @throws InvalidNetworkSpecException if the network name is invalid, a field is missing, the bridge name is no
     *     interface name, the gateway is not in the subnet or the MTU is out of range
     */
    public Realization {
        requireMtu(mtu);
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
     * A realization on this host only (no overlay).
     *
     * @param network the network name
     * @param bridge the bridge device
     * @param subnet the network's subnet
     * @param gateway the gateway address
     * @param nat whether traffic leaving the host is masqueraded
     * @param portSecurity whether guest ports are port-secured
     * @param isolated whether guest ports are isolated from each other
     * @param hostPorts the host ports the guests may reach on the gateway
     * @param mtu the MTU of the bridge, its guest TAPs and its guests
     * @throws InvalidNetworkSpecException as the canonical constructor
     */
    public Realization(String network, String bridge, Ipv4Subnet subnet, Ipv4Address gateway, boolean nat,
            boolean portSecurity, boolean isolated, List<HostPort> hostPorts, int mtu) {
        this(network, bridge, subnet, gateway, nat, portSecurity, isolated, hostPorts, mtu, false);
    }

    /**
     * A realization with the default MTU.
     *
     * @param network the network name
     * @param bridge the bridge device
     * @param subnet the network's subnet
     * @param gateway the gateway address
     * @param nat whether traffic leaving the host is masqueraded
     * @param portSecurity whether guest ports are port-secured
     * @param isolated whether guest ports are isolated from each other
     * @param hostPorts the host ports the guests may reach on the gateway
     * @throws InvalidNetworkSpecException as the canonical constructor
     */
    public Realization(String network, String bridge, Ipv4Subnet subnet, Ipv4Address gateway, boolean nat,
            boolean portSecurity, boolean isolated, List<HostPort> hostPorts) {
        this(network, bridge, subnet, gateway, nat, portSecurity, isolated, hostPorts, DEFAULT_MTU);
    }

    /**
     * Checks an MTU a network is to be realized with.
     *
     * @param mtu the MTU
     * @return the MTU
     * @throws InvalidNetworkSpecException if it is outside {@value #MIN_MTU}–{@value #MAX_MTU}
     */
    static int requireMtu(int mtu) {
        if (mtu < MIN_MTU || mtu > MAX_MTU) {
            throw new InvalidNetworkSpecException("MTU " + mtu + " is out of range: a network's MTU is " + MIN_MTU
                    + "–" + MAX_MTU + " (" + DEFAULT_MTU + " for Ethernet)");
        }
        return mtu;
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
