package dev.tapwire.network.bridge;

import dev.tapwire.network.bridge.linux.Nftables;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * tapwire's nftables table, {@code ip tapwire}, derived from every realized network of a root directory and
 * replaced as a whole in one transaction; no other table is ever touched. Rules:
 * <ul>
 *   <li>forward: a packet from one tapwire bridge to another tapwire bridge is dropped (isolation between
 *       networks, even when the host forwards IPv4);</li>
 *   <li>input: a packet from a network's bridge to another network's gateway is dropped;</li>
 *   <li>postrouting (nat): a network with NAT has its traffic leaving through any other interface
 *       masqueraded.</li>
 * </ul>
 */
final class Firewall {

    /** The table's family and name. */
    static final String TABLE = "ip tapwire";

    private static final Logger LOG = LoggerFactory.getLogger(Firewall.class);

    private Firewall() {
    }

    /** The ruleset for these networks, in nft syntax, or null when there is none (the table is deleted). */
    static String ruleset(List<Realization> networks) {
        if (networks.isEmpty()) {
            return null;
        }
        String bridges = networks.stream().map(n -> quote(n.bridge())).collect(Collectors.joining(", "));
        String gateways = networks.stream().map(n -> n.gateway().toString()).distinct()
                .collect(Collectors.joining(", "));
        StringBuilder sb = new StringBuilder();
        sb.append("table ").append(TABLE).append(" {\n");
        sb.append("  set bridges { type ifname; elements = { ").append(bridges).append(" } }\n");
        sb.append("  set gateways { type ipv4_addr; elements = { ").append(gateways).append(" } }\n");
        sb.append("  chain forward {\n    type filter hook forward priority filter; policy accept;\n");
        for (Realization n : networks) {
            sb.append("    iifname ").append(quote(n.bridge())).append(" oifname @bridges oifname != ")
                    .append(quote(n.bridge())).append(" drop\n");
        }
        sb.append("  }\n");
        sb.append("  chain input {\n    type filter hook input priority filter; policy accept;\n");
        for (Realization n : networks) {
            sb.append("    iifname ").append(quote(n.bridge())).append(" ip daddr @gateways ip daddr != ")
                    .append(n.gateway()).append(" drop\n");
        }
        sb.append("  }\n");
        sb.append("  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
        for (Realization n : networks) {
            if (n.nat()) {
                sb.append("    ip saddr ").append(n.subnet()).append(" oifname != ").append(quote(n.bridge()))
                        .append(" masquerade\n");
            }
        }
        sb.append("  }\n}\n");
        return sb.toString();
    }

    /**
     * Replaces tapwire's table with the ruleset for these networks in one transaction (or deletes it when there
     * are none), enables IPv4 forwarding when a network needs NAT, and records the listing for {@link #check}.
     */
    static void apply(Path record, List<Realization> networks) {
        String ruleset = ruleset(networks);
        // "add" then "delete" makes the delete safe when the table is missing; all of it is one transaction
        Nftables.run("add table " + TABLE + "\ndelete table " + TABLE + "\n" + (ruleset == null ? "" : ruleset));
        if (networks.stream().anyMatch(Realization::nat)) {
            enableForwarding();
        }
        try {
            if (ruleset == null) {
                Files.deleteIfExists(record);
            } else {
                Files.writeString(record, listing().orElse(""), StandardCharsets.UTF_8);
            }
        } catch (IOException e) {
            LOG.warn("could not record tapwire's ruleset in {}: {}", record, e.toString());
        }
        LOG.debug("nftables table {} now covers {} network(s)", TABLE, networks.size());
    }

    /** The kernel's listing of tapwire's table, or empty when it does not exist. */
    static Optional<String> listing() {
        try {
            return Optional.of(Nftables.run("list table " + TABLE));
        } catch (Nftables.NftablesException e) {
            if (e.isNoSuchObject()) {
                return Optional.empty();
            }
            throw e;
        }
    }

    /**
     * Tells whether tapwire's table in the kernel is as {@link #apply} left it: not missing (a {@code nft flush
     * ruleset} by a firewall reload, say) and not changed by someone else.
     *
     * @param record the listing {@code apply} recorded
     * @return what is wrong, or empty when the table is as applied
     */
    static Optional<String> tableProblem(Path record) {
        Optional<String> now = listing();
        if (now.isEmpty()) {
            return Optional.of("nftables table " + TABLE + " is missing (was the ruleset flushed?)");
        }
        try {
            if (Files.exists(record) && !Files.readString(record, StandardCharsets.UTF_8).equals(now.get())) {
                return Optional.of("nftables table " + TABLE + " was changed by someone else");
            }
        } catch (IOException e) {
            LOG.debug("cannot read the recorded ruleset {}: {}", record, e.toString()); // nothing to compare with
        }
        return Optional.empty();
    }

    /** Other tables' forward-hook chains whose policy is drop, which tapwire cannot override. */
    static List<String> foreignForwardDrops(List<Realization> networks) {
        List<String> problems = new ArrayList<>();
        boolean bridgeNetfilter = bridgeNetfilter();
        String bridges = networks.stream().map(Realization::bridge).collect(Collectors.joining(", "));
        String table = null;
        String chain = null;
        for (String line : Nftables.run("list chains").lines().map(String::strip).toList()) {
            if (line.startsWith("table ")) {
                table = line.substring(6, line.length() - 1).strip();
            } else if (line.startsWith("chain ")) {
                chain = line.substring(6, line.length() - 1).strip();
            } else if (line.contains("hook forward") && line.contains("policy drop") && !TABLE.equals(table)) {
                problems.add("chain " + chain + " of table " + table + " drops forwarded packets by default (policy "
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

    private static void enableForwarding() {
        Path forward = Path.of("/proc/sys/net/ipv4/ip_forward");
        try {
            if (!Files.readString(forward).strip().equals("1")) {
                Files.writeString(forward, "1\n");
                LOG.warn("enabled IPv4 forwarding (net.ipv4.ip_forward=1) for a tapwire network with NAT");
            }
        } catch (IOException e) {
            throw new RealizationException("cannot enable IPv4 forwarding for NAT (" + forward + "): " + e, e);
        }
    }

    private static String quote(String name) {
        return "\"" + name + "\"";
    }
}
