package dev.tapwire.network.bridge;

import dev.tapwire.network.AddressInUseException;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.PortPublication;
import dev.tapwire.network.TapNames;
import dev.tapwire.network.bridge.linux.Nftables;
import dev.tapwire.network.lock.Lease;
import dev.tapwire.network.lock.LockFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Host ports published to guests' ports (Docker's {@code -p}, CNI's {@code portmap}): one owner's (state
 * directory's) nftables table of its own, {@code ip tapwire_pub_<owner>}, whose rules are fixed and whose maps hold
 * one element per publication, keyed by (protocol, port) for every host address and by (address, protocol, port)
 * for one — so publishing is one element added in one transaction, never a rewrite of the rules:
 * <ul>
 *   <li>DNAT in {@code prerouting} (from outside the host, and from guests: the hairpin) and in {@code output}
 *       (from the host itself, 127.0.0.1 included); a publication on every address matches only destinations
 *       that are the host's own ({@code fib daddr type local}). The connection is marked ({@code ct mark} bit
 *       {@value #MARK}), and {@link Firewall}'s table admits into a tapwire bridge exactly the new connections
 *       that carry the mark and were DNATed (and lets their replies out of a network without NAT): nothing else
 *       of the network opens up;</li>
 *   <li>masquerade in {@code postrouting} where the reply would not come back through the host: a connection from
 *       127.0.0.1 (the guest would answer its own loopback), and a guest reaching a published port of its own
 *       network through the host (the hairpin: the other guest would answer it directly; a second mark bit,
 *       {@code 0x10000000}, set in {@code prerouting} for connections from a bridge with publications, says so). A
 *       guest reaching its <em>own</em> published port works where the host routes it; where {@code br_netfilter}
 *       makes the bridge carry it (net.bridge.bridge-nf-call-iptables=1) the bridge would have to send the frame
 *       back out of the port it came in on, which it does only in hairpin mode, which tapwire does not set (it
 *       reflects the guest's own broadcasts to it);</li>
 *   <li>{@code net.ipv4.conf.<bridge>.route_localnet = 1}, on the bridges of publications that take 127.0.0.1 (an
 *       address of every host address, or a loopback one) only: the kernel routes a packet from 127.0.0.1 out of
 *       that device (and its reply back) only with it; set back to 0 when the bridge's last such publication goes.
 *       What it would also let in — a guest sending to or from 127.0.0.0/8 on that bridge — is dropped by this
 *       table's {@code guard} chain before NAT sees it (and by {@link Firewall}'s input chain);</li>
 *   <li>IPv4 forwarding on while a publication takes outside traffic ({@link Forwarding}, the record NAT networks
 *       share).</li>
 * </ul>
 * The publications are recorded in {@code rootDir/bridge/publications} (one line each, replaced atomically, read
 * without following a link and validated: a line tapwire did not write fails closed, naming the file); the
 * kernel's table is derived from that record — {@link #reconcile} recreates it after a flush or an edit. A host
 * port is published once per owner (two publications that {@link PortPublication#conflictsWith conflict} are
 * refused, across VMs) and never one another owner of the namespace has published. Changes hold
 * {@code rootDir/bridge/publications.lock} (threads and processes). Works in the network namespace of the calling
 * thread; IPv4 only.
 */
final class PortPublishing {

    /**
     * Where a publication goes: a VM's NIC.
     *
     * @param vmId the VM
     * @param tap the NIC's TAP (publications go with it when the NIC is detached)
     * @param bridge the bridge the TAP is on
     * @param address the NIC's IPv4 address
     */
    record Target(String vmId, String tap, String bridge, Ipv4Address address) {

        /**
         * Validates the target.
         *
         * @throws InvalidNetworkSpecException if the VM ID, TAP or bridge name is not valid, or the address is null
         */
        Target {
            TapNames.requireValidVmId(vmId);
            TapNames.requireValidInterfaceName(tap);
            Firewall.requireIfname(bridge);
            if (address == null) {
                throw new InvalidNetworkSpecException("a port publication needs the NIC's IPv4 address; VM " + vmId
                        + " NIC " + tap + " has none");
            }
        }
    }

    /**
     * One publication of one NIC.
     *
     * @param publication the host port and the guest port
     * @param target the NIC
     */
    record Published(PortPublication publication, Target target) {

        /**
         * Validates.
         *
         * @throws InvalidNetworkSpecException if either part is null
         */
        Published {
            if (publication == null || target == null) {
                throw new InvalidNetworkSpecException("a published port needs a publication and a target; got "
                        + publication + " to " + target);
            }
        }

        private String line() {
            return target.vmId() + " " + target.tap() + " " + target.bridge() + " " + target.address() + " "
                    + publication.text();
        }

        /** This publication's element: in map {@code bound} when it has a host address, else in {@code wild}. */
        private String element() {
            PortPublication p = publication;
            return (p.hostAddress() == null ? "" : p.hostAddress() + " . ") + p.protocol() + " . " + p.hostPort()
                    + " : " + target.address() + " . " + p.guestPort();
        }

        private String map() {
            return publication.hostAddress() == null ? "wild" : "bound";
        }

        /** Whether it takes connections to 127.0.0.1 (so its bridge needs route_localnet). */
        private boolean local() {
            Ipv4Address a = publication.hostAddress();
            return a == null || a.toString().startsWith("127.");
        }

        /** Whether it takes connections from outside the host (so IPv4 forwarding is needed). */
        private boolean outside() {
            Ipv4Address a = publication.hostAddress();
            return a == null || !a.toString().startsWith("127.");
        }
    }

    /** The ct mark bit of a connection DNATed by a publication; {@link Firewall} admits those into bridges. */
    static final String MARK = "0x20000000";
    /**
     * The marks of a connection DNATed for a guest of a bridge with publications (a hairpin): {@link #MARK} and bit
     * {@code 0x10000000}. Marked in {@code prerouting}, where the bridge it came from is known: with
     * {@code br_netfilter} a DNAT to a guest of the same bridge is bridged, not routed, and {@code postrouting} then
     * knows no input interface.
     */
    private static final String BOTH = "0x30000000";

    private static final Logger LOG = LoggerFactory.getLogger(PortPublishing.class);
    private static final String HEADER = "# tapwire port publications: VM TAP BRIDGE ADDRESS PUBLICATION\n";
    private static final List<String> SETS = List.of("wild", "bound", "bridges", "localnet");
    private static final int ATTEMPTS = 5;

    /** The table's rules, in the form nft 1.0.6 lists them (without elements): created, and compared with. */
    private static final String SKELETON = """
            \tmap wild {
            \t\ttype inet_proto . inet_service : ipv4_addr . inet_service
            \t}

            \tmap bound {
            \t\ttype ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service
            \t}

            \tset bridges {
            \t\ttype ifname
            \t}

            \tset localnet {
            \t\ttype ifname
            \t}

            \tchain guard {
            \t\ttype filter hook prerouting priority mangle; policy accept;
            \t\tiifname @localnet ip daddr 127.0.0.0/8 drop
            \t\tiifname @localnet ip saddr 127.0.0.0/8 drop
            \t}

            \tchain prerouting {
            \t\ttype nat hook prerouting priority dstnat; policy accept;
            \t\tiifname @bridges goto hairpin
            \t\tjump publish
            \t}

            \tchain output {
            \t\ttype nat hook output priority -100; policy accept;
            \t\tjump publish
            \t}

            \tchain publish {
            \t\tip daddr . meta l4proto . th dport @bound ct mark set ct mark | MARK dnat ip to ip daddr . meta \
            l4proto . th dport map @bound
            \t\tfib daddr type local meta l4proto . th dport @wild ct mark set ct mark | MARK dnat ip to meta l4proto \
            . th dport map @wild
            \t}

            \tchain hairpin {
            \t\tip daddr . meta l4proto . th dport @bound ct mark set ct mark | BOTH dnat ip to ip daddr . meta \
            l4proto . th dport map @bound
            \t\tfib daddr type local meta l4proto . th dport @wild ct mark set ct mark | BOTH dnat ip to meta l4proto \
            . th dport map @wild
            \t}

            \tchain postrouting {
            \t\ttype nat hook postrouting priority srcnat; policy accept;
            \t\tct mark & MARK == MARK ip saddr 127.0.0.0/8 masquerade
            \t\tct mark & BOTH == BOTH masquerade
            \t}
            """.replace("MARK", MARK).replace("BOTH", BOTH);
    private static final Pattern SET_BLOCK = Pattern.compile(
            "\\t(?:set|map) (\\w+) \\{\\n\\t\\ttype [^\\n]*\\n(?:\\t\\telements = \\{([^}]*)\\}\\n)?\\t\\}\\n");
    private static final Pattern ELEMENTS_LINE = Pattern.compile("\\t\\telements = \\{[^}]*\\}\\n");

    private final Path rootDir;
    private final Path file;
    private final String table;
    private final Firewall firewall;
    private final Forwarding forwarding;

    /**
     * The publications of one state directory, in the calling thread's network namespace; does nothing until used.
     *
     * @param rootDir the root (state) directory, as given to the bridge provider
     * @throws InvalidNetworkSpecException if the directory is null
     */
    PortPublishing(Path rootDir) {
        if (rootDir == null) {
            throw new InvalidNetworkSpecException("port publishing needs a state directory");
        }
        this.rootDir = rootDir;
        this.file = rootDir.resolve("bridge").resolve("publications");
        String owner = NetworkRealizer.ownerTag(rootDir);
        this.table = tableOf(owner);
        Path realized = rootDir.resolve("realized"); // the realizer's: its table's listing, the forwarding record
        this.firewall = new Firewall(owner, realized.resolve("ruleset.listing"));
        this.forwarding = new Forwarding(realized.resolve("ip_forward.before"));
    }

    /**
     * The publishing table of an owner.
     *
     * @param ownerTag the owner tag ({@link NetworkRealizer#ownerTag})
     * @return e.g. {@code ip tapwire_pub_0123456789abcdef}
     */
    static String tableOf(String ownerTag) {
        return "ip tapwire_pub_" + ownerTag;
    }

    /**
     * The table's family and name.
     *
     * @return e.g. {@code ip tapwire_pub_0123456789abcdef}
     */
    String table() {
        return table;
    }

    /**
     * Publishes host ports to a NIC: recorded, then added to the kernel's table in one transaction; all of them or
     * none (on a failure the record is as before). Publishing what the NIC has already is a no-op.
     *
     * @param target the NIC
     * @param publications the host ports and guest ports
     * @return every publication of the target's VM now
     * @throws AddressInUseException if a host port is published already (to any VM of this state directory, naming
     *     it, or by another state directory of this namespace), or two of {@code publications} claim one host port
     * @throws InvalidNetworkSpecException if a publication or the target is null
     * @throws NetworkException if the record cannot be read or written, or nftables refuses (with its error text)
     */
    List<Published> publish(Target target, Collection<PortPublication> publications) {
        if (target == null || publications == null || publications.stream().anyMatch(java.util.Objects::isNull)) {
            throw new InvalidNetworkSpecException("publish needs a target and publications without nulls; got "
                    + target + " and " + publications);
        }
        try (Lease lease = lock()) {
            List<Published> before = read();
            List<Published> after = new ArrayList<>(before);
            List<Published> added = new ArrayList<>();
            for (PortPublication p : publications) {
                Published wanted = new Published(p, target);
                if (after.contains(wanted)) {
                    continue;
                }
                for (Published other : after) {
                    if (other.publication().conflictsWith(p)) {
                        throw new AddressInUseException("host port " + p.protocol() + " " + hostText(p) + " is"
                                + " published already (" + other.publication() + " to VM " + other.target().vmId()
                                + " NIC " + other.target().tap() + "); unpublish it first, or choose another host"
                                + " port or address");
                    }
                }
                after.add(wanted);
                added.add(wanted);
            }
            if (added.isEmpty()) {
                return ofVm(after, target.vmId());
            }
            refuseForeign(added);
            write(after);
            try {
                StringBuilder sb = new StringBuilder();
                added.forEach(p -> sb.append("add element ").append(table).append(' ').append(p.map()).append(" { ")
                        .append(p.element()).append(" }\n"));
                elementsOf(added).forEach((set, elements) -> {
                    if (!set.equals("wild") && !set.equals("bound") && !elements.isEmpty()) {
                        sb.append("add element ").append(table).append(' ').append(set).append(" { ")
                                .append(String.join(", ", elements)).append(" }\n");
                    }
                });
                fastOrReconcile(sb.toString(), after, "publish");
                hostSettings(before, after);
            } catch (NetworkException e) {
                write(before);
                try {
                    converge(before, "undo");
                    hostSettings(after, before);
                } catch (NetworkException undo) {
                    e.addSuppressed(undo);
                }
                throw e;
            }
            LOG.debug("published {}", added.stream().map(Published::line).toList());
            return ofVm(after, target.vmId());
        }
    }

    /**
     * Removes publications of a VM, matched by their host side (protocol, host address, host port); ones it does
     * not have are fine.
     *
     * @param vmId the VM
     * @param publications the publications (their guest ports are not compared)
     * @return the publications removed
     * @throws InvalidNetworkSpecException if the VM ID is not valid
     * @throws NetworkException if the record cannot be read or written, or nftables refuses
     */
    List<Published> unpublish(String vmId, Collection<PortPublication> publications) {
        TapNames.requireValidVmId(vmId);
        return remove(p -> p.target().vmId().equals(vmId) && publications.stream().anyMatch(q -> sameHostSide(q,
                p.publication())));
    }

    /**
     * Removes every publication of one NIC (detached or deleted).
     *
     * @param vmId the VM
     * @param tap the NIC's TAP
     * @return the publications removed
     * @throws NetworkException if the record cannot be read or written, or nftables refuses
     */
    List<Published> unpublishNic(String vmId, String tap) {
        return remove(p -> p.target().vmId().equals(vmId) && p.target().tap().equals(tap));
    }

    /**
     * Removes every publication of these VMs (deleted).
     *
     * @param vmIds the VMs
     * @return the VMs that had publications
     * @throws NetworkException if the record cannot be read or written, or nftables refuses
     */
    Set<String> unpublishVms(Collection<String> vmIds) {
        Set<String> vms = new TreeSet<>();
        remove(p -> vmIds.contains(p.target().vmId())).forEach(p -> vms.add(p.target().vmId()));
        return vms;
    }

    /**
     * Reclaims the publications of VMs that no longer exist (for the GC: call it with every live VM of this state
     * directory while holding the GC lock, after the VMs' TAPs are collected).
     *
     * @param liveVmIds every VM that still exists
     * @return the VMs whose publications were removed
     * @throws NetworkException if the record cannot be read or written, or nftables refuses
     */
    Set<String> reclaim(Set<String> liveVmIds) {
        Set<String> vms = new TreeSet<>();
        remove(p -> !liveVmIds.contains(p.target().vmId())).forEach(p -> vms.add(p.target().vmId()));
        if (!vms.isEmpty()) {
            LOG.warn("reclaimed the port publications of VM(s) {}, which no longer exist", vms);
        }
        return vms;
    }

    /**
     * Every publication of this state directory, from its record (what the host has, not what was asked last).
     *
     * @return the publications, in the order they were made
     * @throws NetworkException if the record cannot be read or is not tapwire's
     */
    List<Published> list() {
        return read();
    }

    /**
     * The publications of one VM.
     *
     * @param vmId the VM
     * @return its publications, in the order they were made
     * @throws NetworkException if the record cannot be read or is not tapwire's
     */
    List<Published> list(String vmId) {
        return ofVm(read(), vmId);
    }

    /**
     * Makes the kernel's table, the bridges' {@code route_localnet} and IPv4 forwarding what the record implies
     * (after a restart, a {@code nft flush ruleset}, an edit by someone else).
     *
     * @return what was repaired, empty when the host was as recorded
     * @throws NetworkException if the record cannot be read, or nftables or a sysctl refuses
     */
    List<String> reconcile() {
        try (Lease lease = lock()) {
            List<Published> all = read();
            List<String> repairs = new ArrayList<>(converge(all, "reconcile"));
            repairs.addAll(hostSettings(List.of(), all));
            return repairs;
        }
    }

    /**
     * Tells how the host differs from what the record implies, changing nothing.
     *
     * @return what is wrong, empty when the host is as recorded
     * @throws NetworkException if the record cannot be read or nftables cannot list the table
     */
    List<String> verify() {
        List<Published> all = read();
        List<String> problems = new ArrayList<>(difference(kernel(), all));
        for (String bridge : localnetBridges(all)) {
            readSysctl(bridge).filter(v -> !v.equals("1")).ifPresent(v -> problems.add("net.ipv4.conf." + bridge
                    + ".route_localnet is " + v + ", should be 1 (a publication takes 127.0.0.1)"));
        }
        return problems;
    }

    // ------------------------------------------------------------------ changes

    private List<Published> remove(Predicate<Published> which) {
        try (Lease lease = lock()) {
            List<Published> before = read();
            List<Published> gone = before.stream().filter(which).toList();
            if (gone.isEmpty()) {
                return gone;
            }
            List<Published> after = before.stream().filter(which.negate()).toList();
            write(after);
            StringBuilder sb = new StringBuilder();
            gone.forEach(p -> sb.append("delete element ").append(table).append(' ').append(p.map()).append(" { ")
                    .append(p.element()).append(" }\n"));
            Map<String, Set<String>> left = elementsOf(after);
            elementsOf(gone).forEach((set, elements) -> {
                Set<String> unused = new TreeSet<>(elements);
                unused.removeAll(left.get(set));
                if (!set.equals("wild") && !set.equals("bound") && !unused.isEmpty()) {
                    sb.append("delete element ").append(table).append(' ').append(set).append(" { ")
                            .append(String.join(", ", unused)).append(" }\n");
                }
            });
            if (after.isEmpty()) {
                converge(after, "unpublish"); // the last one: the table goes
            } else {
                fastOrReconcile(sb.toString(), after, "unpublish");
            }
            hostSettings(before, after);
            LOG.debug("unpublished {}", gone.stream().map(Published::line).toList());
            return gone;
        }
    }

    /** Runs the element changes; when they fail (a flushed table, an element missing), converges instead. */
    private void fastOrReconcile(String commands, List<Published> all, String operation) {
        try {
            Nftables.run(commands);
        } catch (Nftables.NftablesException e) {
            LOG.debug("port publishing {} {}: {}; comparing with the kernel's table", table, operation,
                    e.getMessage());
            converge(all, operation);
        }
    }

    /** Makes the kernel's table hold exactly these publications, recreating it when it differs. */
    private List<String> converge(List<Published> all, String operation) {
        for (int attempt = 1; ; attempt++) {
            Optional<Map<String, Set<String>>> kernel = kernel();
            List<String> problems = difference(kernel, all);
            if (problems.isEmpty()) {
                return problems;
            }
            StringBuilder sb = new StringBuilder();
            sb.append("add table ").append(table).append("\ndelete table ").append(table).append('\n');
            if (!all.isEmpty()) {
                sb.append("table ").append(table).append(" {\n").append(SKELETON).append("}\n");
                elementsOf(all).forEach((set, elements) -> {
                    if (!elements.isEmpty()) {
                        sb.append("add element ").append(table).append(' ').append(set).append(" { ")
                                .append(String.join(", ", elements)).append(" }\n");
                    }
                });
            }
            try {
                Nftables.run(sb.toString());
            } catch (Nftables.NftablesException e) {
                if (attempt == ATTEMPTS) {
                    throw e;
                }
                LOG.debug("port publishing {} {}: conflict ({}), retrying", table, operation, e.getMessage());
                continue;
            }
            boolean first = kernel.isEmpty() && !operation.equals("reconcile");
            if (first || all.isEmpty() && kernel.isPresent() && !operation.equals("reconcile")) {
                LOG.debug("port publishing {} {}: {}", table, operation, String.join("; ", problems));
            } else {
                LOG.warn("port publishing {} {}: {}", table, operation, String.join("; ", problems));
            }
            return problems;
        }
    }

    /** How the kernel's table differs from these publications. */
    private List<String> difference(Optional<Map<String, Set<String>>> kernel, List<Published> all) {
        List<String> problems = new ArrayList<>();
        if (kernel.isEmpty()) {
            if (!all.isEmpty()) {
                problems.add("nftables table " + table + " is missing (was the ruleset flushed, or the host"
                        + " restarted?): recreated with " + all.size() + " publication(s)");
            }
            return problems;
        }
        if (all.isEmpty()) {
            problems.add("nftables table " + table + " exists though nothing is published: deleted");
            return problems;
        }
        if (!kernel.get().containsKey("")) {
            problems.add("nftables table " + table + "'s rules were changed by someone else: recreated");
            return problems;
        }
        Map<String, Set<String>> want = elementsOf(all);
        for (String set : SETS) {
            Set<String> have = kernel.get().getOrDefault(set, Set.of());
            Set<String> missing = new TreeSet<>(want.get(set));
            missing.removeAll(have);
            Set<String> extra = new TreeSet<>(have);
            extra.removeAll(want.get(set));
            if (!missing.isEmpty()) {
                problems.add(set + " lacked " + missing + ": added");
            }
            if (!extra.isEmpty()) {
                problems.add(set + " held " + extra + ", which is not recorded: removed");
            }
        }
        return problems;
    }

    /** Sets route_localnet on the bridges that need it now and back on the ones that needed it before; forwarding. */
    private List<String> hostSettings(List<Published> before, List<Published> after) {
        List<String> changed = new ArrayList<>();
        Set<String> now = localnetBridges(after);
        Set<String> was = localnetBridges(before);
        was.removeAll(now);
        for (String bridge : now) {
            if (readSysctl(bridge).filter(v -> !v.equals("1")).isPresent()) {
                writeSysctl(bridge, "1");
                changed.add("net.ipv4.conf." + bridge + ".route_localnet=1");
                LOG.warn("set net.ipv4.conf.{}.route_localnet=1: a publication takes connections from 127.0.0.1"
                        + " to a guest on that bridge (guests' own packets to or from 127.0.0.0/8 are dropped)", bridge);
            }
        }
        for (String bridge : was) {
            if (readSysctl(bridge).filter(v -> !v.equals("0")).isPresent()) {
                writeSysctl(bridge, "0");
                changed.add("net.ipv4.conf." + bridge + ".route_localnet=0");
                LOG.debug("set net.ipv4.conf.{}.route_localnet back to 0", bridge);
            }
        }
        boolean nat = firewall.listing().map(l -> l.contains("masquerade")).orElse(false);
        forwarding.ensure(nat || after.stream().anyMatch(Published::outside), firewall);
        return changed;
    }

    private static Set<String> localnetBridges(List<Published> all) {
        Set<String> bridges = new TreeSet<>();
        all.stream().filter(Published::local).forEach(p -> bridges.add(p.target().bridge()));
        return bridges;
    }

    /** The bridge's route_localnet, or empty when the bridge does not exist (in this namespace). */
    private static Optional<String> readSysctl(String bridge) {
        Path sysctl = Path.of("/proc/sys/net/ipv4/conf", bridge, "route_localnet");
        try {
            return Optional.of(Files.readString(sysctl).strip());
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new RealizationException("cannot read sysctl " + sysctl + ": " + e, e);
        }
    }

    private static void writeSysctl(String bridge, String value) {
        Path sysctl = Path.of("/proc/sys/net/ipv4/conf", bridge, "route_localnet");
        try {
            Files.writeString(sysctl, value + "\n");
        } catch (IOException e) {
            throw new RealizationException("cannot set sysctl net.ipv4.conf." + bridge + ".route_localnet to " + value
                    + ": " + e, e);
        }
    }

    /** Refuses host ports that another owner's publishing table of this namespace holds. */
    private void refuseForeign(List<Published> added) {
        for (String line : Nftables.run("list tables").lines().map(String::strip).toList()) {
            String other = line.startsWith("table ") ? line.substring(6).strip() : "";
            if (!other.startsWith("ip tapwire_pub_") || other.equals(table)) {
                continue;
            }
            Optional<Map<String, Set<String>>> theirs;
            try {
                theirs = parse(other, Nftables.run("list table " + other));
            } catch (Nftables.NftablesException e) {
                LOG.debug("table {} went away while being read: {}", other, e.getMessage());
                continue;
            }
            for (Published p : added) {
                for (String set : List.of("wild", "bound")) {
                    for (String element : theirs.get().getOrDefault(set, Set.of())) {
                        String[] key = element.split(" : ")[0].split(" \\. ");
                        PortPublication claim = key.length == 2
                                ? new PortPublication(key[0], null, Integer.parseInt(key[1]), 1)
                                : new PortPublication(key[1], Ipv4Address.parse(key[0]), Integer.parseInt(key[2]), 1);
                        if (claim.conflictsWith(p.publication())) {
                            throw new AddressInUseException("host port " + p.publication().protocol() + " "
                                    + hostText(p.publication()) + " is published already by another tapwire state"
                                    + " directory of this network namespace (table " + other + "); choose another"
                                    + " host port or address");
                        }
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------ the kernel's table

    /** Each set's elements, with key "" present when the rules are exactly ours; empty when there is no table. */
    private Optional<Map<String, Set<String>>> kernel() {
        try {
            return parse(table, Nftables.run("list table " + table));
        } catch (Nftables.NftablesException e) {
            if (e.isNoSuchObject()) {
                return Optional.empty();
            }
            throw e;
        }
    }

    private static Optional<Map<String, Set<String>>> parse(String table, String listing) {
        String header = "table " + table + " {\n";
        String body = listing.startsWith(header) && listing.endsWith("}\n")
                ? listing.substring(header.length(), listing.length() - 2) : "";
        Map<String, Set<String>> sets = new LinkedHashMap<>();
        if (ELEMENTS_LINE.matcher(body).replaceAll("").equals(SKELETON)) {
            sets.put("", Set.of());
        }
        Matcher m = SET_BLOCK.matcher(body);
        while (m.find()) {
            Set<String> elements = new TreeSet<>();
            if (m.group(2) != null) {
                for (String e : m.group(2).split(",")) {
                    String element = e.strip().replaceAll("\\s+", " ");
                    if (!element.isEmpty()) {
                        elements.add(element);
                    }
                }
            }
            sets.put(m.group(1), elements);
        }
        return Optional.of(sets);
    }

    private static Map<String, Set<String>> elementsOf(List<Published> all) {
        Map<String, Set<String>> sets = new LinkedHashMap<>();
        SETS.forEach(s -> sets.put(s, new TreeSet<>()));
        for (Published p : all) {
            sets.get(p.map()).add(p.element());
            sets.get("bridges").add("\"" + p.target().bridge() + "\"");
            if (p.local()) {
                sets.get("localnet").add("\"" + p.target().bridge() + "\"");
            }
        }
        return sets;
    }

    // ------------------------------------------------------------------ the record

    private Lease lock() {
        return LockFile.at(rootDir.resolve("bridge").resolve("publications.lock")).acquire();
    }

    private List<Published> read() {
        List<Published> all = new ArrayList<>();
        int number = 0;
        for (String line : StateFiles.readLines(file)) {
            number++;
            if (line.startsWith("#") || line.isEmpty()) {
                continue;
            }
            String[] f = line.split(" ", -1);
            Published p;
            try {
                if (f.length != 5) {
                    throw new InvalidNetworkSpecException("expected VM TAP BRIDGE ADDRESS PUBLICATION");
                }
                p = new Published(PortPublication.parse(f[4]), new Target(f[0], f[1], f[2], Ipv4Address.parse(f[3])));
            } catch (InvalidNetworkSpecException e) {
                throw new RealizationException("line " + number + " of " + file + " is not a port publication tapwire"
                        + " wrote (" + e.getMessage() + "): \"" + line + "\"; fix or remove it (each line is VM TAP"
                        + " BRIDGE ADDRESS PROTO:[HOSTADDRESS:]HOSTPORT:GUESTPORT)", e);
            }
            for (Published other : all) {
                if (other.publication().conflictsWith(p.publication())) {
                    throw new RealizationException("line " + number + " of " + file + " publishes host port "
                            + p.publication() + ", which " + other.line() + " publishes already: the record was not"
                            + " written by tapwire; remove one of them");
                }
            }
            all.add(p);
        }
        return all;
    }

    private void write(List<Published> all) {
        StateFiles.requireSafeDirectory(file.getParent(), "publication directory", false);
        StringBuilder sb = new StringBuilder(HEADER);
        all.forEach(p -> sb.append(p.line()).append('\n'));
        NetworkRealizer.replace(file, sb.toString());
    }

    private static List<Published> ofVm(List<Published> all, String vmId) {
        return all.stream().filter(p -> p.target().vmId().equals(vmId)).toList();
    }

    private static boolean sameHostSide(PortPublication a, PortPublication b) {
        return a.protocol().equals(b.protocol()) && a.hostPort() == b.hostPort()
                && java.util.Objects.equals(a.hostAddress(), b.hostAddress());
    }

    private static String hostText(PortPublication p) {
        return (p.hostAddress() == null ? "*" : p.hostAddress().toString()) + ":" + p.hostPort();
    }
}
