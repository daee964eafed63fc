package dev.tapwire.network.bridge;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.bridge.linux.Nftables;
import java.nio.file.Files;
import java.nio.file.Path;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One owner's (state directory's) nftables table, {@code inet tapwire_<owner>}, derived from every network the owner
 * has realized and replaced as a whole in one transaction; no other table is ever touched. The host side of the
 * networks:
 * <ul>
 *   <li>input: from a tapwire bridge the host accepts only replies to its own connections (ct state
 *       established/related), DHCP (UDP 67 to the gateway or a broadcast address), DNS (UDP/TCP 53) and ICMP to
 *       the network's own gateway, and the TCP/UDP ports of the network's host-port allow-list on the gateway;
 *       everything else, IPv6 included, is dropped — the host's other addresses, other networks' gateways and
 *       services bound to {@code lo} are out of the guests' reach;</li>
 *   <li>forward: traffic between guests of one network is the bridge's (it reaches this hook only where
 *       {@code br_netfilter} hands bridged IPv4 to it, with the bridge as both interfaces) and is accepted; from a
 *       tapwire bridge only a NAT network's own subnet (and replies of published ports' connections) is
 *       forwarded, and never to a tapwire bridge (of this owner; another owner's table drops it at that bridge);
 *       to a tapwire bridge only established/related traffic and the new connections {@link PortPublishing}
 *       DNATed to a published guest port (its {@code ct mark} bit), so nothing else from outside opens a
 *       connection to a guest;</li>
 *   <li>postrouting (nat): a NAT network's own subnet, coming from its bridge and leaving through a non-tapwire
 *       interface, is masqueraded — a guest of another network spoofing that subnet never is.</li>
 * </ul>
 * The kernel's table is compared with what the networks imply, not with whatever was applied last: the listing
 * the kernel gave for a ruleset is kept together with the SHA-256 of that ruleset's text (in memory, and in a record
 * in the owner's state for other processes), and is used only for the very same ruleset. So a check after a flush,
 * an edit by someone else or a realize that died before its rules went in finds the difference, and
 * {@link #ensure} restores it.
 */
final class Firewall {

    private static final Logger LOG = LoggerFactory.getLogger(Firewall.class);
    /** What a bridge name may be in nft text: an interface name that needs no escaping. */
    private static final Pattern IFNAME = Pattern.compile("[A-Za-z0-9_.-]{1,15}");
    private static final Pattern OWNER = Pattern.compile("[a-z0-9]{1,32}");
    /** The kernel's listing for each ruleset text applied by this process (same text, same listing). */
    private static final Map<String, String> LISTINGS = new ConcurrentHashMap<>();

    private final String owner;
    private final String table;
    private final Path record;

    /**
     * The table of one owner.
     *
     * @param ownerTag 1-32 characters of {@code a-z0-9}, derived from the state directory
     * @param record where the listing of the last applied ruleset is kept, with that ruleset's hash
     * @throws InvalidNetworkSpecException if the tag is not of that form
     */
    Firewall(String ownerTag, Path record) {
        this.record = record;
        if (ownerTag == null || !OWNER.matcher(ownerTag).matches()) {
            throw new InvalidNetworkSpecException("a firewall owner tag is 1-32 characters of a-z and 0-9; got "
                    + ownerTag);
        }
        this.owner = ownerTag;
        this.table = "inet tapwire_" + ownerTag;
    }

    /** The table's family and name, e.g. {@code inet tapwire_0123456789abcdef}. */
    String table() {
        return table;
    }

    /** The ruleset for these networks, in nft syntax, or null when there is none (the table is deleted). */
    String ruleset(List<Realization> networks) {
        if (networks.isEmpty()) {
            return null;
        }
        networks.forEach(n -> requireIfname(n.bridge()));
        String bridges = networks.stream().map(n -> quote(n.bridge())).collect(Collectors.joining(", "));
        StringBuilder sb = new StringBuilder();
        sb.append("table ").append(table).append(" {\n");
        sb.append("  set bridges { type ifname; elements = { ").append(bridges).append(" } }\n");
        sb.append("  chain input {\n    type filter hook input priority filter; policy accept;\n")
                .append("    iifname @bridges jump guests_to_host\n  }\n");
        sb.append("  chain guests_to_host {\n    ct state established,related accept\n")
                .append("    meta nfproto != ipv4 drop\n");
        for (Realization n : networks) {
            String from = "    iifname " + quote(n.bridge()) + " ";
            String toGateway = from + "ip daddr " + n.gateway() + " ";
            sb.append(from).append("ip daddr { ").append(n.gateway()).append(", ")
                    .append(n.subnet().broadcastAddress()).append(", 255.255.255.255 } udp dport 67 accept\n");
            sb.append(toGateway).append("meta l4proto { tcp, udp } th dport 53 accept\n");
            sb.append(toGateway).append("meta l4proto icmp accept\n");
            for (HostPort port : n.hostPorts()) {
                sb.append(toGateway).append(port.protocol()).append(" dport ").append(port.port()).append(" accept\n");
            }
        }
        sb.append("    drop\n  }\n");
        sb.append("  chain forward {\n    type filter hook forward priority filter; policy accept;\n");
        for (Realization n : networks) { // bridged between guests of one network: seen here only with br_netfilter
            sb.append("    iifname ").append(quote(n.bridge())).append(" oifname ").append(quote(n.bridge()))
                    .append(" accept\n");
        }
        sb.append("    iifname @bridges jump from_guests\n    oifname @bridges jump to_guests\n  }\n");
        sb.append("  chain from_guests {\n    oifname @bridges drop\n");
        for (Realization n : networks) {
            if (n.nat()) {
                sb.append("    iifname ").append(quote(n.bridge())).append(" ip saddr ").append(n.subnet())
                        .append(" accept\n");
            }
        }
        // replies of a published port's connections leave a network without NAT too (PortPublishing marks them)
        sb.append("    ct direction reply ct mark & ").append(PortPublishing.MARK).append(" == ")
                .append(PortPublishing.MARK).append(" accept\n");
        sb.append("    drop\n  }\n");
        sb.append("  chain to_guests {\n    ct state established,related accept\n");
        // a new connection only when PortPublishing's DNAT made it: to exactly the published guest and port
        sb.append("    ct status dnat ct mark & ").append(PortPublishing.MARK).append(" == ")
                .append(PortPublishing.MARK).append(" accept\n    drop\n  }\n");
        sb.append("  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
        for (Realization n : networks) {
            if (n.nat()) {
                sb.append("    iifname ").append(quote(n.bridge())).append(" ip saddr ").append(n.subnet())
                        .append(" oifname != @bridges masquerade\n");
            }
        }
        sb.append("  }\n}\n");
        return sb.toString();
    }

    /**
     * Replaces the table with the ruleset for these networks in one transaction, or deletes it when there are none.
     *
     * @throws dev.tapwire.network.DeviceOperationException if nftables refuses the ruleset
     */
    void apply(List<Realization> networks) {
        String ruleset = ruleset(networks);
        // "add" then "delete" makes the delete safe when the table is missing; all of it is one transaction
        Nftables.run("add table " + table + "\ndelete table " + table + "\n" + (ruleset == null ? "" : ruleset));
        if (ruleset == null) {
            try {
                Files.deleteIfExists(record);
            } catch (IOException e) {
                LOG.warn("could not remove {}: {}", record, e.toString());
            }
        } else {
            listing().ifPresent(l -> {
                LISTINGS.put(ruleset, l);
                StateFiles.replace(record, hash(ruleset) + "\n" + l);
            });
        }
        LOG.debug("nftables table {} now covers {} network(s)", table, networks.size());
    }

    /**
     * Makes the kernel's table what these networks imply, applying it only when it differs.
     *
     * @return what was wrong (a missing or changed table), or empty when it was as implied
     * @throws dev.tapwire.network.DeviceOperationException if nftables refuses the ruleset
     */
    Optional<String> ensure(List<Realization> networks) {
        Optional<String> problem = problem(networks);
        if (problem.isPresent()) {
            apply(networks);
        }
        return problem;
    }

    /**
     * Tells how the kernel's table differs from what these networks imply.
     *
     * @return what is wrong, or empty when the table is as implied
     */
    Optional<String> problem(List<Realization> networks) {
        String ruleset = ruleset(networks);
        Optional<String> now = listing();
        if (ruleset == null) {
            return now.map(l -> "nftables table " + table + " exists though no network is realized");
        }
        if (now.isEmpty()) {
            return Optional.of("nftables table " + table + " is missing (was the ruleset flushed, or did a realize"
                    + " die before its rules went in?)");
        }
        String expected = LISTINGS.get(ruleset);
        if (expected == null) {
            String prefix = hash(ruleset) + "\n";
            Optional<String> recorded = StateFiles.readSmall(record).filter(t -> t.startsWith(prefix));
            if (recorded.isEmpty()) {
                return Optional.of("nftables table " + table + " was not made for the networks realized now (a"
                        + " realize or removal died before its rules went in?)");
            }
            expected = recorded.get().substring(prefix.length());
            LISTINGS.put(ruleset, expected);
        }
        return expected.equals(now.get()) ? Optional.empty()
                : Optional.of("nftables table " + table + " differs from what the realized networks imply (changed"
                        + " by someone else, or left by an earlier realize)");
    }

    /** The kernel's listing of the table, or empty when it does not exist. */
    Optional<String> listing() {
        try {
            return Optional.of(Nftables.run("list table " + table));
        } catch (Nftables.NftablesException e) {
            if (e.isNoSuchObject()) {
                return Optional.empty();
            }
            throw e;
        }
    }

    /**
     * Tells whether another tapwire table of this namespace needs IPv4 forwarding: another owner's table that
     * masquerades (a NAT network), or another owner's port publishing table.
     *
     * @return true when forwarding must stay on for someone else
     * @throws dev.tapwire.network.DeviceOperationException if nftables cannot list the tables
     */
    boolean othersMasquerade() {
        String ownPublishing = PortPublishing.tableOf(owner);
        for (String line : Nftables.run("list tables").lines().map(String::strip).toList()) {
            String other = line.startsWith("table ") ? line.substring(6).strip() : "";
            if (other.startsWith("ip tapwire_pub_") && !other.equals(ownPublishing)) {
                return true;
            }
            if (other.startsWith("inet tapwire_") && !other.equals(table)) {
                try {
                    if (Nftables.run("list table " + other).contains("masquerade")) {
                        return true;
                    }
                } catch (Nftables.NftablesException e) {
                    LOG.debug("table {} went away while being read: {}", other, e.getMessage());
                }
            }
        }
        return false;
    }

    /**
     * Tells whether this owner publishes ports (its {@link PortPublishing} table exists), which needs forwarding.
     *
     * @return true when the owner's publishing table exists
     * @throws dev.tapwire.network.DeviceOperationException if nftables cannot list it
     */
    boolean publishes() {
        try {
            Nftables.run("list table " + PortPublishing.tableOf(owner));
            return true;
        } catch (Nftables.NftablesException e) {
            if (e.isNoSuchObject()) {
                return false;
            }
            throw e;
        }
    }

    /** Other tables' forward-hook chains whose policy is drop, which tapwire cannot override. */
    List<String> foreignForwardDrops(List<Realization> networks) {
        List<String> problems = new ArrayList<>();
        boolean bridgeNetfilter = bridgeNetfilter();
        String bridges = networks.stream().map(Realization::bridge).collect(Collectors.joining(", "));
        String current = null;
        String chain = null;
        for (String line : Nftables.run("list chains").lines().map(String::strip).toList()) {
            if (line.startsWith("table ")) {
                current = line.substring(6, line.length() - 1).strip();
            } else if (line.startsWith("chain ")) {
                chain = line.substring(6, line.length() - 1).strip();
            } else if (line.contains("hook forward") && line.contains("policy drop") && !table.equals(current)) {
                problems.add("chain " + chain + " of table " + current + " drops forwarded packets by default (policy "
                        + "drop), and tapwire cannot override another table's drop: traffic of tapwire networks that is "
                        + "forwarded (NAT to the outside" + (bridgeNetfilter
                                ? ", and with net.bridge.bridge-nf-call-iptables=1 even traffic between guests of one"
                                        + " network"
                                : "") + ") is dropped there. Accept it in that chain for bridges " + bridges
                        + " (e.g. iptables -I FORWARD -i <bridge> -j ACCEPT and -o <bridge> -j ACCEPT)"
                        + (bridgeNetfilter ? ", or set net.bridge.bridge-nf-call-iptables=0" : ""));
            }
        }
        return problems;
    }

    private static boolean bridgeNetfilter() {
        try {
            return Files.readString(Path.of("/proc/sys/net/bridge/bridge-nf-call-iptables")).strip().equals("1");
        } catch (IOException e) {
            return false; // br_netfilter not loaded
        }
    }

    private static String hash(String ruleset) {
        return "sha256:" + java.util.HexFormat.of().formatHex(NetworkRealizer.sha256(ruleset));
    }

    /** Refuses a bridge name that is no plain interface name: it would be nft text of its own. */
    static String requireIfname(String name) {
        if (name == null || !IFNAME.matcher(name).matches()) {
            throw new InvalidNetworkSpecException("bridge name " + (name == null ? "null" : "\""
                    + name.replace("\n", "\\n") + "\"") + " is not an interface name (1-15 of A-Z, a-z, 0-9, _ . -)");
        }
        return name;
    }

    private static String quote(String name) {
        return "\"" + name + "\"";
    }
}
