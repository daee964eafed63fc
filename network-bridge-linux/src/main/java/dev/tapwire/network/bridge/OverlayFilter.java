package dev.tapwire.network.bridge;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkNames;
import dev.tapwire.network.bridge.linux.Nftables;
import java.util.Collection;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Isolation on the overlay: what may enter a host through the tunnel, and what never leaves through it. Two kinds of
 * nftables tables, each one owner's and each replaced whole in one libnftables transaction on every call (so a call
 * after a flush, a restart or a hand edit leaves exactly what it computes — level-triggered, and never half-applied):
 * <ul>
 *   <li>{@code inet tapwire_overlay_<owner>} ({@link #allowVteps}): VXLAN (UDP {@value Overlay#VXLAN_PORT}) is
 *       accepted on the underlay only from the tunnel endpoints of hosts in the registry; every other packet to that
 *       port (over IPv6 too) is dropped at the {@code input} hook, before the vxlan device sees it;</li>
 *   <li>{@code bridge tapwire_overlay_<owner>_<network>} ({@link #sync}), on the network's vxlan bridge port: a frame
 *       from the tunnel enters only with a remote member's source MAC, to a local member's MAC, as ARP or IPv4, with
 *       ARP sender MAC and IP and IPv4 source being a remote member's pair (so nothing can claim a member's address
 *       across the tunnel); and no frame from or to the gateway's MAC crosses in either direction, so every host's
 *       bridge is the gateway for its own members with the same address and MAC. Checked at the bridge's
 *       {@code prerouting} and {@code input} hooks (before the bridge learns anything, as port security does) and,
 *       towards the tunnel, at {@code forward} and {@code output} (frames the host itself sends).</li>
 * </ul>
 * Works in the network namespace of the calling thread.
 */
final class OverlayFilter {

    private static final Pattern OWNER = Pattern.compile("[a-z0-9]{1,32}");
    private static final Logger LOG = LoggerFactory.getLogger(OverlayFilter.class);

    private final String owner;

    /**
     * What may cross a network's tunnel port.
     *
     * @param gateway the network's gateway MAC (the same on every host), which never crosses
     * @param locals the MACs of the network's members on this host: the only destinations a frame from the tunnel
     *     may have
     * @param remotes the network's members on other hosts: the only sources (MAC, and MAC with address) a frame
     *     from the tunnel may have
     */
    record Policy(MacAddress gateway, Set<MacAddress> locals, Collection<Overlay.Remote> remotes) {

        /**
         * Checks and copies the fields.
         *
         * @throws InvalidNetworkSpecException if one is null or holds null
         */
        Policy {
            if (gateway == null || locals == null || remotes == null
                    || locals.stream().anyMatch(Objects::isNull) || remotes.stream().anyMatch(Objects::isNull)) {
                throw new InvalidNetworkSpecException("an overlay filter policy needs the gateway MAC, the local "
                        + "members' MACs and the remote members, none null; got gateway " + gateway + ", locals "
                        + locals + ", remotes " + remotes);
            }
            locals = Set.copyOf(locals);
            remotes = java.util.List.copyOf(remotes);
        }
    }

    /**
     * The overlay filter of one owner, in the calling thread's network namespace; does nothing until first used.
     *
     * @param ownerTag the tag the realizer derives from its state directory: 1-32 of {@code a-z0-9}
     * @throws InvalidNetworkSpecException if the tag is not of that form
     */
    OverlayFilter(String ownerTag) {
        if (ownerTag == null || !OWNER.matcher(ownerTag).matches()) {
            throw new InvalidNetworkSpecException("an overlay-filter owner tag is 1-32 characters of a-z and 0-9; got "
                    + (ownerTag == null ? "null" : "\"" + ownerTag + "\""));
        }
        this.owner = ownerTag;
    }

    /**
     * The table that guards the underlay's VXLAN port.
     *
     * @return e.g. {@code inet tapwire_overlay_1a2b3c4d}
     */
    String vtepTable() {
        return "inet tapwire_overlay_" + owner;
    }

    /**
     * The table that guards a network's tunnel port.
     *
     * @param network the network
     * @return e.g. {@code bridge tapwire_overlay_1a2b3c4d_team}
     * @throws InvalidNetworkSpecException for an invalid network name
     */
    String portTable(String network) {
        if (!NetworkNames.isValid(network)) {
            throw new InvalidNetworkSpecException("invalid network name \"" + network + "\" for an overlay filter");
        }
        return "bridge tapwire_overlay_" + owner + "_" + network;
    }

    /**
     * Makes VXLAN acceptable on this host from exactly these tunnel endpoints (the live hosts of the registry other
     * than this one); from anyone else it is dropped. An empty set drops all VXLAN.
     *
     * @param vteps the other hosts' underlay addresses
     * @throws InvalidNetworkSpecException if the set is null or holds null
     * @throws dev.tapwire.network.DeviceOperationException if nftables refuses (with its error text)
     */
    void allowVteps(Set<Ipv4Address> vteps) {
        if (vteps == null || vteps.stream().anyMatch(Objects::isNull)) {
            throw new InvalidNetworkSpecException("the tunnel endpoints to accept VXLAN from are a set of IPv4 "
                    + "addresses; got " + vteps);
        }
        String table = vtepTable();
        String text = replace(table, "\tset vteps {\n\t\ttype ipv4_addr\n" + elements(sorted(vteps)) + "\t}\n"
                + "\tchain input {\n"
                + "\t\ttype filter hook input priority filter; policy accept;\n"
                + "\t\tudp dport " + Overlay.VXLAN_PORT + " ip saddr != @vteps drop\n"
                + "\t\tmeta nfproto ipv6 udp dport " + Overlay.VXLAN_PORT + " drop\n"
                + "\t}\n");
        Nftables.run(text);
        LOG.debug("overlay filter {}: VXLAN accepted from {}", table, vteps.isEmpty() ? "nobody" : sorted(vteps));
    }

    /**
     * Makes the network's tunnel-port table exactly what the policy implies (see the class description).
     *
     * @param network the network
     * @param policy its gateway MAC, local members and remote members
     * @throws InvalidNetworkSpecException for an invalid network name or a null policy
     * @throws dev.tapwire.network.DeviceOperationException if nftables refuses (with its error text)
     */
    void sync(String network, Policy policy) {
        String table = portTable(network);
        if (policy == null) {
            throw new InvalidNetworkSpecException("the overlay filter of " + network + " needs a policy");
        }
        String port = "\"" + Overlay.deviceName(network) + "\"";
        String gw = policy.gateway().toString();
        Set<String> remoteMacs = new TreeSet<>();
        Set<String> remotePairs = new TreeSet<>();
        for (Overlay.Remote r : policy.remotes()) {
            remoteMacs.add(r.mac().toString());
            remotePairs.add(r.mac() + " . " + r.ip());
        }
        String text = replace(table, ""
                + "\tset remote_macs {\n\t\ttype ether_addr\n" + elements(remoteMacs) + "\t}\n\n"
                + "\tset remote_addrs {\n\t\ttype ether_addr . ipv4_addr\n" + elements(remotePairs) + "\t}\n\n"
                + "\tset locals {\n\t\ttype ether_addr\n" + elements(sorted(policy.locals())) + "\t}\n\n"
                + "\tchain prerouting {\n\t\ttype filter hook prerouting priority filter; policy accept;\n"
                + "\t\tiifname " + port + " jump from_tunnel\n\t}\n\n"
                + "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n"
                + "\t\tiifname " + port + " jump from_tunnel\n\t}\n\n"
                + "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n"
                + "\t\toifname " + port + " jump to_tunnel\n\t}\n\n"
                + "\tchain output {\n\t\ttype filter hook output priority filter; policy accept;\n"
                + "\t\toifname " + port + " jump to_tunnel\n\t}\n\n"
                + "\tchain from_tunnel {\n"
                + "\t\tether saddr " + gw + " drop\n"
                + "\t\tether daddr " + gw + " drop\n"
                + "\t\tether saddr != @remote_macs drop\n"
                + "\t\tether daddr != @locals drop\n"
                + "\t\tether type != { ip, arp } drop\n"
                + "\t\tarp saddr ether . arp saddr ip != @remote_addrs drop\n"
                + "\t\tether saddr . ip saddr != @remote_addrs drop\n"
                + "\t}\n\n"
                + "\tchain to_tunnel {\n"
                + "\t\tether saddr " + gw + " drop\n"
                + "\t\tether daddr " + gw + " drop\n"
                + "\t}\n");
        Nftables.run(text);
        LOG.debug("overlay filter {}: {} remote members, {} local", table, remoteMacs.size(), policy.locals().size());
    }

    /**
     * Deletes the network's tunnel-port table; a missing one is fine.
     *
     * @param network the network
     * @throws InvalidNetworkSpecException for an invalid network name
     * @throws dev.tapwire.network.DeviceOperationException if nftables refuses
     */
    void remove(String network) {
        drop(portTable(network));
    }

    /**
     * Deletes the VTEP table (this host leaves the overlay); a missing one is fine.
     *
     * @throws dev.tapwire.network.DeviceOperationException if nftables refuses
     */
    void removeVteps() {
        drop(vtepTable());
    }

    private static void drop(String table) {
        // "add" first makes the delete safe when the table is missing; both are one transaction
        Nftables.run("add table " + table + "\ndelete table " + table + "\n");
        LOG.debug("deleted {}", table);
    }

    /** One transaction that replaces the table, whatever it held, with this body. */
    private static String replace(String table, String body) {
        return "add table " + table + "\ndelete table " + table + "\ntable " + table + " {\n" + body + "}\n";
    }

    private static String elements(Set<String> elements) {
        return elements.isEmpty() ? "" : "\t\telements = { " + String.join(", ", elements) + " }\n";
    }

    private static Set<String> sorted(Collection<?> values) {
        return values.stream().map(Object::toString).collect(Collectors.toCollection(TreeSet::new));
    }
}
