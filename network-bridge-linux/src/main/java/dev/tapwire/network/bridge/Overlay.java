package dev.tapwire.network.bridge;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.DeviceOperationException.Reason;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkNames;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.bridge.linux.raw.Linux;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The overlay of one owner's networks: per realized network a {@code vxlan} device, a port of the network's bridge,
 * that carries frames for members on other hosts to those hosts' tunnel endpoints (VTEPs) — with the kernel alone,
 * no learning and no flooding. Per network:
 * <ul>
 *   <li>{@link #ensure} makes the device: the network's VNI, this host's underlay address as the local end, UDP port
 *       {@value #VXLAN_PORT} set explicitly (the kernel's default is 8472), learning off, {@code proxy} on (an ARP
 *       request for a remote member is answered from the device's neighbour table instead of crossing the tunnel),
 *       UDP checksums on; the MTU the caller gives ({@link #mtuOver}); on the bridge with learning and unicast
 *       flooding off, and isolated when the network's guest ports are. VNI, port, local address and checksum cannot be
 *       changed on a live device: a device that differs is deleted and made again, not patched.</li>
 *   <li>{@link #sync} makes the device's entries exactly those the remote members imply: per remote member its MAC
 *       pointing at its host's VTEP in the device's own forwarding database ({@code NTF_SELF}, permanent, created
 *       with replace semantics so that a learned or stale entry never fails the add — moby#53663), a permanent
 *       neighbour entry (its IP to its MAC) for the proxy, and a static entry in the bridge's forwarding database that
 *       sends frames for the MAC to the device (the port's unicast flooding is off). There is never an all-zeros
 *       entry: broadcast and unknown unicast do not cross hosts. It reads what the kernel has and applies the
 *       difference in one pipelined netlink stream.</li>
 *   <li>{@link #remove} deletes the device (its entries go with it).</li>
 * </ul>
 * A device is recognised as this owner's by its alias, {@code tapwire-overlay:<owner>:<network>}; a device of the
 * name that is not this owner's is never touched. Works in the network namespace of the calling thread. Public for
 * the benchmarks; the realizer composes it.
 */
public final class Overlay {

    /** The IANA VXLAN port; set explicitly, since the kernel's default (8472) is Linux's pre-standard one. */
    public static final int VXLAN_PORT = 4789;
    /** What VXLAN over IPv4 costs of the underlay MTU: outer Ethernet 14, IPv4 20, UDP 8, VXLAN 8. */
    public static final int IPV4_OVERHEAD = 50;
    /** The alias prefix that marks a vxlan device as tapwire's; owner tag and network follow. */
    public static final String ALIAS_PREFIX = "tapwire-overlay:";
    /** The smallest MTU an IPv4 network may have (RFC 791). */
    private static final int MIN_MTU = 576 + IPV4_OVERHEAD;
    private static final int MAX_VNI = (1 << 24) - 1;
    private static final Pattern OWNER = Pattern.compile("[a-z0-9]{1,32}");

    private static final Logger LOG = LoggerFactory.getLogger(Overlay.class);

    private final String owner;

    /**
     * A member on another host, as this host's overlay must reach it.
     *
     * @param mac the member's (guest's) MAC
     * @param ip the member's address on the network
     * @param vtep the tunnel endpoint (underlay address) of the host it is on
     */
    public record Remote(MacAddress mac, Ipv4Address ip, Ipv4Address vtep) {

        /**
         * Checks the fields.
         *
         * @param mac the member's (guest's) MAC
         * @param ip the member's address on the network
         * @param vtep the tunnel endpoint (underlay address) of the host it is on
         * @throws InvalidNetworkSpecException if one is null or the MAC is not a unicast one
         */
        public Remote {
            if (mac == null || ip == null || vtep == null) {
                throw new InvalidNetworkSpecException("a remote member needs a MAC, an address and its host's VTEP; got"
                        + " MAC " + mac + ", address " + ip + ", VTEP " + vtep);
            }
            if (!mac.isUnicast()) {
                throw new InvalidNetworkSpecException("a remote member's MAC must be unicast; " + mac
                        + " (of " + ip + ") is a multicast address");
            }
        }
    }

    /**
     * What a network's vxlan device must be.
     *
     * @param network the network name
     * @param bridge the network's bridge, whose port the device is
     * @param vni the VXLAN network identifier, 1 to 16777215, unique fleet-wide to the network
     * @param local this host's underlay address (its VTEP)
     * @param mtu the device's MTU: the underlay's minus {@value #IPV4_OVERHEAD} ({@link #mtuOver})
     * @param isolated whether the device is an isolated bridge port (as the network's guest ports are)
     */
    public record Tunnel(String network, String bridge, int vni, Ipv4Address local, int mtu, boolean isolated) {

        /**
         * Checks the fields.
         *
         * @param network the network name
         * @param bridge the network's bridge, whose port the device is
         * @param vni the VXLAN network identifier, 1 to 16777215, unique fleet-wide to the network
         * @param local this host's underlay address (its VTEP)
         * @param mtu the device's MTU: the underlay's minus {@value #IPV4_OVERHEAD} ({@link #mtuOver})
         * @param isolated whether the device is an isolated bridge port (as the network's guest ports are)
         * @throws InvalidNetworkSpecException for an invalid network name, a missing bridge or address, a VNI out of
         *     range or an MTU below 626 (576 plus the VXLAN overhead) or above 65535
         */
        public Tunnel {
            if (!NetworkNames.isValid(network)) {
                throw new InvalidNetworkSpecException("invalid network name \"" + network + "\" for an overlay");
            }
            if (bridge == null || bridge.isEmpty() || bridge.length() > 15) {
                throw new InvalidNetworkSpecException("the overlay of " + network + " needs its bridge's name (1-15 "
                        + "bytes); got " + (bridge == null ? "null" : "\"" + bridge + "\""));
            }
            if (vni < 1 || vni > MAX_VNI) {
                throw new InvalidNetworkSpecException("a VNI is 1 to " + MAX_VNI + "; got " + vni + " for " + network);
            }
            if (local == null) {
                throw new InvalidNetworkSpecException("the overlay of " + network + " needs this host's underlay "
                        + "address");
            }
            if (mtu < MIN_MTU - IPV4_OVERHEAD || mtu > 65535) {
                throw new InvalidNetworkSpecException("an overlay MTU is " + (MIN_MTU - IPV4_OVERHEAD) + " to 65535; got "
                        + mtu + " for " + network);
            }
        }
    }

    /**
     * The overlay of one owner, in the calling thread's network namespace; does nothing until first used.
     *
     * @param ownerTag the tag the realizer derives from its state directory: 1-32 of {@code a-z0-9}
     * @throws InvalidNetworkSpecException if the tag is not of that form
     */
    public Overlay(String ownerTag) {
        if (ownerTag == null || !OWNER.matcher(ownerTag).matches()) {
            throw new InvalidNetworkSpecException("an overlay owner tag is 1-32 characters of a-z and 0-9; got "
                    + (ownerTag == null ? "null" : "\"" + ownerTag + "\""));
        }
        this.owner = ownerTag;
    }

    /**
     * Returns the name of a network's vxlan device: its bridge's name ({@link NetworkNames#bridgeName}) with
     * {@code tx} for {@code tw} — {@code tx-<name>}, or {@code tx_} and 12 hex digits of a hash for a long name —,
     * within 15 bytes.
     *
     * @param network the network name
     * @return the device name
     * @throws InvalidNetworkSpecException for an invalid network name
     */
    public static String deviceName(String network) {
        return "tx" + NetworkNames.bridgeName(network).substring(2);
    }

    /**
     * Returns the MTU the overlay's devices (bridge, TAPs, guests, vxlan) get over an underlay of this MTU.
     *
     * @param underlayMtu the MTU of the device holding the underlay address
     * @return {@code underlayMtu} minus {@value #IPV4_OVERHEAD}
     * @throws InvalidNetworkSpecException if that leaves less than IPv4's minimum of 576
     */
    public static int mtuOver(int underlayMtu) {
        if (underlayMtu < MIN_MTU) {
            throw new InvalidNetworkSpecException("an underlay MTU of " + underlayMtu + " leaves less than 576 bytes "
                    + "for IPv4 over VXLAN; an underlay of at least " + MIN_MTU + " is needed");
        }
        return underlayMtu - IPV4_OVERHEAD;
    }

    /**
     * Returns the MTU of the device holding the underlay address, in the calling thread's namespace.
     *
     * @param underlay this host's underlay address
     * @return that device's MTU
     * @throws DeviceOperationException {@code ENODEV} when no device holds the address, or on a netlink failure
     */
    public static int underlayMtu(Ipv4Address underlay) {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            String wanted = underlay.toString();
            Optional<Integer> index = netlink.ipv4Addresses().stream().filter(a -> a.address().equals(wanted))
                    .map(Rtnetlink.Address::index).findFirst();
            if (index.isEmpty()) {
                throw DeviceOperationException.of("underlay MTU", null, Reason.NO_SUCH_DEVICE, "no device of this "
                        + "network namespace holds the underlay address " + underlay + " (is --underlay right?)");
            }
            return netlink.links().stream().filter(l -> l.index() == index.get()).map(Link::mtu).findFirst()
                    .orElseThrow(() -> DeviceOperationException.of("underlay MTU", null, Reason.NO_SUCH_DEVICE,
                            "the device holding " + underlay + " disappeared while it was looked up"));
        }
    }

    private String alias(String network) {
        return ALIAS_PREFIX + owner + ":" + network;
    }

    /**
     * Makes the network's vxlan device what {@code tunnel} says — created, or re-created when its VNI, port, local
     * address, checksum, learning or proxy setting differs (entries are lost with it: {@link #sync} afterwards) —, up,
     * with the MTU, on the bridge with learning and unicast flooding off and the isolation given. Idempotent.
     *
     * @param tunnel what the device must be
     * @return the device's name
     * @throws DeviceOperationException {@code EEXIST} when a device of the name is not this owner's vxlan device,
     *     {@code ENODEV} when the bridge is missing, or on any other netlink failure
     */
    public String ensure(Tunnel tunnel) {
        String name = deviceName(tunnel.network());
        try (Rtnetlink netlink = Rtnetlink.open()) {
            Link bridge = netlink.link(tunnel.bridge()).filter(Link::isBridge).orElseThrow(() ->
                    DeviceOperationException.of("overlay", tunnel.bridge(), Reason.NO_SUCH_DEVICE, "the bridge of "
                            + tunnel.network() + " is missing; realize the network before its overlay"));
            Optional<Link> existing = netlink.link(name);
            if (existing.isPresent()) {
                Link link = existing.get();
                requireOurs(link, tunnel.network());
                Optional<String> differs = difference(link, tunnel);
                if (differs.isPresent()) {
                    LOG.warn("overlay of {}: {} has {}; re-creating it (its entries are programmed again)",
                            tunnel.network(), name, differs.get());
                    netlink.execute(List.of(Rtnetlink.deleteLink(link.index(), name)));
                    existing = Optional.empty();
                }
            }
            if (existing.isEmpty()) {
                netlink.execute(List.of(Rtnetlink.createVxlan(name, tunnel.vni(), tunnel.local(), VXLAN_PORT, false,
                        true, true, tunnel.mtu())));
                LOG.debug("overlay of {}: created {} (VNI {}, local {}, port {})", tunnel.network(), name, tunnel.vni(),
                        tunnel.local(), VXLAN_PORT);
            }
            Link link = netlink.link(name).orElseThrow(() -> DeviceOperationException.of("overlay", name,
                    Reason.NO_SUCH_DEVICE, "the vxlan device disappeared right after it was made"));
            List<Rtnetlink.Request> setup = new ArrayList<>();
            if (!link.alias().equals(alias(tunnel.network()))) {
                setup.add(Rtnetlink.setAlias(link.index(), name, alias(tunnel.network())));
            }
            if (link.mtu() != tunnel.mtu() || !link.isUp() || link.masterIndex() != bridge.index()) {
                setup.add(Rtnetlink.bringUpOnBridge(link.index(), name, tunnel.mtu(), bridge.index()));
            }
            // learning off (a frame from the tunnel never teaches the bridge), no unknown unicast into the tunnel:
            // frames for remote members go there by their static entries; broadcast reaches the device, whose
            // proxy answers ARP and which drops the rest (no all-zeros entry)
            setup.add(Rtnetlink.setPortFlags(link.index(), name, false, false, tunnel.isolated()));
            netlink.execute(setup);
            return name;
        }
    }

    /** What about a device differs from the tunnel in settings that need a re-creation, or empty. */
    private static Optional<String> difference(Link link, Tunnel tunnel) {
        Optional<Link.VxlanInfo> info = link.vxlan();
        if (info.isEmpty()) {
            return Optional.of("no vxlan settings");
        }
        Link.VxlanInfo v = info.get();
        List<String> differs = new ArrayList<>();
        if (v.vni() != tunnel.vni()) {
            differs.add("VNI " + v.vni() + " instead of " + tunnel.vni());
        }
        if (v.port() != VXLAN_PORT) {
            differs.add("UDP port " + v.port() + " instead of " + VXLAN_PORT);
        }
        if (!tunnel.local().equals(v.local())) {
            differs.add("local address " + v.local() + " instead of " + tunnel.local());
        }
        if (!v.udpChecksum()) {
            differs.add("UDP checksums off");
        }
        if (v.learning()) {
            differs.add("learning on");
        }
        if (!v.proxy()) {
            differs.add("ARP proxy off");
        }
        return differs.isEmpty() ? Optional.empty() : Optional.of(String.join(", ", differs));
    }

    /** Refuses a device of the overlay's name that is not this owner's vxlan device of this network. */
    private void requireOurs(Link link, String network) {
        boolean ours = link.isVxlan() && (link.alias().equals(alias(network))
                || link.alias().isEmpty()); // made by an ensure that died before it set the alias
        if (!ours) {
            throw DeviceOperationException.of("overlay", link.name(), Reason.ALREADY_EXISTS, "a device of the overlay's"
                    + " name exists and is not this owner's vxlan device for " + network + " (kind \"" + link.kind()
                    + "\", alias \"" + DisplayText.escape(link.alias()) + "\"); it is left alone");
        }
    }

    /**
     * Makes the entries of the network's vxlan device exactly those the remote members imply (see the class
     * description): reads the device's forwarding entries, its bridge's entries on it and its neighbours, and
     * applies the difference — entries no remote member explains are removed (a stale VTEP, a learned entry, an
     * all-zeros entry, a member that left), missing or different ones are written — in one pipelined netlink stream.
     *
     * @param network the network
     * @param remotes the network's members on other hosts
     * @return what was changed, empty when the kernel had it already
     * @throws InvalidNetworkSpecException if a remote is null, or two remotes share a MAC or an address
     * @throws DeviceOperationException {@code ENODEV} when the network has no vxlan device of this owner
     *     ({@link #ensure} first), or on a netlink failure
     */
    public List<String> sync(String network, Collection<Remote> remotes) {
        String name = deviceName(network);
        Map<MacAddress, Remote> byMac = wanted(network, remotes);
        try (Rtnetlink netlink = Rtnetlink.open()) {
            Link link = netlink.link(name).orElseThrow(() -> DeviceOperationException.of("overlay sync", name,
                    Reason.NO_SUCH_DEVICE, "the overlay of " + network + " has no vxlan device; ensure it first"));
            requireOurs(link, network);
            int index = link.index();
            Map<MacAddress, Set<Ipv4Address>> vteps = new HashMap<>();
            Map<MacAddress, Boolean> permanent = new HashMap<>();
            Map<MacAddress, Boolean> bridged = new HashMap<>(); // MAC → static (true) or learned (false) on the port
            for (Rtnetlink.Neighbour n : netlink.neighbours(Linux.AF_BRIDGE, index)) {
                if (n.mac() == null) {
                    continue;
                }
                if (n.master() == 0) {
                    vteps.computeIfAbsent(n.mac(), m -> new TreeSet<>());
                    if (n.destination() != null) {
                        vteps.get(n.mac()).add(n.destination());
                    }
                    permanent.merge(n.mac(), n.isPermanent(), Boolean::logicalAnd);
                } else if (n.master() == link.masterIndex() && !n.isPermanent()) { // permanent: the port's own MAC
                    bridged.put(n.mac(), n.isStatic());
                }
            }
            Map<Ipv4Address, Rtnetlink.Neighbour> neighbours = new HashMap<>();
            for (Rtnetlink.Neighbour n : netlink.neighbours(Linux.AF_INET, index)) {
                if (n.destination() != null) {
                    neighbours.put(n.destination(), n);
                }
            }
            List<Rtnetlink.Request> deletes = new ArrayList<>();
            List<Rtnetlink.Request> writes = new ArrayList<>();
            List<String> changes = new ArrayList<>();
            vteps.forEach((mac, have) -> {
                Remote want = byMac.get(mac);
                if (want == null) {
                    deletes.add(Rtnetlink.deleteVxlanFdb(index, name, mac));
                    changes.add("forwarding entry " + mac + " -> " + have + " explained by no remote member: removed");
                } else if (have.size() > 1) {
                    deletes.add(Rtnetlink.deleteVxlanFdb(index, name, mac)); // replace rewrites only the first remote
                }
            });
            bridged.forEach((mac, isStatic) -> {
                if (!byMac.containsKey(mac)) {
                    deletes.add(Rtnetlink.deleteBridgeFdb(index, name, mac));
                    changes.add("bridge entry " + mac + " on " + name + " explained by no remote member: removed");
                }
            });
            Set<Ipv4Address> addresses = new TreeSet<>();
            byMac.values().forEach(r -> addresses.add(r.ip()));
            neighbours.forEach((ip, n) -> {
                if (!addresses.contains(ip)) {
                    deletes.add(Rtnetlink.deleteNeighbour(index, name, ip));
                    changes.add("neighbour " + ip + " explained by no remote member: removed");
                }
            });
            for (Remote r : byMac.values()) {
                Set<Ipv4Address> have = vteps.getOrDefault(r.mac(), Set.of());
                if (!have.equals(Set.of(r.vtep())) || !permanent.getOrDefault(r.mac(), false)) {
                    writes.add(Rtnetlink.replaceVxlanFdb(index, name, r.mac(), r.vtep()));
                    changes.add("forwarding entry " + r.mac() + " -> " + r.vtep() + (have.isEmpty() ? ": added"
                            : " (was " + have + (permanent.getOrDefault(r.mac(), false) ? "" : ", not permanent")
                                    + "): replaced"));
                }
                if (!bridged.getOrDefault(r.mac(), false)) {
                    writes.add(Rtnetlink.addStaticFdb(index, name, r.mac()));
                    changes.add("bridge entry " + r.mac() + " on " + name + ": added");
                }
                Rtnetlink.Neighbour n = neighbours.get(r.ip());
                if (n == null || !n.isPermanent() || !r.mac().equals(n.mac())) {
                    writes.add(Rtnetlink.replaceNeighbour(index, name, r.ip(), r.mac()));
                    changes.add("neighbour " + r.ip() + " -> " + r.mac() + (n == null ? ": added" : ": replaced"));
                }
            }
            List<Rtnetlink.Request> all = new ArrayList<>(deletes);
            all.addAll(writes);
            if (!all.isEmpty()) {
                netlink.executeStream(all);
                LOG.debug("overlay of {}: {} netlink requests: {}", network, all.size(), changes.size() > 20
                        ? changes.size() + " changes" : String.join("; ", changes));
            }
            return changes;
        }
    }

    /** The remotes by MAC, refusing two that share a MAC or an address. */
    private static Map<MacAddress, Remote> wanted(String network, Collection<Remote> remotes) {
        if (remotes == null) {
            throw new InvalidNetworkSpecException("the remote members of " + network + " are missing (null)");
        }
        Map<MacAddress, Remote> byMac = new LinkedHashMap<>();
        Map<Ipv4Address, Remote> byIp = new TreeMap<>();
        for (Remote r : remotes) {
            if (r == null) {
                throw new InvalidNetworkSpecException("a remote member of " + network + " is null");
            }
            Remote other = byMac.putIfAbsent(r.mac(), r);
            if (other != null && !other.equals(r)) {
                throw new InvalidNetworkSpecException("remote members " + other.ip() + " and " + r.ip() + " of "
                        + network + " share the MAC " + r.mac() + "; a MAC belongs to one member");
            }
            other = byIp.putIfAbsent(r.ip(), r);
            if (other != null && !other.equals(r)) {
                throw new InvalidNetworkSpecException("remote members " + other.mac() + " and " + r.mac() + " of "
                        + network + " share the address " + r.ip() + "; an address belongs to one member");
            }
        }
        return byMac;
    }

    /**
     * Deletes the network's vxlan device, with its entries; a missing device is fine, a device of the name that is
     * not this owner's is left alone.
     *
     * @param network the network
     * @return whether a device was deleted
     * @throws DeviceOperationException {@code EEXIST} when the device of the name is not this owner's, or on a
     *     netlink failure
     */
    public boolean remove(String network) {
        String name = deviceName(network);
        try (Rtnetlink netlink = Rtnetlink.open()) {
            Optional<Link> link = netlink.link(name);
            if (link.isEmpty()) {
                return false;
            }
            requireOurs(link.get(), network);
            netlink.execute(List.of(Rtnetlink.deleteLink(link.get().index(), name)));
            LOG.debug("overlay of {}: deleted {}", network, name);
            return true;
        }
    }

    /**
     * The networks that have a vxlan device of this owner here, as their aliases say: what a cleanup compares with the
     * networks that should have one (a device whose network is gone is {@linkplain #remove removed} by name).
     *
     * @return the network names, sorted
     * @throws DeviceOperationException on a netlink failure
     */
    public Set<String> networks() {
        String prefix = ALIAS_PREFIX + owner + ":";
        Set<String> networks = new TreeSet<>();
        try (Rtnetlink netlink = Rtnetlink.open()) {
            for (Link l : netlink.links()) {
                if (l.isVxlan() && l.alias().startsWith(prefix)) {
                    String network = l.alias().substring(prefix.length());
                    if (NetworkNames.isValid(network) && l.name().equals(deviceName(network))) {
                        networks.add(network);
                    }
                }
            }
        }
        return networks;
    }

    /**
     * The network's vxlan device as the kernel has it, if it is this owner's.
     *
     * @param network the network
     * @return the device, empty when there is none or it is not this owner's
     * @throws DeviceOperationException on a netlink failure
     */
    public Optional<Link> device(String network) {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            return netlink.link(deviceName(network)).filter(l -> l.isVxlan() && l.alias().equals(alias(network)));
        }
    }
}
