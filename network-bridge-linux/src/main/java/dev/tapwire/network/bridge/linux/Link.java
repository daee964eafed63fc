package dev.tapwire.network.bridge.linux;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.bridge.linux.raw.Linux;
import java.util.Optional;

/**
 * A network interface as an rtnetlink link dump reports it.
 *
 * @param index the ifindex
 * @param name the interface name
 * @param kind the link kind from {@code IFLA_INFO_KIND} ({@code tun}, {@code bridge}, …), or empty for none
 * @param masterIndex the ifindex of its master (the bridge it is a port of), 0 for none
 * @param group the link group
 * @param mtu the MTU
 * @param flags the {@code IFF_*} flags
 * @param txQueueLength the transmit queue length
 * @param alias the interface alias ({@code IFLA_IFALIAS}), or empty
 * @param mac the hardware address, or null when it has none
 * @param tun TUN/TAP details when the link is one
 * @param vxlan VXLAN details when the link is one
 */
public record Link(int index, String name, String kind, int masterIndex, int group, int mtu, int flags,
        int txQueueLength, String alias, MacAddress mac, Optional<TunInfo> tun, Optional<VxlanInfo> vxlan) {

    /**
     * Tells whether the link is administratively up.
     *
     * @return true when {@code IFF_UP} is set
     */
    public boolean isUp() {
        return (flags & Linux.IFF_UP) != 0;
    }

    /**
     * Tells whether the link is a TUN or TAP device.
     *
     * @return true for kind {@code tun}
     */
    public boolean isTun() {
        return "tun".equals(kind);
    }

    /**
     * Tells whether the link is a TAP (layer 2), as opposed to a TUN (layer 3) or any other device.
     *
     * @return true for kind {@code tun} whose TUN/TAP details say TAP
     */
    public boolean isTap() {
        return isTun() && tun.map(TunInfo::tap).orElse(false);
    }

    /**
     * Tells whether the link is a Linux bridge.
     *
     * @return true for kind {@code bridge}
     */
    public boolean isBridge() {
        return "bridge".equals(kind);
    }

    /**
     * Tells whether the link is a VXLAN device.
     *
     * @return true for kind {@code vxlan}
     */
    public boolean isVxlan() {
        return "vxlan".equals(kind);
    }

    /**
     * VXLAN settings from {@code IFLA_INFO_DATA}: those fixed at creation (VNI, port, local address, checksum) and
     * the learning and proxy flags.
     *
     * @param vni the VXLAN network identifier
     * @param local the source address of encapsulated packets, or null when none is set
     * @param port the UDP destination port
     * @param learning whether the device learns remote MACs from what it receives
     * @param proxy whether it answers ARP requests from its neighbour table
     * @param udpChecksum whether encapsulated IPv4 packets carry a UDP checksum
     */
    public record VxlanInfo(int vni, Ipv4Address local, int port, boolean learning, boolean proxy,
            boolean udpChecksum) {
    }

    /**
     * TUN/TAP settings from {@code IFLA_INFO_DATA}.
     *
     * @param owner the owning uid, or -1 when none is set
     * @param group the owning gid, or -1 when none is set
     * @param tap true for a TAP (layer 2), false for a TUN
     * @param packetInfo whether frames carry the packet-information header (false with {@code IFF_NO_PI})
     * @param vnetHdr whether {@code IFF_VNET_HDR} is set
     * @param persist whether the device is persistent
     * @param multiQueue whether {@code IFF_MULTI_QUEUE} is set
     * @param numQueues how many queues are attached now
     */
    public record TunInfo(int owner, int group, boolean tap, boolean packetInfo, boolean vnetHdr, boolean persist,
            boolean multiQueue, int numQueues) {
    }
}
