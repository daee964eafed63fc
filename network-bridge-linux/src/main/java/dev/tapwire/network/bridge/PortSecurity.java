package dev.tapwire.network.bridge;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.bridge.linux.Nftables;
import java.nio.file.Path;
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
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Port security for guest ports: one nftables table of one owner's own in the {@code bridge} family, {@code bridge
 * tapwire_portsec_<owner>}, whose rules are fixed and whose sets hold one element per (port, MAC, address), so
 * the ruleset does not grow with the number of TAPs. Frames entering a bridge from an admitted port are checked at
 * the bridge's {@code prerouting} hook — before the bridge learns their source MAC and before it decides between
 * forwarding them to other ports and passing them to the host, so a dropped frame teaches the forwarding database
 * nothing — and again at its {@code input} hook, which link-local frames (01:80:c2:00:00:0x) reach without
 * prerouting; {@code br_netfilter} is not needed. What a port may send depends on its {@link Entry}:
 * <ul>
 *   <li>{@link Entry#strict strict} (a NIC with its registry address): only its own source MAC; only ARP and
 *       IPv4 (no IPv6 while tapwire has no IPv6, no 802.1Q/802.1ad tag, no other ethertype — checked on the outer
 *       header, so a tag cannot carry a frame around the rules); ARP only with its own sender MAC and sender IP
 *       (or sender IP 0.0.0.0, an RFC 5227 probe, which poisons nothing); IPv4 only from its own address, except
 *       a DHCP client's {@code 0.0.0.0:68 -> 255.255.255.255:67}; never a DHCP server reply (UDP 67 to 68), and
 *       never an ICMP redirect;</li>
 *   <li>{@link Entry#macOnly MAC only} (a NIC whose address is not tapwire's to know): only its own source MAC,
 *       ARP only with its own sender MAC, no VLAN tag;</li>
 *   <li>{@link Entry#open open} (port security turned off for the NIC): anything, except what only a rogue
 *       server sends — DHCP server replies (UDP 67 to 68), DHCPv6 server traffic (UDP 547 to 546), IPv6 router
 *       advertisements and redirects, ICMP redirects. A tapwire network's dnsmasq is its only DHCP server and the
 *       host its only router; a second one is never what a manager turns filtering off for, and its victims are
 *       the other guests, not the NIC that opted out.</li>
 * </ul>
 * A port that is not admitted is not filtered at all: admit a TAP <em>before</em> it joins its bridge (elements
 * name ports by interface name, so they can exist before the TAP does).
 *
 * <p>Every call is level-triggered: it reads the kernel's table, computes the difference for the ports it is about
 * and applies it in one libnftables transaction (all of it or nothing), recreating the table when it is missing
 * (a {@code nft flush ruleset}) or its rules were changed. Concurrent callers of other processes are handled by
 * retrying on a conflict. Works in the network namespace of the calling thread. Table names are scoped by owner,
 * so two owners (state directories) in one namespace never touch each other's elements.
 */
final class PortSecurity {

    /** What a port may send. */
    enum Mode {
        /** MAC, ARP, IPv4 source, ethertype and server checks: a NIC with a known address. */
        STRICT,
        /** MAC and ARP sender MAC checks, no VLAN tags: a NIC whose address is not known. */
        MAC_ONLY,
        /** Only the rogue-server drops: port security turned off for this NIC. */
        OPEN
    }

    /**
     * What one port is allowed to send.
     *
     * @param mode the checks applied
     * @param mac the NIC's (guest's) MAC, present unless {@link Mode#OPEN}
     * @param ip the NIC's IPv4 address, present exactly for {@link Mode#STRICT}
     */
    record Entry(Mode mode, Optional<MacAddress> mac, Optional<Ipv4Address> ip) {

        /**
         * Checks that the fields fit the mode.
         *
         * @throws InvalidNetworkSpecException if a field is null, a MAC or address is missing or superfluous for the
         *     mode, or the MAC is not a unicast one
         */
        Entry {
            if (mode == null || mac == null || ip == null) {
                throw new InvalidNetworkSpecException("a port-security entry needs a mode, a MAC (or empty) and an "
                        + "address (or empty); got mode " + mode + ", MAC " + mac + ", address " + ip);
            }
            if (mac.isPresent() != (mode != Mode.OPEN) || ip.isPresent() != (mode == Mode.STRICT)) {
                throw new InvalidNetworkSpecException("a port-security entry of mode " + mode + " takes "
                        + (mode == Mode.OPEN ? "no MAC and no address" : mode == Mode.STRICT ? "a MAC and an address"
                                : "a MAC and no address") + "; got MAC " + mac.map(Object::toString).orElse("none")
                        + ", address " + ip.map(Object::toString).orElse("none"));
            }
            if (mac.isPresent() && !mac.get().isUnicast()) {
                throw new InvalidNetworkSpecException("a guest NIC's MAC must be unicast; " + mac.get()
                        + " is a multicast address");
            }
        }

        /**
         * A NIC with a known address: every check.
         *
         * @param mac the NIC's MAC
         * @param ip the NIC's address
         * @return the entry
         * @throws InvalidNetworkSpecException if the MAC is not unicast
         */
        static Entry strict(MacAddress mac, Ipv4Address ip) {
            return new Entry(Mode.STRICT, Optional.of(mac), Optional.of(ip));
        }

        /**
         * A NIC whose address tapwire does not know: MAC and ARP sender MAC checks.
         *
         * @param mac the NIC's MAC
         * @return the entry
         * @throws InvalidNetworkSpecException if the MAC is not unicast
         */
        static Entry macOnly(MacAddress mac) {
            return new Entry(Mode.MAC_ONLY, Optional.of(mac), Optional.empty());
        }

        /**
         * A NIC whose manager turned port security off: only rogue DHCP servers and routers are dropped.
         *
         * @return the entry
         */
        static Entry open() {
            return new Entry(Mode.OPEN, Optional.empty(), Optional.empty());
        }

        /**
         * The entry for a NIC: strict with an address, MAC-only without one.
         *
         * @param mac the NIC's MAC
         * @param ip the NIC's address, if tapwire knows it
         * @return the entry
         * @throws InvalidNetworkSpecException if the MAC is not unicast
         */
        static Entry of(MacAddress mac, Optional<Ipv4Address> ip) {
            return ip.map(a -> strict(mac, a)).orElseGet(() -> macOnly(mac));
        }
    }

    /** Port (interface) names: 1-15 bytes that need no quoting in nft text (TAP names are {@code bt…-N}). */
    private static final Pattern PORT = Pattern.compile("[A-Za-z0-9_.-]{1,15}");
    private static final Pattern OWNER = Pattern.compile("[a-z0-9]{1,32}");
    private static final int ATTEMPTS = 5;

    /**
     * The table's sets and chains exactly as nft 1.0.6 lists them, without elements: what is created and what a
     * listing is compared with. Sets: {@code ports} every admitted port, {@code open}/{@code strict} the ports of
     * those modes, {@code macs} (port . MAC) for strict and MAC-only ports, {@code addrs} (port . IPv4) for strict
     * ones.
     */
    private static final String SKELETON = """
            \tset ports {
            \t\ttype ifname
            \t}

            \tset open {
            \t\ttype ifname
            \t}

            \tset strict {
            \t\ttype ifname
            \t}

            \tset macs {
            \t\ttype ifname . ether_addr
            \t}

            \tset addrs {
            \t\ttype ifname . ipv4_addr
            \t}

            \tchain prerouting {
            \t\ttype filter hook prerouting priority filter; policy accept;
            \t\tjump guard
            \t}

            \tchain input {
            \t\ttype filter hook input priority filter; policy accept;
            \t\tjump guard
            \t}

            \tchain guard {
            \t\tiifname != @ports return
            \t\tiifname @open goto servers
            \t\tiifname . ether saddr != @macs drop
            \t\tether type { 8021q, 8021ad } drop
            \t\tiifname . arp saddr ether != @macs drop
            \t\tiifname != @strict return
            \t\tether type != { ip, arp } drop
            \t\tarp saddr ip != 0.0.0.0 iifname . arp saddr ip != @addrs drop
            \t\tip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 return
            \t\tiifname . ip saddr != @addrs drop
            \t\tgoto servers
            \t}

            \tchain servers {
            \t\tudp sport 67 udp dport 68 drop
            \t\tudp sport 547 udp dport 546 drop
            \t\ticmpv6 type { nd-router-advert, nd-redirect } drop
            \t\ticmp type redirect drop
            \t}
            """;
    private static final List<String> SETS = List.of("ports", "open", "strict", "macs", "addrs");
    private static final Pattern SET_BLOCK = Pattern.compile(
            "\\tset (\\w+) \\{\\n\\t\\ttype [^\\n]*\\n(?:\\t\\telements = \\{([^}]*)\\}\\n)?\\t\\}\\n");
    private static final Pattern ELEMENTS_LINE = Pattern.compile("\\t\\telements = \\{[^}]*\\}\\n");
    /** One lock per table for the threads of this process; other processes are handled by retrying. */
    private static final Map<String, Object> LOCKS = new ConcurrentHashMap<>();

    private static final Logger LOG = LoggerFactory.getLogger(PortSecurity.class);

    private final String table;
    private final Object lock;

    /**
     * Port security of one owner, in the calling thread's network namespace; does nothing until first used.
     *
     * @param ownerTag a tag the caller derives from its state directory: 1-32 of {@code a-z0-9}
     * @throws InvalidNetworkSpecException if the tag is not of that form
     */
    PortSecurity(String ownerTag) {
        if (ownerTag == null || !OWNER.matcher(ownerTag).matches()) {
            throw new InvalidNetworkSpecException("a port-security owner tag is 1-32 characters of a-z and 0-9; got "
                    + (ownerTag == null ? "null" : "\"" + ownerTag + "\""));
        }
        this.table = "bridge tapwire_portsec_" + ownerTag;
        this.lock = LOCKS.computeIfAbsent(table, t -> new Object());
    }

    /**
     * The table's family and name, e.g. {@code bridge tapwire_portsec_1a2b3c4d}.
     *
     * @return the table
     */
    String table() {
        return table;
    }

    /**
     * Admits one port (replacing what it was admitted with before); idempotent.
     *
     * @param port the port's interface name
     * @param entry what it may send
     * @return what had to change, empty when the kernel had it already
     * @throws InvalidNetworkSpecException if the port name is not a valid interface name of {@code A-Za-z0-9_.-}
     * @throws dev.tapwire.network.DeviceOperationException if nftables refuses (with its error text)
     */
    List<String> admit(String port, Entry entry) {
        return admit(Map.of(port, entry), Map::of);
    }

    /**
     * Admits many ports in one transaction (a {@code configureAll}), replacing what each was admitted with before;
     * idempotent; other ports are left as they are. Ports none of which is admitted yet are added without reading
     * the table, whose listing costs time in proportion to every port admitted (its rules are then not compared:
     * {@link #reconcile} and {@link #verify} do that). Otherwise the kernel's table is read and the difference for
     * these ports applied — and when the table is missing (a {@code nft flush ruleset}) or its rules were altered,
     * it is recreated holding these ports and every port {@code everyone} names, so a flush between two configures
     * is undone by the second.
     *
     * @param entries port name to entry
     * @param everyone every port of this owner that should be filtered (asked for only when the table must be
     *     recreated), e.g. from the provider's records; these ports' entries win over it
     * @return what had to change, empty when the kernel had it already
     * @throws InvalidNetworkSpecException if a port name is not a valid interface name of {@code A-Za-z0-9_.-}
     * @throws dev.tapwire.network.DeviceOperationException if nftables refuses (with its error text)
     */
    List<String> admit(Map<String, Entry> entries, Supplier<Map<String, Entry>> everyone) {
        Map<String, Entry> expected = requireValid(entries);
        if (expected.isEmpty()) {
            return List.of();
        }
        synchronized (lock) {
            // "create element" on the ports set fails unless none of these ports is there, and a port's other
            // elements are only ever added and removed with its ports element, so then none of them has any
            StringBuilder sb = new StringBuilder();
            Map<String, Set<String>> want = elementsOf(expected);
            sb.append("create element ").append(table).append(" ports { ")
                    .append(String.join(", ", want.get("ports"))).append(" }\n");
            SETS.stream().filter(set -> !set.equals("ports")).forEach(set -> addElements(sb, set, want.get(set)));
            try {
                Nftables.run(sb.toString());
                List<String> added = expected.entrySet().stream()
                        .map(e -> "port " + e.getKey() + " lacked " + describe(e.getValue()) + ": added").toList();
                LOG.debug("port security {} admit: {}", table, String.join("; ", added));
                return added;
            } catch (Nftables.NftablesException e) {
                // a port was admitted already (EEXIST) or the table is missing (ENOENT): compare with the kernel
                LOG.debug("port security {} admit: {}; comparing with the kernel's table", table, e.getMessage());
            }
            return apply(expected.keySet()::contains, expected, expected.keySet(), () -> {
                Map<String, Entry> all = new TreeMap<>(requireValid(everyone.get()));
                all.putAll(expected);
                return all;
            }, "admit");
        }
    }

    /**
     * Removes ports' elements (their TAPs are gone or leave the bridge); ports that have none are fine.
     *
     * @param ports the port names
     * @return what had to change
     * @throws InvalidNetworkSpecException if a port name is not a valid interface name of {@code A-Za-z0-9_.-}
     * @throws dev.tapwire.network.DeviceOperationException if nftables refuses (with its error text)
     */
    List<String> revoke(Collection<String> ports) {
        Set<String> scope = new TreeSet<>();
        ports.forEach(p -> scope.add(requirePort(p)));
        if (scope.isEmpty()) {
            return List.of();
        }
        return apply(scope::contains, Map.of(), Set.of(), null, "revoke");
    }

    /**
     * Removes ports' elements as {@link #revoke(Collection)} does, knowing what they were admitted with (the
     * provider's records): the elements are deleted in one transaction without reading the table, whose listing
     * costs time in proportion to every port admitted. When that fails (an element is missing or other: a flush,
     * a missed delete, a record that is not what the kernel holds), the table is read and the difference applied.
     *
     * @param admitted port name to the entry it was admitted with
     * @return what had to change
     * @throws InvalidNetworkSpecException if a port name is not a valid interface name of {@code A-Za-z0-9_.-}
     * @throws dev.tapwire.network.DeviceOperationException if nftables refuses (with its error text)
     */
    List<String> revoke(Map<String, Entry> admitted) {
        Map<String, Entry> known = requireValid(admitted);
        if (known.isEmpty()) {
            return List.of();
        }
        synchronized (lock) {
            StringBuilder sb = new StringBuilder();
            elementsOf(known).forEach((set, elements) -> {
                if (!elements.isEmpty()) {
                    sb.append("delete element ").append(table).append(' ').append(set).append(" { ")
                            .append(String.join(", ", elements)).append(" }\n");
                }
            });
            try {
                Nftables.run(sb.toString());
                LOG.debug("port security {} revoke: ports {}", table, known.keySet());
                return known.keySet().stream().map(port -> "port " + port + ": revoked").toList();
            } catch (Nftables.NftablesException e) {
                LOG.debug("port security {} revoke: {}; comparing with the kernel's table", table, e.getMessage());
            }
            return revoke(known.keySet());
        }
    }

    /**
     * Makes the kernel hold exactly these ports and no others (level-triggered: after a restart, a flush, a missed
     * delete): recreates the table if it is missing or its rules were changed, adds what is missing, removes
     * elements of ports that are not expected.
     *
     * @param expected every port of this owner that should be filtered, with its entry
     * @return what was repaired, empty when the kernel was exact
     * @throws InvalidNetworkSpecException if a port name is not a valid interface name of {@code A-Za-z0-9_.-}
     * @throws dev.tapwire.network.DeviceOperationException if nftables refuses (with its error text)
     */
    List<String> reconcile(Map<String, Entry> expected) {
        Map<String, Entry> valid = requireValid(expected);
        return apply(port -> true, valid, Set.of(), null, "reconcile");
    }

    /**
     * Compares the kernel's table with what is expected for these ports, changing nothing.
     *
     * @param expected ports of this owner that should be filtered, with their entries; other ports are not looked
     *     at (for ports admitted but no longer expected, give every port: {@link #reconcile} removes them)
     * @param exhaustive whether {@code expected} names every port of this owner, so that any other port admitted
     *     counts as wrong
     * @return what is wrong (a missing or altered table, a port's missing or foreign elements), empty when exact
     * @throws InvalidNetworkSpecException if a port name is not a valid interface name of {@code A-Za-z0-9_.-}
     * @throws dev.tapwire.network.DeviceOperationException if nftables cannot list the table
     */
    List<String> verify(Map<String, Entry> expected, boolean exhaustive) {
        Map<String, Entry> valid = requireValid(expected);
        synchronized (lock) {
            return plan(read(), exhaustive ? port -> true : valid::containsKey, valid, Set.of()).problems;
        }
    }

    /**
     * Deletes this owner's table (its last port is gone); a missing table is fine.
     *
     * @throws dev.tapwire.network.DeviceOperationException if nftables refuses
     */
    void drop() {
        synchronized (lock) {
            // "add" first makes the delete safe when the table is missing; both are one transaction
            Nftables.run("add table " + table + "\ndelete table " + table + "\n");
        }
        LOG.debug("deleted {}", table);
    }

    /**
     * The ports the kernel's table admits now, with their entries (for the GC and for tests).
     *
     * @return port name to entry, empty when the table is missing; a port whose elements do not form one entry is
     *     left out
     * @throws dev.tapwire.network.DeviceOperationException if nftables cannot list the table
     */
    Map<String, Entry> admitted() {
        Map<String, Entry> out = new TreeMap<>();
        Optional<Kernel> kernel = read();
        if (kernel.isEmpty()) {
            return out;
        }
        Map<String, Set<String>> sets = kernel.get().elements;
        for (String port : kernel.get().ports()) {
            Set<String> macs = valuesOf(sets.get("macs"), port);
            Set<String> addrs = valuesOf(sets.get("addrs"), port);
            boolean open = sets.get("open").contains(quote(port));
            boolean strict = sets.get("strict").contains(quote(port));
            if (!sets.get("ports").contains(quote(port)) || macs.size() > 1 || addrs.size() > 1) {
                continue;
            }
            Optional<MacAddress> mac = macs.stream().findFirst().map(MacAddress::parse);
            Optional<Ipv4Address> ip = addrs.stream().findFirst().map(Ipv4Address::parse);
            try {
                Mode mode = open && !strict ? Mode.OPEN : strict && !open ? Mode.STRICT : Mode.MAC_ONLY;
                out.put(port, new Entry(mode, mac, ip));
            } catch (InvalidNetworkSpecException e) {
                LOG.debug("port {} of {} holds no consistent entry: {}", port, table, e.getMessage());
            }
        }
        return out;
    }

    // ------------------------------------------------------------------ the difference

    private List<String> apply(Predicate<String> scope, Map<String, Entry> expected, Set<String> admitting,
            Supplier<Map<String, Entry>> everyone, String operation) {
        synchronized (lock) {
            for (int attempt = 1; ; attempt++) {
                Optional<Kernel> kernel = read();
                boolean recreate = kernel.isEmpty() || !kernel.get().intact;
                Plan plan = recreate && everyone != null ? plan(kernel, port -> true, everyone.get(), admitting)
                        : plan(kernel, scope, expected, admitting);
                if (plan.commands.isEmpty()) {
                    return List.of();
                }
                try {
                    Nftables.run(plan.commands);
                    // a lost or altered table, and any drift reconcile finds, is what an operator must know
                    if (plan.lost || operation.equals("reconcile")) {
                        LOG.warn("port security {} {}: {}", table, operation, String.join("; ", plan.problems));
                    } else {
                        LOG.debug("port security {} {}: {}", table, operation, String.join("; ", plan.problems));
                    }
                    return plan.problems;
                } catch (Nftables.NftablesException e) {
                    // another process changed the table between the listing and the transaction (an element it
                    // deleted, a table it created): nothing of ours was applied; read again
                    if (attempt == ATTEMPTS) {
                        throw e;
                    }
                    LOG.debug("port security {} {}: conflict ({}), retrying", table, operation, e.getMessage());
                }
            }
        }
    }

    /** What the kernel's table holds: whether its rules are ours, and each set's elements in nft syntax. */
    private record Kernel(boolean intact, Map<String, Set<String>> elements) {
        Set<String> ports() {
            Set<String> ports = new TreeSet<>();
            elements.values().forEach(set -> set.forEach(e -> ports.add(portOf(e))));
            return ports;
        }
    }

    /** What to run, what it repairs, and whether that includes a table lost or altered since it was made. */
    private record Plan(List<String> problems, String commands, boolean lost) {
    }

    /**
     * The commands that make the ports in scope hold exactly their expected elements.
     *
     * @param admitting the ports being admitted by this call: a missing table holding no other expected port
     *     is a first use, not a loss
     */
    private Plan plan(Optional<Kernel> kernel, Predicate<String> scope, Map<String, Entry> expected,
            Set<String> admitting) {
        Map<String, Set<String>> want = elementsOf(expected);
        List<String> problems = new ArrayList<>();
        if (kernel.isEmpty() && expected.isEmpty()) {
            return new Plan(problems, "", false); // nothing to filter, no table needed
        }
        if (kernel.isEmpty() || !kernel.get().intact) {
            boolean lost = kernel.isPresent() || !admitting.containsAll(expected.keySet());
            problems.add("nftables table " + table + (kernel.isPresent()
                    ? "'s rules were changed by someone else: recreated"
                    : lost ? " was missing (was the ruleset flushed, or the host restarted?): recreated" : " created"));
            // keep the elements of ports out of scope that the kernel still had; the ports in scope get theirs
            Map<String, Set<String>> keep = new LinkedHashMap<>();
            for (String set : SETS) {
                Set<String> elements = new TreeSet<>(want.get(set));
                kernel.ifPresent(k -> k.elements.get(set).stream().filter(e -> !scope.test(portOf(e)))
                        .forEach(elements::add));
                keep.put(set, elements);
            }
            StringBuilder sb = new StringBuilder();
            if (kernel.isEmpty()) {
                sb.append("create table ").append(table).append('\n'); // fails if another process made it meanwhile
            } else {
                sb.append("delete table ").append(table).append('\n');
            }
            sb.append("table ").append(table).append(" {\n").append(SKELETON).append("}\n");
            keep.forEach((set, elements) -> addElements(sb, set, elements));
            return new Plan(problems, sb.toString(), lost);
        }
        StringBuilder sb = new StringBuilder();
        Map<String, Set<String>> have = kernel.get().elements;
        Set<String> extraPorts = new TreeSet<>();
        Set<String> missingPorts = new TreeSet<>();
        Map<String, Set<String>> deletes = new LinkedHashMap<>();
        Map<String, Set<String>> adds = new LinkedHashMap<>();
        for (String set : SETS) {
            Set<String> del = new TreeSet<>();
            for (String e : have.get(set)) {
                if (scope.test(portOf(e)) && !want.get(set).contains(e)) {
                    del.add(e);
                    extraPorts.add(portOf(e));
                }
            }
            Set<String> add = new TreeSet<>();
            for (String e : want.get(set)) {
                if (!have.get(set).contains(e)) {
                    add.add(e);
                    missingPorts.add(portOf(e));
                }
            }
            deletes.put(set, del);
            adds.put(set, add);
        }
        deletes.forEach((set, elements) -> {
            if (!elements.isEmpty()) {
                sb.append("delete element ").append(table).append(' ').append(set).append(" { ")
                        .append(String.join(", ", elements)).append(" }\n");
            }
        });
        adds.forEach((set, elements) -> addElements(sb, set, elements));
        for (String port : new TreeSet<>(extraPorts)) {
            if (expected.containsKey(port)) {
                problems.add("port " + port + " had elements other than " + describe(expected.get(port))
                        + ": replaced");
                missingPorts.remove(port);
            } else {
                problems.add("port " + port + " was admitted but is not expected: revoked");
            }
        }
        for (String port : missingPorts) {
            problems.add("port " + port + " lacked " + describe(expected.get(port)) + ": added");
        }
        return new Plan(problems, sb.toString(), false);
    }

    private void addElements(StringBuilder sb, String set, Set<String> elements) {
        if (!elements.isEmpty()) {
            sb.append("add element ").append(table).append(' ').append(set).append(" { ")
                    .append(String.join(", ", elements)).append(" }\n");
        }
    }

    private static Map<String, Set<String>> elementsOf(Map<String, Entry> entries) {
        Map<String, Set<String>> sets = new HashMap<>();
        SETS.forEach(s -> sets.put(s, new TreeSet<>()));
        entries.forEach((port, entry) -> {
            String p = quote(port);
            sets.get("ports").add(p);
            switch (entry.mode()) {
                case OPEN -> sets.get("open").add(p);
                case STRICT -> {
                    sets.get("strict").add(p);
                    sets.get("addrs").add(p + " . " + entry.ip().orElseThrow());
                }
                case MAC_ONLY -> {
                }
            }
            entry.mac().ifPresent(mac -> sets.get("macs").add(p + " . " + mac));
        });
        return sets;
    }

    private static String describe(Entry entry) {
        return switch (entry.mode()) {
            case OPEN -> "its open (unfiltered) entry";
            case MAC_ONLY -> "its MAC " + entry.mac().orElseThrow();
            case STRICT -> "its MAC " + entry.mac().orElseThrow() + " and address " + entry.ip().orElseThrow();
        };
    }

    // ------------------------------------------------------------------ the kernel's listing

    private Optional<Kernel> read() {
        String listing;
        try {
            listing = Nftables.run("list table " + table);
        } catch (Nftables.NftablesException e) {
            if (e.isNoSuchObject()) {
                return Optional.empty();
            }
            throw e;
        }
        return Optional.of(parse(table, listing));
    }

    /** Reads a listing of the table: its elements per set, and whether the rest is exactly {@link #SKELETON}. */
    private static Kernel parse(String table, String listing) {
        String header = "table " + table + " {\n";
        String body = listing.startsWith(header) && listing.endsWith("}\n")
                ? listing.substring(header.length(), listing.length() - 2) : "";
        boolean intact = ELEMENTS_LINE.matcher(body).replaceAll("").equals(SKELETON);
        Map<String, Set<String>> elements = new HashMap<>();
        SETS.forEach(s -> elements.put(s, new TreeSet<>()));
        Matcher m = SET_BLOCK.matcher(body);
        while (m.find()) {
            Set<String> set = elements.get(m.group(1));
            if (set != null && m.group(2) != null) {
                for (String e : m.group(2).split(",")) {
                    String element = e.strip().replaceAll("\\s+", " ");
                    if (!element.isEmpty()) {
                        set.add(element);
                    }
                }
            }
        }
        return new Kernel(intact, elements);
    }

    private static Set<String> valuesOf(Set<String> elements, String port) {
        Set<String> values = new TreeSet<>();
        String prefix = quote(port) + " . ";
        elements.stream().filter(e -> e.startsWith(prefix)).forEach(e -> values.add(e.substring(prefix.length())));
        return values;
    }

    private static String portOf(String element) {
        int end = element.indexOf('"', 1);
        return end > 0 ? element.substring(1, end) : element;
    }

    private static String quote(String port) {
        return "\"" + port + "\"";
    }

    private static Map<String, Entry> requireValid(Map<String, Entry> entries) {
        Map<String, Entry> valid = new TreeMap<>();
        entries.forEach((port, entry) -> {
            if (entry == null) {
                throw new InvalidNetworkSpecException("port " + port + " has no port-security entry (strict, MAC "
                        + "only or open)");
            }
            valid.put(requirePort(port), entry);
        });
        return valid;
    }

    private static String requirePort(String port) {
        if (port == null || !PORT.matcher(port).matches()) {
            throw new InvalidNetworkSpecException("a port-security port is an interface name of 1-15 characters of "
                    + "A-Z, a-z, 0-9, '_', '.' and '-'; got " + (port == null ? "null" : "\"" + port + "\""));
        }
        return port;
    }
}
