package dev.tapwire.network.bridge;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.DeviceOperationException.Reason;
import dev.tapwire.network.HostRecord;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkNames;
import dev.tapwire.network.NetworkNotFoundException;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.Placement;
import dev.tapwire.network.PlacementRegistry;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.bridge.linux.Interfaces;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Nftables;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.gc.ActiveVmSnapshot;
import dev.tapwire.network.gc.GcModule;
import dev.tapwire.network.lock.Lease;
import dev.tapwire.network.lock.LockFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes named networks real on this host, in the network namespace of the calling thread: a bridge per
 * network holding the gateway address, a dnsmasq per network serving static DHCP leases (member MAC →
 * member address) and DNS names ({@code <workspace>} and {@code <workspace>.<network>}) from the registry,
 * and this state directory's nftables table ({@code inet tapwire_<owner tag>}) keeping the guests from each other's
 * networks, from the host (only DHCP, DNS, ICMP and allow-listed ports on their own gateway) and from the outside
 * (only NAT networks' own subnets leave; nothing unsolicited comes in), with the bridges' sysctls answering ARP only for
 * their gateway and taking no IPv6. What this realizer makes is scoped by owner — the state directory, through
 * {@link #ownerTag} — and by network namespace: it never adopts, replaces or deletes another owner's bridge or table,
 * and a realization recorded in another live namespace is not acted on. The state directory and {@code realized/}
 * must be writable by no one else; nothing read from them is trusted unchecked.
 *
 * <p>Works against any {@link NetworkRegistry} (file, etcd or a user's own). The realization record of a network
 * lives under {@code rootDir/realized/<network>/}; what dnsmasq reads and writes (its watched host directories,
 * pid file, leases, log) lives under {@link #runtimeDir(Path)} — {@code /run/tapwire/<id>/<network>/} — because
 * dnsmasq drops root to {@code nobody}, which cannot read a private state directory (mode 0700 is fine for it).
 * Every change holds {@code rootDir/realized/realize.lock}, so two processes realizing one network make one
 * bridge and one dnsmasq.
 *
 * <pre>{@code
 * NetworkRealizer realizer = new NetworkRealizer(stateDir, registry);
 * realizer.realize("team", false);      // bridge tw-team with the gateway, dnsmasq, isolation rules
 * try (RegistryWatch following = realizer.follow()) {
 *     registry.join("team", "web");     // from any process: web and web.team resolve within 2 s,
 *     registry.leave("team", "web");    // and stop resolving within 2 s; dnsmasq never stops serving
 * }
 * }</pre>
 */
public final class NetworkRealizer {

    /** The alias prefix that marks a bridge as a tapwire network's; the network name follows. */
    public static final String ALIAS_PREFIX = "tapwire-net:";

    private static final Logger LOG = LoggerFactory.getLogger(NetworkRealizer.class);
    private static final Pattern DNS_LABEL = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?");
    private static final int IFNAMSIZ = 15;
    private static final Pattern NAMESPACE = Pattern.compile("net:\\[[0-9]{1,20}\\]");

    /** One digest per thread: looking one up costs more than hashing an entry. */
    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new RealizationException("SHA-256 is missing from this JVM", e); // every JVM must have it
        }
    });

    /** How often a follower re-reads the whole registry even when its watch reported nothing. */
    static final Duration RESYNC_PERIOD = Duration.ofSeconds(10);

    private final Path root;
    private final Path runtime;
    private final Path stateDir;
    private final NetworkRegistry registry;
    private final LockFile lock;
    private final String owner;
    private final Firewall firewall;
    private final Forwarding forwarding;
    private final Optional<Fleet> fleet;
    private final Overlay overlay;
    private final OverlayFilter overlayFilter;
    /**
     * Serialises this realizer's overlay changes with its unrealizes — not the state lock, which a registry sync holds
     * for tens of milliseconds (rules and sysctls checked), and which a member placed elsewhere must not wait for.
     */
    private final Object overlays = new Object();
    /** Clashes (MACs, names differing in case) already warned about, so a periodic resync does not repeat them. */
    private final Set<String> warned = ConcurrentHashMap.newKeySet();
    private final Object following = new Object();
    /** The running follower, if any; guarded by {@link #following}. */
    private Follower follower;
    /** Restarts a network's dnsmasq that died, while a follower runs; guarded by {@link #following}. */
    private DnsmasqWatchdog watchdog;

    /**
     * Creates a realizer for the networks of {@code registry}, keeping its state under {@code rootDir/realized}.
     *
     * @param rootDir the root (state) directory, as given to the bridge provider
     * @param registry the registry the networks live in
     * @throws InvalidNetworkSpecException if an argument is null
     */
    public NetworkRealizer(Path rootDir, NetworkRegistry registry) {
        this(rootDir, registry, Optional.empty());
    }

    /**
     * Creates a realizer for the networks of {@code registry} on one host of a fleet: while {@link Fleet#placements}
     * spans hosts, every network it realizes gets an overlay ({@link Realization#overlay}): the fleet-wide gateway
     * MAC on its bridge, an MTU that leaves room for VXLAN, and DHCP leases only for the members placed on this host
     * (DNS still answers for every member, wherever it runs).
     *
     * @param rootDir the root (state) directory, as given to the bridge provider
     * @param registry the registry the networks live in
     * @param fleet this host's place in the fleet
     * @throws InvalidNetworkSpecException if an argument is null
     */
    public NetworkRealizer(Path rootDir, NetworkRegistry registry, Fleet fleet) {
        this(rootDir, registry, Optional.of(requireFleet(fleet)));
    }

    private static Fleet requireFleet(Fleet fleet) {
        if (fleet == null) {
            throw new InvalidNetworkSpecException("a fleet realizer needs its fleet (host, placements, underlay MTU)");
        }
        return fleet;
    }

    private NetworkRealizer(Path rootDir, NetworkRegistry registry, Optional<Fleet> fleet) {
        if (rootDir == null || registry == null) {
            throw new InvalidNetworkSpecException("a realizer needs a root directory and a registry");
        }
        this.fleet = fleet;
        this.root = stateOf(rootDir);
        this.stateDir = rootDir;
        this.runtime = runtimeDir(rootDir);
        this.registry = registry;
        this.lock = LockFile.at(root.resolve("realize.lock"));
        this.owner = ownerTag(rootDir);
        this.firewall = new Firewall(owner, root.resolve("ruleset.listing"));
        this.forwarding = new Forwarding(root.resolve("ip_forward.before"));
        this.overlay = new Overlay(owner);
        this.overlayFilter = new OverlayFilter(owner);
    }

    /**
     * This host's place in a fleet, as a realizer across hosts needs it.
     *
     * @param placements where the members of the networks run (which host, which guest MAC)
     * @param host this host's name, as its placements carry it
     * @param underlayMtu the MTU of the interface the overlay's packets leave by; a network realized with an overlay
     *     gets at most this less {@link Realization#VXLAN_OVERHEAD}
     */
    public record Fleet(PlacementRegistry placements, String host, int underlayMtu) {

        /**
         * Validates the fleet settings.
         *
         * @param placements where the members of the networks run (which host, which guest MAC)
         * @param host this host's name, as its placements carry it
         * @param underlayMtu the MTU of the interface the overlay's packets leave by; a network realized with an
         *     overlay gets at most this less {@link Realization#VXLAN_OVERHEAD}
         * @throws InvalidNetworkSpecException if placements are missing, the host name is invalid or the underlay
         *     MTU leaves less than {@value Realization#MIN_OVERLAY_MTU} bytes once VXLAN's {@value Realization#VXLAN_OVERHEAD}
         *     are taken (or exceeds {@value Realization#MAX_MTU})
         */
        public Fleet {
            if (placements == null) {
                throw new InvalidNetworkSpecException("a fleet needs its placement registry");
            }
            if (!HostRecord.isValidName(host)) {
                throw new InvalidNetworkSpecException("invalid host name \"" + host + "\": accepted are 1-253"
                        + " characters of a-z, A-Z, 0-9, '.', '-' and '_', not starting with '.' or '-'");
            }
            if (underlayMtu - Realization.VXLAN_OVERHEAD < Realization.MIN_OVERLAY_MTU
                    || underlayMtu > Realization.MAX_MTU) {
                throw new InvalidNetworkSpecException("underlay MTU " + underlayMtu + " is out of range: an overlay"
                        + " needs " + (Realization.MIN_OVERLAY_MTU + Realization.VXLAN_OVERHEAD) + "–" + Realization.MAX_MTU
                        + " (VXLAN over IPv4 takes " + Realization.VXLAN_OVERHEAD + " bytes)");
            }
        }

        /**
         * Returns the largest MTU a network with an overlay can have here: the underlay's less VXLAN's.
         *
         * @return the MTU
         */
        public int overlayMtu() {
            return underlayMtu - Realization.VXLAN_OVERHEAD;
        }
    }

    /**
     * Returns this host's place in a fleet, when the realizer was made for one.
     *
     * @return the fleet settings, or empty for a single-host realizer
     */
    public Optional<Fleet> fleet() {
        return fleet;
    }

    /**
     * Returns the tag that scopes what the realizer of {@code rootDir} owns on a host — its nftables tables, the MACs
     * its bridges are recognised by —: 16 hex digits of the SHA-256 of the state directory's absolute path, the same
     * as the name of its {@link #runtimeDir}. Two state directories never share one.
     *
     * @param rootDir the root (state) directory, as given to the bridge provider
     * @return the tag, 16 characters of {@code 0-9a-f}
     */
    public static String ownerTag(Path rootDir) {
        return runtimeDir(rootDir).getFileName().toString();
    }

    /**
     * Returns the MAC a bridge of this owner carries for a network: derived from the owner tag and the network
     * name, set when the bridge is made. With the alias it tells this owner's bridge from a same-named network's
     * bridge of another state directory, and a half-made bridge (no alias yet) of this owner from anyone else's.
     *
     * @param network the network name
     * @return the bridge (gateway) MAC, locally administered and unicast
     */
    MacAddress bridgeMac(String network) {
        return bridgeMac(owner, network);
    }

    private static MacAddress bridgeMac(String ownerTag, String network) {
        byte[] bytes = java.util.Arrays.copyOf(sha256("tapwire-gateway-mac\0" + ownerTag + "\0" + network), 6);
        bytes[0] = (byte) ((bytes[0] & 0xfe) | 0x02);
        return MacAddress.of(bytes);
    }

    /**
     * The MAC a realization's bridge carries: on one host this owner's ({@link #bridgeMac}); with an overlay the
     * fleet-wide {@link MacAddress#forGateway}, so that every host's bridge answers for the gateway with one address
     * and a guest moved to another host finds its gateway where its ARP cache says.
     */
    private MacAddress bridgeMacOf(Realization r) {
        return r.overlay() ? MacAddress.forGateway(r.network()) : bridgeMac(r.network());
    }
    /**
     * Tells whether any network was ever realized under {@code rootDir} — a check that reads no registry and
     * creates nothing, for callers (a CLI, a GC) that want a realizer only where there is something to keep up.
     *
     * @param rootDir the root (state) directory, as given to the bridge provider
     * @return true when realization state exists there
     */
    public static boolean anyUnder(Path rootDir) {
        return Files.isDirectory(stateOf(rootDir));
    }

    private static Path stateOf(Path rootDir) {
        return rootDir.resolve("realized");
    }

    /**
     * Returns where the dnsmasq data of the networks realized under {@code rootDir} lives:
     * {@code /run/tapwire/<id>}, {@code <id>} being 16 hex digits of the SHA-256 of {@code rootDir}'s absolute path.
     * Realizing creates it (mode 0755, owned by this user, no link followed); removing the last realization
     * removes it. Nothing is created by this call.
     *
     * @param rootDir the root (state) directory, as given to the bridge provider
     * @return the directory
     */
    public static Path runtimeDir(Path rootDir) {
        return RuntimeDirectory.of(rootDir);
    }

    /**
     * Returns the registry this realizer reads.
     *
     * @return the registry
     */
    public NetworkRegistry registry() {
        return registry;
    }

    /**
     * Returns the bridge name of a network, as {@link NetworkNames#bridgeName} gives it: {@code tw-<name>}, or
     * {@code tw_} and 12 hex digits of the name's SHA-256 for names too long for the kernel's 15 bytes.
     *
     * @param network the network name
     * @return the bridge name
     * @throws InvalidNetworkSpecException if the name is not a valid network name
     */
    public static String bridgeName(String network) {
        return NetworkNames.bridgeName(network);
    }

    /**
     * Tells whether a workspace name can be a DNS name: a label of 1-63 letters, digits and inner hyphens. A
     * member whose name cannot still joins and gets its DHCP lease, but has no DNS name.
     *
     * @param workspace the member name
     * @return true when {@code <workspace>} and {@code <workspace>.<network>} resolve
     */
    public static boolean hasDnsName(String workspace) {
        return workspace != null && DNS_LABEL.matcher(workspace).matches();
    }

    /**
     * Says why realization cannot run here (dnsmasq or libnftables missing), naming the Debian packages.
     *
     * @return the reason, or empty when it can run
     */
    public static Optional<String> unavailabilityCause() {
        List<String> causes = new ArrayList<>();
        BridgeNetworkProvider.unavailabilityCause().ifPresent(causes::add);
        Dnsmasq.unavailabilityCause().ifPresent(causes::add);
        Nftables.unavailabilityCause().ifPresent(causes::add);
        return causes.isEmpty() ? Optional.empty() : Optional.of(String.join("; ", causes));
    }

    // ------------------------------------------------------------------ realize / unrealize

    /**
     * How a network is to be realized: NAT, the guest-port settings, the host ports its guests may reach and its MTU.
     *
     * @param nat whether its traffic leaving the host is masqueraded (enables IPv4 forwarding)
     * @param portSecurity whether guest ports may send only with their own MAC and address (default true)
     * @param isolated whether guest ports are isolated from each other (default false)
     * @param hostPorts the host ports guests may reach on the gateway besides DHCP, DNS and ICMP (default none)
     * @param mtu the MTU of the bridge, of every guest TAP on it and of the guests (DHCP option 26), 68–65535
     *     (default 1500)
     */
    public record Options(boolean nat, boolean portSecurity, boolean isolated, List<HostPort> hostPorts, int mtu) {

        /**
         * Validates the options.
         *
         * @param nat whether its traffic leaving the host is masqueraded (enables IPv4 forwarding)
         * @param portSecurity whether guest ports may send only with their own MAC and address (default true)
         * @param isolated whether guest ports are isolated from each other (default false)
         * @param hostPorts the host ports guests may reach on the gateway besides DHCP, DNS and ICMP (default none)
         * @param mtu the MTU of the bridge, of every guest TAP on it and of the guests (DHCP option 26), 68–65535
         *     (default 1500)
         * @throws InvalidNetworkSpecException if the host-port list is null or holds null, or the MTU is out of range
         */
        public Options {
            Realization.requireMtu(mtu);
            if (hostPorts == null || hostPorts.stream().anyMatch(java.util.Objects::isNull)) {
                throw new InvalidNetworkSpecException("realize options need a host-port list without nulls (empty for"
                        + " none); got " + hostPorts);
            }
            hostPorts = List.copyOf(new TreeSet<>(hostPorts));
        }

        /**
         * Options with the default MTU (1500).
         *
         * @param nat whether its traffic leaving the host is masqueraded
         * @param portSecurity whether guest ports are port-secured
         * @param isolated whether guest ports are isolated from each other
         * @param hostPorts the host ports guests may reach on the gateway
         * @throws InvalidNetworkSpecException if the host-port list is null or holds null
         */
        public Options(boolean nat, boolean portSecurity, boolean isolated, List<HostPort> hostPorts) {
            this(nat, portSecurity, isolated, hostPorts, Realization.DEFAULT_MTU);
        }

        /**
         * The defaults: no NAT, port security on, ports not isolated, no host ports, MTU 1500.
         *
         * @return the options
         */
        public static Options defaults() {
            return new Options(false, true, false, List.of(), Realization.DEFAULT_MTU);
        }

        /**
         * These options with NAT on or off.
         *
         * @param on whether to masquerade
         * @return the options
         */
        public Options withNat(boolean on) {
            return new Options(on, portSecurity, isolated, hostPorts, mtu);
        }

        /**
         * These options with port security on or off.
         *
         * @param on whether guest ports are port-secured
         * @return the options
         */
        public Options withPortSecurity(boolean on) {
            return new Options(nat, on, isolated, hostPorts, mtu);
        }

        /**
         * These options with guest ports isolated from each other or not.
         *
         * @param on whether guest ports are isolated
         * @return the options
         */
        public Options withIsolated(boolean on) {
            return new Options(nat, portSecurity, on, hostPorts, mtu);
        }

        /**
         * These options with these host ports.
         *
         * @param ports the host ports guests may reach on the gateway
         * @return the options
         * @throws InvalidNetworkSpecException if the list is null or holds null
         */
        public Options withHostPorts(List<HostPort> ports) {
            return new Options(nat, portSecurity, isolated, ports, mtu);
        }

        /**
         * These options with this MTU: the bridge's, every guest TAP's on it, and the one DHCP gives the guests.
         *
         * @param mtu the MTU, 68–65535
         * @return the options
         * @throws InvalidNetworkSpecException if the MTU is out of range
         */
        public Options withMtu(int mtu) {
            return new Options(nat, portSecurity, isolated, hostPorts, mtu);
        }

        private static Options of(Realization r) {
            return new Options(r.nat(), r.portSecurity(), r.isolated(), r.hostPorts(), r.mtu());
        }
    }

    /**
     * Realizes a network, or repairs and updates its realization: tapwire's nftables table first (nothing is served
     * before the rules are in), then the bridge with alias, gateway address, MTU and tapwire's sysctls, up (guest TAPs
     * already on it take a changed MTU), then dnsmasq with the registry's members and the MTU as DHCP option 26
     * (restarted when NAT or the MTU changed). Idempotent. All or nothing: when a step fails, what this call made is removed
     * again. The other settings (port security, isolation, host ports, MTU) are kept as recorded, or the defaults for a
     * network not realized yet.
     *
     * @param network the network
     * @param nat whether its traffic leaving the host is masqueraded (enables IPv4 forwarding)
     * @return the realization
     * @throws NetworkNotFoundException if the registry has no such network
     * @throws DeviceOperationException if a device of the bridge's name exists and is not this network's bridge of
     *     this state directory, the network's subnet overlaps a realized network's, the network is realized from
     *     another network namespace, dnsmasq cannot start (its own message), or nftables refuses the rules
     * @throws RealizationException if dnsmasq or libnftables is missing (naming the package), or the state directory
     *     cannot be trusted, read or written
     */
    public Realization realize(String network, boolean nat) {
        return realize(network, current -> current.withNat(nat));
    }

    /**
     * Realizes a network as {@link #realize(String, boolean)} does, with these options.
     *
     * @param network the network
     * @param options NAT, guest-port settings and host ports
     * @return the realization
     * @throws InvalidNetworkSpecException if options is null
     * @throws NetworkNotFoundException if the registry has no such network
     * @throws DeviceOperationException as {@link #realize(String, boolean)}
     */
    public Realization realize(String network, Options options) {
        if (options == null) {
            throw new InvalidNetworkSpecException("realize needs options (Options.defaults() for the defaults)");
        }
        return realize(network, current -> options);
    }

    /**
     * Realizes a network as {@link #realize(String, boolean)} does, keeping its recorded settings (the defaults for
     * a network not realized yet).
     *
     * @param network the network
     * @return the realization
     * @throws NetworkNotFoundException if the registry has no such network
     * @throws DeviceOperationException as {@link #realize(String, boolean)}
     */
    public Realization realize(String network) {
        return realize(network, current -> current);
    }

    /** Realizes with the options {@code change} makes of the recorded ones (the defaults for a new realization). */
    private Realization realize(String network, java.util.function.UnaryOperator<Options> change) {
        requireAvailable();
        NetworkRecord record = registry.get(network);
        try (Lease held = lockState()) {
            refuseOtherNamespace(network, "realize");
            Optional<Realization> before = readHere(network);
            Options options = change.apply(before.map(Options::of).orElse(Options.defaults()));
            boolean overlay = fleet.map(f -> f.placements().spansHosts())
                    .orElseGet(() -> before.map(Realization::overlay).orElse(false)); // without a fleet: as recorded
            return realizeLocked(new Realization(network, bridgeName(network), record.subnet(), record.gateway(),
                    options.nat(), options.portSecurity(), options.isolated(), options.hostPorts(),
                    overlay ? overlayMtu(network, options.mtu()) : options.mtu(), overlay), record, before);
        }
    }

    /**
     * The MTU of a network with an overlay: the one asked for when it fits the underlay less VXLAN's 50 bytes, else
     * that much (a warning: a larger MTU would black-hole full-sized packets between hosts).
     */
    private int overlayMtu(String network, int asked) {
        if (asked < Realization.MIN_OVERLAY_MTU) {
            throw new InvalidNetworkSpecException("network " + network + " spans hosts and cannot have MTU " + asked
                    + ": a network across hosts has an MTU of " + Realization.MIN_OVERLAY_MTU + " (IPv4's least) up to"
                    + " the underlay's less " + Realization.VXLAN_OVERHEAD);
        }
        int most = fleet.map(Fleet::overlayMtu).orElse(asked); // a recorded overlay was clamped when it was made
        if (asked <= most) {
            return asked;
        }
        if (asked == Realization.DEFAULT_MTU) { // no MTU was asked for: Ethernet's default simply does not fit
            LOG.debug("network {} spans hosts: MTU {} (the underlay's less VXLAN's {} bytes)", network, most,
                    Realization.VXLAN_OVERHEAD);
        } else if (warned.add("mtu:" + network + ":" + asked)) {
            LOG.warn("network {} spans hosts over an underlay of MTU {}: its MTU {} is lowered to {} (VXLAN takes {}"
                    + " bytes; a larger MTU would drop full-sized packets between hosts)", network,
                    most + Realization.VXLAN_OVERHEAD, asked, most, Realization.VXLAN_OVERHEAD);
        }
        return most;
    }

    /**
     * Returns a network's realization, realizing (repairing) it first unless it is realized here with its bridge
     * present, up, at the network's MTU and set as tapwire sets it, its dnsmasq running and tapwire's table as the
     * realized networks imply — the check a configure makes on every call, so a flushed ruleset or a realize that died
     * half-way is put right by the next configure.
     *
     * @param network the network
     * @return the realization
     * @throws NetworkNotFoundException if the registry has no such network
     * @throws DeviceOperationException as {@link #realize(String, boolean)}
     */
    public Realization ensureRealized(String network) {
        Optional<Realization> r = readHere(network);
        if (r.isPresent() && dnsmasq(network).pid().isPresent()) {
            boolean bridgeReady;
            try (Rtnetlink netlink = Rtnetlink.open()) {
                bridgeReady = netlink.link(r.get().bridge())
                        .filter(l -> isBridgeOf(l, network) && l.isUp() && l.mtu() == r.get().mtu()).isPresent();
            }
            if (bridgeReady && BridgeSysctls.problems(r.get().bridge()).isEmpty()) {
                List<Realization> realized = list();
                Optional<String> table = firewall.problem(realized);
                if (table.isEmpty()) {
                    return r.get();
                }
                LOG.warn("{}; restoring tapwire's rules", table.get());
            }
        }
        return realize(network);
    }

    private Realization realizeLocked(Realization wanted, NetworkRecord record, Optional<Realization> before) {
        Path dir = dir(wanted.network());
        boolean newDir = before.isEmpty();
        boolean madeBridge = false;
        Dnsmasq dnsmasq = dnsmasq(wanted.network());
        boolean startedDnsmasq = false;
        try {
            reclaimStaleOverlaps(wanted);
            refuseOverlaps(wanted);
            makeDirectories(dir);
            write(wanted); // recorded first: a bridge left by a realize that dies later is known to the GC
            applyFirewall(); // before anything serves: a realize killed after this point leaves the rules in
            RuntimeDirectory.ensure(runtime, stateDir);
            stopLegacyDnsmasq(wanted.network());
            madeBridge = ensureBridge(wanted);
            followGuestPorts(wanted, before.isPresent() && before.get().isolated() != wanted.isolated());
            DataChange data = writeData(wanted, record, dnsmasq);
            if (before.isPresent() && (before.get().nat() != wanted.nat() || before.get().mtu() != wanted.mtu())) {
                // with NAT it forwards other names upstream, without it answers only its own; option 26 is an argument
                dnsmasq.stop();
            }
            startedDnsmasq = dnsmasq.ensureRunning(wanted);
            if (!startedDnsmasq) {
                apply(wanted, dnsmasq, data); // it was running: members that left meanwhile must go
            }
            LOG.debug("realized network {} on {} ({}, gateway {}, nat {}, port security {}, isolated {}, host ports {},"
                    + " mtu {})", wanted.network(), wanted.bridge(), wanted.subnet(), wanted.gateway(), wanted.nat(),
                    wanted.portSecurity(), wanted.isolated(), wanted.hostPorts(), wanted.mtu());
            return wanted;
        } catch (RuntimeException e) {
            undo(wanted, before, newDir, madeBridge, startedDnsmasq, dnsmasq, e);
            throw e;
        }
    }

    private void undo(Realization wanted, Optional<Realization> before, boolean newDir, boolean madeBridge,
            boolean startedDnsmasq, Dnsmasq dnsmasq, RuntimeException cause) {
        try {
            if (startedDnsmasq || newDir) {
                dnsmasq.stop();
            }
            if (madeBridge) {
                deleteBridge(wanted.bridge(), wanted.network());
            }
            if (newDir) {
                deleteTree(dir(wanted.network()));
                RuntimeDirectory.remove(runtime, wanted.network());
            } else {
                before.ifPresent(this::write);
            }
            applyFirewall(); // the rules of what is recorded now
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
            LOG.warn("could not roll back the failed realization of network {}: {}", wanted.network(), e.getMessage());
        }
    }

    /**
     * Removes a network's realization: its dnsmasq, bridge, rules and state. A network that is not realized is
     * left alone.
     *
     * @param network the network
     * @return true when something was removed
     * @throws DeviceOperationException if tapwire TAPs of VMs are still attached to the network's bridge (delete
     *     those VMs first), or a device cannot be removed
     */
    public boolean unrealize(String network) {
        NetworkNames.requireValid(network);
        try (Lease held = lockState()) {
            return unrealizeLocked(network, vm -> true);
        }
    }

    /**
     * Removes a network's realization unless its bridge carries TAPs of VMs that {@code active} accepts (then it
     * throws, naming them); refuses a realization recorded in another live network namespace.
     */
    private boolean unrealizeLocked(String network, java.util.function.Predicate<String> active) {
        refuseOtherNamespace(network, "remove");
        Optional<Realization> realization = read(network).map(Recorded::realization);
        String bridge = realization.map(Realization::bridge).orElse(bridgeName(network));
        List<String> vms = vmsOn(bridge, network).stream().filter(active).toList();
        if (!vms.isEmpty()) {
            throw DeviceOperationException.of("unrealize", bridge, Reason.BUSY, "network " + network
                    + " still has TAPs of VM(s) " + vms + " on bridge " + bridge + "; delete those VMs first");
        }
        boolean removed = realization.isPresent();
        dnsmasq(network).stop();
        removed |= deleteBridge(bridge, network);
        boolean hadOverlay = realization.map(Realization::overlay).orElse(false);
        synchronized (overlays) { // no overlay update in between: it would find the record and bring them back
            if (hadOverlay) { // its vxlan device and tunnel-port table go with it
                overlay.remove(network);
                overlayFilter.remove(network);
            }
            deleteTree(dir(network));
        }
        RuntimeDirectory.remove(runtime, network);
        if (hadOverlay && list().stream().noneMatch(Realization::overlay)) {
            overlayFilter.removeVteps(); // this host has left the overlay
        }
        if (removed) {
            applyFirewall();
            LOG.debug("unrealized network {}", network);
        }
        return removed;
    }

    /** The VMs (or TAP names, for TAPs of no VM) whose TAPs are on this owner's bridge of the network, sorted. */
    private List<String> vmsOn(String bridge, String network) {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            Optional<Link> br = netlink.link(bridge).filter(l -> isBridgeOf(l, network));
            if (br.isEmpty()) {
                return List.of();
            }
            return BridgeTaps.list(netlink).stream().filter(t -> t.masterIndex() == br.get().index())
                    .map(t -> BridgeTaps.vmIdOf(t).orElse(t.name())).distinct().sorted().toList();
        }
    }

    /**
     * Refuses to act on a network whose realization this state directory recorded in another network namespace
     * that still exists: its bridge, dnsmasq and rules are that namespace's. A record of a namespace that is gone is
     * stale and may be taken over.
     */
    private void refuseOtherNamespace(String network, String action) {
        Optional<String> other = read(network).flatMap(Recorded::namespace)
                .filter(ns -> !ns.equals(Follower.currentNamespace()));
        if (other.isPresent() && NetworkNamespaces.isAlive(other.get())) {
            throw DeviceOperationException.of(action, bridgeName(network), Reason.BUSY, "network " + network
                    + " of state directory " + stateDir + " is realized in network namespace " + other.get()
                    + ", and this is " + Follower.currentNamespace() + "; a state directory realizes a network in one"
                    + " namespace only: act on it from there, or use another state directory here");
        } else if (other.isPresent()) {
            LOG.warn("network {}: its realization was recorded in network namespace {}, which no longer exists;"
                    + " taking it over in {}", network, other.get(), Follower.currentNamespace());
        }
    }

    /**
     * Refuses a network whose subnet overlaps that of another network realized here and still in the registry: the
     * gateway's replies to a guest of one would go to the other's bridge.
     */
    private void refuseOverlaps(Realization wanted) {
        for (Realization other : list()) {
            if (!other.network().equals(wanted.network()) && other.subnet().overlaps(wanted.subnet())) {
                throw DeviceOperationException.of("realize", wanted.bridge(), Reason.BUSY, "network "
                        + wanted.network() + " (" + wanted.subnet() + ") overlaps network " + other.network() + " ("
                        + other.subnet() + "), realized here on " + other.bridge() + "; two realized networks never"
                        + " share addresses: take " + other.network() + " down first, or give " + wanted.network()
                        + " a subnet of its own");
            }
        }
    }

    /** Takes the realization lock after checking that the state directory can be trusted. */
    private Lease lockState() {
        StateFiles.requireSafeDirectory(stateDir, "state directory", true);
        StateFiles.requireSafeDirectory(root, "realization directory", false);
        return lock.acquire();
    }

    // ------------------------------------------------------------------ sync

    /**
     * Brings a realized network's DHCP and DNS data up to the registry's members, from a fresh read of the
     * registry, without ever stopping its dnsmasq: new members' entries are added (dnsmasq reads them through its
     * directory watch); a member that left or moved loses its name and its static lease at once, and its lease is
     * released so that its address can be leased to the next member. A network that is not realized here is
     * skipped; one realized here but gone from the registry has its realization removed, unless VMs' TAPs are
     * still on its bridge (then it is left to the GC, with a warning).
     *
     * @param network the network
     * @return true when the network is realized here (and so was synced)
     * @throws NetworkException if the registry cannot be read
     */
    public boolean sync(String network) {
        NetworkNames.requireValid(network);
        try (Lease held = lockState()) {
            Optional<Realization> realization = readHere(network);
            realization.ifPresent(this::syncLocked);
            ensureHostSide();
            return realization.isPresent();
        }
    }

    /**
     * Syncs every realized network, as {@link #sync} does, under one hold of the lock, and restores tapwire's table
     * and bridge sysctls where they differ from what the realized networks imply (the registry follower runs this).
     *
     * @return the networks synced
     * @throws NetworkException if the registry cannot be read
     */
    public List<String> syncAll() {
        try (Lease held = lockState()) {
            List<Realization> realized = list();
            realized.forEach(this::syncLocked);
            ensureHostSide();
            return realized.stream().map(Realization::network).toList();
        }
    }

    private void syncLocked(Realization r) {
        Optional<NetworkRecord> record = registry.find(r.network());
        if (record.isEmpty()) {
            reclaimIfUnused(r.network());
            return;
        }
        refresh(r, record.get());
    }

    /**
     * Restores tapwire's table and the bridges' sysctls where they differ from what the networks realized here
     * imply, warning about each repair; returns the repairs.
     */
    private List<String> ensureHostSide() {
        List<String> repairs = new ArrayList<>();
        List<Realization> realized = list();
        firewall.ensure(realized).ifPresent(p -> repairs.add(p + "; tapwire's rules were restored"));
        forwarding.ensure(realized.stream().anyMatch(Realization::nat), firewall);
        for (Realization r : realized) {
            try {
                List<String> changed = BridgeSysctls.apply(r.bridge());
                if (!changed.isEmpty()) {
                    repairs.add("bridge " + r.bridge() + " had other sysctls; set " + changed);
                }
            } catch (RealizationException e) {
                LOG.debug("bridge {} of network {}: {}", r.bridge(), r.network(), e.getMessage()); // gone: verify says so
            }
        }
        repairs.forEach(p -> LOG.warn("repaired: {}", p));
        return repairs;
    }

    /**
     * Removes the realization of a network gone from the registry unless VMs' TAPs are on its bridge, or the
     * registry has no network at all (an empty or unmounted registry is no proof that every network was removed).
     */
    private void reclaimIfUnused(String network) {
        if (registry.list().isEmpty()) {
            if (warned.add("empty:" + network)) {
                LOG.warn("network {} is realized here but the registry has no network at all (empty, or not the"
                        + " registry it was realized from?): its realization stays; remove it with unrealize (network"
                        + " down) if the network is really gone", network);
            }
            return;
        }
        try {
            unrealizeLocked(network, vm -> true);
            LOG.debug("network {} is gone from the registry: removed its realization", network);
        } catch (DeviceOperationException e) {
            if (warned.add("gone:" + network)) {
                LOG.warn("network {} is gone from the registry but its realization stays: {}; the GC reclaims it",
                        network, e.getMessage());
            }
        }
    }

    /**
     * Before a network is realized, removes the realizations of networks gone from the registry whose subnet
     * overlaps its own: their bridge and dnsmasq would hold its gateway address ({@code network rm --force}, or a
     * removal by another process or host, leaves them). With VMs' TAPs still on such a bridge the realize is
     * refused, naming those VMs.
     */
    private void reclaimStaleOverlaps(Realization wanted) {
        for (Realization other : list()) {
            if (!other.network().equals(wanted.network()) && other.subnet().overlaps(wanted.subnet())
                    && registry.find(other.network()).isEmpty()) {
                try {
                    unrealizeLocked(other.network(), vm -> true);
                    LOG.warn("realize {}: removed the realization of network {} ({}), gone from the registry,"
                            + " which still held its subnet", wanted.network(), other.network(), other.subnet());
                } catch (DeviceOperationException e) {
                    throw DeviceOperationException.of("realize", wanted.bridge(), Reason.BUSY, "network "
                            + other.network() + ", gone from the registry, is still realized here on " + other.subnet()
                            + ", which overlaps " + wanted.network() + "'s " + wanted.subnet() + ": " + e.getMessage());
                }
            }
        }
    }

    /**
     * Follows the registry: DNS and DHCP of the networks realized here reflect it within 2 s of any change, made by
     * any process or host, with no further call. Level-triggered: a change the registry's watch reports wakes one
     * {@link #syncAll} (a burst of changes, one sync), which reads the registry afresh, so no change is ever
     * replayed or lost; and every 10 s it syncs anyway, as a safety net for a watch that
     * dies or cannot be set up (that is warned about and retried at each resync).
     *
     * <p>One follower per realizer: it runs on a thread of its own, started by the first call in the calling
     * thread's network namespace, where it acts (dnsmasq, DHCP releases). Further calls share it and get their
     * own handle; the thread stops, and the watch closes, when every handle is closed. Closing a handle is
     * idempotent and waits for a sync under way to finish (nothing is cut off mid-change).
     *
     * @return a handle; close it to stop following (once every handle is closed)
     * @throws RealizationException if this realizer already follows from another network namespace (a realizer
     *     acts in one namespace: make one per namespace)
     */
    public RegistryWatch follow() {
        return follow(RESYNC_PERIOD);
    }

    /** Follows as {@link #follow()} does, resyncing every {@code period} (tests shorten it). */
    RegistryWatch follow(Duration period) {
        String namespace = Follower.currentNamespace();
        synchronized (following) {
            if (follower != null && !follower.namespace().equals(namespace)) {
                throw new RealizationException("this realizer already follows the registry in network namespace "
                        + follower.namespace() + ", and the calling thread is in " + namespace
                        + "; a realizer acts in one namespace: make another realizer for this one");
            }
            RegistryWatch handle = follower == null ? null : follower.handle();
            if (handle == null) { // none, or one on its way out
                follower = new Follower(this, namespace, period);
                handle = follower.handle();
                if (watchdog == null) { // started here, so its thread acts in the caller's namespace too
                    watchdog = new DnsmasqWatchdog(runtime, this::list, this::restartDnsmasq);
                    watchdog.start();
                }
            }
            return handle;
        }
    }

    /** The watchdog's restart: a network's dnsmasq, under the lock, and only while the network is still realized. */
    private void restartDnsmasq(Realization seen) {
        try (Lease held = lockState()) {
            readHere(seen.network()).ifPresent(r -> dnsmasq(r.network()).ensureRunning(r));
        }
    }

    /**
     * Makes the overlays of the networks realized here with one exactly what {@code tunnels} say, with no unrealize
     * of this realizer in between (a registry sync under way does not hold it up): per network its vxlan device (VNI, this host's endpoint, the network's MTU and
     * isolation), its FDB and neighbour entries for the remote members and its tunnel-port filter (remote members'
     * MAC and address pairs, the MACs of the members placed here, the fleet-wide gateway MAC that never crosses); and
     * VXLAN accepted from {@code vteps} only. A tunnel of a network not realized here with an overlay is skipped.
     * The filter goes in before the entries: once a remote member's FDB entry is there, its frames pass.
     *
     * @param tunnels the wanted overlay per network
     * @param vteps the other live hosts' endpoints (all of them), or empty to leave the accepted endpoints alone
     * @param locals per network, the guest MACs of its members placed on this host
     * @return the networks whose overlay was applied
     * @throws dev.tapwire.network.DeviceOperationException if netlink or nftables refuse
     */
    List<String> applyOverlays(Map<String, HostAgent.Tunnel> tunnels, Optional<Set<Ipv4Address>> vteps,
            Map<String, Set<MacAddress>> locals) {
        List<String> applied = new ArrayList<>();
        synchronized (overlays) {
            if (vteps.isPresent()) {
                overlayFilter.allowVteps(new HashSet<>(vteps.get())); // a HashSet: its contains(null) cannot throw
                removeStrayOverlays();
            }
            for (HostAgent.Tunnel t : tunnels.values()) {
                Optional<Realization> r = readHere(t.network()).filter(Realization::overlay);
                if (r.isEmpty()) {
                    continue;
                }
                List<Overlay.Remote> remotes = t.remotes().stream()
                        .map(m -> new Overlay.Remote(m.mac(), m.ip(), m.vtep())).toList();
                overlay.ensure(new Overlay.Tunnel(t.network(), r.get().bridge(), t.vni(), t.local(), r.get().mtu(),
                        r.get().isolated()));
                overlayFilter.sync(t.network(), new OverlayFilter.Policy(MacAddress.forGateway(t.network()),
                        locals.getOrDefault(t.network(), Set.of()), remotes));
                List<String> changed = overlay.sync(t.network(), remotes);
                if (!changed.isEmpty()) {
                    LOG.debug("overlay of network {}: {}", t.network(), changed);
                }
                applied.add(t.network());
            }
        }
        return applied;
    }

    /**
     * Removes this owner's vxlan devices (and their tunnel-port tables) of networks not realized here with an
     * overlay — left by an unrealize that died half-way, or by a network that stopped spanning hosts.
     */
    private void removeStrayOverlays() {
        Set<String> wanted = new HashSet<>();
        list().stream().filter(Realization::overlay).forEach(r -> wanted.add(r.network()));
        for (String network : overlay.networks()) {
            if (!wanted.contains(network)) {
                overlay.remove(network);
                overlayFilter.remove(network);
                LOG.warn("removed the overlay (vxlan device {}) of network {}, which is not realized here across hosts",
                        Overlay.deviceName(network), network);
            }
        }
    }

    /** Called by the follower once its last handle closed and its thread ended. */
    void followerStopped(Follower stopped) {
        synchronized (following) {
            if (follower == stopped) {
                follower = null;
                if (watchdog != null) {
                    watchdog.close();
                    watchdog = null;
                }
            }
        }
    }

    /** Whether a follower runs (for tests). */
    boolean isFollowing() {
        synchronized (following) {
            return follower != null;
        }
    }

    /** Brings dnsmasq up to date with the registry; see {@link #apply}. */
    private void refresh(Realization r, NetworkRecord record) {
        Dnsmasq dnsmasq = dnsmasq(r.network());
        apply(r, dnsmasq, writeData(r, record, dnsmasq));
    }

    /**
     * Hands dnsmasq a rewrite of its data, never stopping it, so DNS and DHCP keep serving through every
     * membership change. Additions reach it through its directory watch. A removal needs a SIGHUP as well:
     * dnsmasq forgets a removed dhcp-host entry only when it re-reads its directories whole. A removed static
     * lease is then released (a DHCPRELEASE on the guest's behalf), so the address can go to the next member at
     * once instead of when the lease runs out. No lease carries a name (dnsmasq runs with
     * {@code --dhcp-ignore-names} and derives none from the hosts data, see {@link Dnsmasq}), so only the hosts
     * directory names members, and a name goes with its member's entry.
     */
    private void apply(Realization r, Dnsmasq dnsmasq, DataChange change) {
        if (change.removedLeases().isEmpty() && !change.removedNames()) {
            return; // additions only: dnsmasq's inotify watch on both directories reads them without a signal
        }
        dnsmasq.reload();
        for (String line : change.removedLeases()) { // MAC,address
            String[] fields = line.split(",");
            if (fields.length >= 2 && MacAddress.isValid(fields[0]) && Ipv4Address.isValid(fields[1])) {
                dnsmasq.release(r, MacAddress.parse(fields[0]), Ipv4Address.parse(fields[1]));
            }
        }
        LOG.debug("dnsmasq of network {} re-read its data: {} lease(s) released", r.network(),
                change.removedLeases().size());
    }

    private static List<String> readLines(Path file) {
        return StateFiles.readLines(file);
    }

    /**
     * What a rewrite of the data removed (additions need no action: dnsmasq reads them by itself).
     *
     * @param removedLeases the static lease lines ({@code MAC,address}) removed
     * @param removedNames whether hosts entries were removed
     */
    private record DataChange(Set<String> removedLeases, boolean removedNames) {
    }

    /**
     * Makes dnsmasq's two watched directories hold exactly the registry's entries, one small file per entry,
     * named after a hash of its content: a new entry is a new file (written aside, then renamed to a name that
     * does not exist yet), a stale one is deleted, and an unchanged one is not touched — so a sync reads two
     * directory listings and writes only what changed, and no file is ever replaced under dnsmasq.
     */
    private DataChange writeData(Realization r, NetworkRecord record, Dnsmasq dnsmasq) {
        String network = r.network();
        List<String> dhcp = new ArrayList<>();
        Map<MacAddress, String> macs = new HashMap<>();
        Optional<Set<String>> here = leasedHere(r);
        for (Member m : record.members()) {
            if (here.isPresent() && !here.get().contains(m.workspace())) {
                continue; // it runs on another host (or nowhere yet): that host's dnsmasq leases it
            }
            MacAddress mac = MacAddress.forMember(network, m.workspace());
            if (mac.equals(bridgeMac(network)) || mac.equals(MacAddress.forGateway(network))) {
                if (warned.add("gateway-mac:" + network + ":" + m.workspace())) {
                    LOG.warn("member {} of network {} would have MAC {}, a MAC of the network's gateway; it gets no"
                            + " DHCP lease", m.workspace(), network, mac);
                }
                continue;
            }
            String clash = macs.putIfAbsent(mac, m.workspace());
            if (clash != null) {
                if (warned.add("mac:" + network + ":" + m.workspace())) {
                    LOG.warn("members {} and {} of network {} would share MAC {}; {} gets no DHCP lease", clash,
                            m.workspace(), network, mac, m.workspace());
                }
                continue;
            }
            dhcp.add(mac + "," + m.ip()); // no name: a name in a dhcp-host entry would outlive the member's lease
        }
        List<String> hosts = named(network, record).stream().map(m -> hostsEntry(network, m)).toList();
        boolean removedNames = !syncEntries(dnsmasq.hostsDir(), hosts).isEmpty();
        return new DataChange(syncEntries(dnsmasq.dhcpDir(), dhcp), removedNames);
    }

    /**
     * The members whose DHCP lease this host's dnsmasq serves: with an overlay, those placed on this host (a member
     * on another host is leased there, and its DHCP broadcasts never cross); on one host, every member (empty).
     */
    private Optional<Set<String>> leasedHere(Realization r) {
        if (!r.overlay()) {
            return Optional.empty();
        }
        Optional<String> host = fleet.map(Fleet::host).or(() -> read(r.network()).flatMap(Recorded::host));
        if (host.isEmpty()) {
            return Optional.empty(); // no host recorded: lease every member, as on one host
        }
        PlacementRegistry placements = fleet.map(Fleet::placements).orElseGet(registry::placements);
        Set<String> here = new HashSet<>();
        for (Placement p : placements.placements(r.network())) {
            if (p.host().equals(host.get())) {
                here.add(p.workspace());
            }
        }
        return Optional.of(here);
    }

    /** Makes {@code dir} hold one file per entry; returns the entries removed. */
    private static Set<String> syncEntries(Path dir, List<String> entries) {
        makeDirectories(dir);
        Map<String, String> wanted = new TreeMap<>();
        for (String e : entries) {
            wanted.put(entryName(e), e);
        }
        Set<String> present = new HashSet<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (!name.startsWith(".")) {
                    present.add(name);
                }
            }
        } catch (IOException e) {
            throw new RealizationException("cannot list " + dir + ": " + e, e);
        }
        Set<String> removed = new HashSet<>();
        for (String name : present) {
            if (!wanted.containsKey(name)) {
                Path stale = dir.resolve(name);
                removed.addAll(readLines(stale));
                try {
                    Files.deleteIfExists(stale);
                } catch (IOException e) {
                    throw new RealizationException("cannot remove " + stale + ": " + e, e);
                }
            }
        }
        wanted.forEach((name, entry) -> {
            if (!present.contains(name)) {
                create(dir.resolve(name), entry + "\n");
            }
        });
        return removed;
    }

    private static String entryName(String entry) {
        return HexFormat.of().formatHex(sha256(entry), 0, 10);
    }

    /** Creates a file that does not exist yet, complete before it appears under its name. */
    private static void create(Path file, String content) {
        StateFiles.create(file, content);
    }

    /**
     * Returns the {@code /etc/hosts} lines of a network's members: address, {@code workspace.network},
     * {@code workspace}; members whose name is not a DNS label are left out.
     *
     * @param network the network
     * @return the lines, each ending in a newline, by address
     * @throws NetworkNotFoundException if there is no such network
     */
    public String hostsLines(String network) {
        StringBuilder sb = new StringBuilder();
        named(network, registry.get(network)).forEach(m -> sb.append(hostsEntry(network, m)).append('\n'));
        return sb.toString();
    }

    /**
     * The members that get DNS names, by address: those whose workspace name is a DNS label — one per name
     * whatever its case, since DNS names are case-insensitive ({@code Beta}, {@code BETA} and {@code beta} would
     * share one name): the one with the lowest address keeps it, the others get none (warned once).
     */
    private List<Member> named(String network, NetworkRecord record) {
        Map<String, Member> byName = new HashMap<>();
        List<Member> named = new ArrayList<>();
        for (Member m : record.members().stream().sorted(Comparator.comparing(Member::ip)).toList()) {
            if (!hasDnsName(m.workspace())) {
                continue;
            }
            Member holder = byName.putIfAbsent(m.workspace().toLowerCase(Locale.ROOT), m);
            if (holder == null) {
                named.add(m);
            } else if (warned.add("case:" + network + ":" + m.workspace())) {
                LOG.warn("members {} ({}) and {} ({}) of network {} differ only in case, and DNS names do not: {} keeps"
                        + " the name, {} gets none", holder.workspace(), holder.ip(), m.workspace(), m.ip(), network,
                        holder.workspace(), m.workspace());
            }
        }
        return named;
    }

    /** A member's hosts-file entry: address, {@code workspace.network}, {@code workspace}. */
    private static String hostsEntry(String network, Member m) {
        return m.ip() + " " + m.workspace() + "." + network + " " + m.workspace();
    }

    // ------------------------------------------------------------------ inspect / verify

    /**
     * What is realized of a network here, and what is wrong with it.
     *
     * @param realization the recorded realization
     * @param bridgeUp whether the bridge exists, is this network's and is up
     * @param dnsmasqPid the pid of its running dnsmasq, if one runs
     * @param problems what is wrong, in words an operator can act on; empty when all is well
     */
    public record Status(Realization realization, boolean bridgeUp, OptionalInt dnsmasqPid, List<String> problems) {
    }

    /**
     * Returns every network realized under this root directory in the calling thread's network namespace, by name.
     *
     * @return the realizations
     */
    public List<Realization> list() {
        List<Realization> all = new ArrayList<>();
        if (!Files.isDirectory(root)) {
            return all;
        }
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(root,
                d -> Files.isDirectory(d, java.nio.file.LinkOption.NOFOLLOW_LINKS))) {
            for (Path d : dirs) {
                String name = d.getFileName().toString();
                if (NetworkNames.isValid(name)) {
                    readHere(name).ifPresent(all::add);
                }
            }
        } catch (IOException e) {
            throw new RealizationException("cannot list realized networks under " + root + ": " + e, e);
        }
        all.sort((a, b) -> a.network().compareTo(b.network()));
        return all;
    }

    /**
     * Tells how a network is realized here, without changing anything.
     *
     * @param network the network
     * @return its status, or empty when it is not realized here
     */
    public Optional<Status> inspect(String network) {
        NetworkNames.requireValid(network);
        return readHere(network).map(r -> status(r, false));
    }

    /**
     * Checks a realized network and repairs what it can: a dead dnsmasq is restarted, tapwire's rules are
     * restored when they differ from what the realized networks imply (missing, emptied, changed), the bridges'
     * sysctls and IPv4 forwarding are set back, data files are re-synced. What it cannot repair (bridge deleted or down,
     * gateway address gone, another table dropping forwarded traffic) is reported in the status's problems;
     * repairs are reported there too.
     *
     * @param network the network
     * @return the status after repair
     * @throws DeviceOperationException if the network is not realized here
     */
    public Status verify(String network) {
        NetworkNames.requireValid(network);
        try (Lease held = lockState()) {
            Realization r = readHere(network).orElseThrow(() -> DeviceOperationException.of("verify", bridgeName(network),
                    Reason.NO_SUCH_DEVICE, "network " + network + " is not realized here (realize it first)"));
            return status(r, true);
        }
    }

    private Status status(Realization r, boolean repair) {
        List<String> problems = new ArrayList<>();
        boolean bridgeUp = false;
        try (Rtnetlink netlink = Rtnetlink.open()) {
            Optional<Link> br = netlink.link(r.bridge());
            if (br.isEmpty()) {
                problems.add("bridge " + r.bridge() + " of network " + r.network()
                        + " is gone: its VMs are cut off; realize the network again and re-create their TAPs");
            } else if (!isBridgeOf(br.get(), r.network())) {
                problems.add("device " + r.bridge() + " is not network " + r.network() + "'s bridge (kind \""
                        + br.get().kind() + "\", alias \"" + br.get().alias() + "\")");
            } else {
                bridgeUp = br.get().isUp();
                if (!bridgeUp) {
                    problems.add("bridge " + r.bridge() + " of network " + r.network() + " is down");
                }
                if (br.get().mtu() != r.mtu()) {
                    String problem = "bridge " + r.bridge() + " of network " + r.network() + " has MTU " + br.get().mtu()
                            + ", not the network's " + r.mtu();
                    if (repair) {
                        try (Interfaces interfaces = Interfaces.over(netlink)) {
                            interfaces.setMtu(r.bridge(), r.mtu());
                        }
                        followGuestPorts(r, false);
                        problems.add("repaired: " + problem + "; set it (and its guest TAPs) to " + r.mtu());
                    } else {
                        problems.add(problem);
                    }
                }
                int index = br.get().index();
                boolean hasGateway = netlink.ipv4Addresses().stream().anyMatch(a -> a.index() == index
                        && a.address().equals(r.gateway().toString()) && a.prefix() == r.subnet().prefixLength());
                if (!hasGateway) {
                    problems.add("bridge " + r.bridge() + " lacks the gateway address " + r.gateway() + "/"
                            + r.subnet().prefixLength());
                }
            }
        }
        Dnsmasq dnsmasq = dnsmasq(r.network());
        OptionalInt pid = dnsmasq.pid();
        dnsmasq.problem().ifPresent(problems::add);
        if (pid.isEmpty()) {
            if (repair && problems.isEmpty()) {
                dnsmasq.ensureRunning(r);
                pid = dnsmasq.pid();
                problems.add("repaired: dnsmasq of network " + r.network() + " was not running and was restarted (pid "
                        + pid.orElse(-1) + ")");
            } else {
                problems.add("dnsmasq of network " + r.network() + " is not running");
            }
        }
        if (r.overlay() && overlay.device(r.network()).isEmpty()) { // the agent makes it: a verify cannot
            problems.add("network " + r.network() + " spans hosts but has no vxlan device " + Overlay.deviceName(
                    r.network()) + " here: its members on other hosts are unreachable until this host's agent runs"
                    + " (tapwire agent)");
        }
        List<Realization> realized = list();
        Optional<String> table = firewall.problem(realized);
        List<String> sysctls = bridgeUp ? BridgeSysctls.problems(r.bridge()) : List.of();
        if (repair) {
            problems.addAll(ensureHostSide().stream().map(p -> "repaired: " + p).toList());
        } else {
            table.ifPresent(problems::add);
            sysctls.forEach(p -> problems.add("bridge " + r.bridge() + ": " + p));
        }
        problems.addAll(firewall.foreignForwardDrops(realized));
        if (repair && pid.isPresent()) {
            registry.find(r.network()).ifPresent(record -> refresh(r, record));
        }
        return new Status(r, bridgeUp, pid, List.copyOf(problems));
    }

    // ------------------------------------------------------------------ GC

    /**
     * Removes the realizations of networks that no longer exist in the registry: their dnsmasq, bridge, rules and
     * state. Bridges of this state directory carrying tapwire's network alias for a network that is gone are removed
     * too. A bridge that still carries TAPs of VMs is kept (this call knows no VM to be dead: see
     * {@link #gcModule()} for a cycle that does), with a warning; nothing is reclaimed while the registry holds no
     * network at all (an empty or unmounted registry proves nothing). Nothing of another state directory is touched.
     *
     * @return the networks reclaimed
     * @throws NetworkException if the registry cannot be read
     */
    public Set<String> collectGarbage() {
        try (Lease held = lockState()) {
            Set<String> reclaimed = new TreeSet<>();
            for (String network : orphans()) {
                if (reclaim(network, vm -> true)) {
                    reclaimed.add(network);
                }
            }
            return reclaimed;
        }
    }

    /**
     * Returns a GC module that reclaims, as {@link #collectGarbage} does, the realizations of networks gone from
     * the registry. It locks the realization lock. A network whose bridge carries TAPs of VMs the cycle reports as
     * active is kept; without an active-VM report every VM counts as active.
     *
     * @return the module
     */
    public GcModule<Set<String>> gcModule() {
        return new GcModule<>() {
            private volatile java.util.function.Predicate<String> active = vm -> true;

            @Override
            public String name() {
                return "named-networks";
            }

            @Override
            public Optional<Lease> tryLock() {
                StateFiles.requireSafeDirectory(stateDir, "state directory", true);
                StateFiles.requireSafeDirectory(root, "realization directory", false);
                return lock.tryAcquire();
            }

            @Override
            public Set<String> snapshot() {
                return orphans();
            }

            @Override
            public Set<String> resolve(Set<String> snapshot, Map<String, Object> others) {
                Set<String> live = ActiveVmSnapshot.union(others);
                active = ActiveVmSnapshot.anyReported(others) ? live::contains : vm -> true;
                Set<String> reclaimable = new TreeSet<>();
                for (String network : snapshot) {
                    List<String> vms = vmsOn(read(network).map(r -> r.realization().bridge())
                            .orElse(bridgeName(network)), network).stream().filter(active).toList();
                    if (vms.isEmpty()) {
                        reclaimable.add(network);
                    } else {
                        LOG.warn("GC: network {} is gone from the registry, but its bridge carries TAPs of active"
                                + " VM(s) {}: kept", network, vms);
                    }
                }
                return reclaimable;
            }

            @Override
            public void collect(Set<String> networks) {
                if (registry.list().isEmpty()) {
                    return; // orphans() said why, and found none
                }
                networks.stream().filter(n -> registry.find(n).isEmpty()).forEach(n -> reclaim(n, active));
            }
        };
    }

    /**
     * Networks realized here, or with a bridge of this owner carrying tapwire's alias, that the registry no longer
     * has — none while the registry has no network at all.
     */
    private Set<String> orphans() {
        Set<String> existing = new HashSet<>();
        registry.list().forEach(n -> existing.add(n.name()));
        Set<String> orphans = new TreeSet<>();
        list().stream().map(Realization::network).filter(n -> !existing.contains(n)).forEach(orphans::add);
        try (Rtnetlink netlink = Rtnetlink.open()) {
            for (Link l : netlink.links()) {
                if (l.isBridge() && l.alias().startsWith(ALIAS_PREFIX)) {
                    String name = l.alias().substring(ALIAS_PREFIX.length());
                    if (NetworkNames.isValid(name) && !existing.contains(name) && l.name().equals(bridgeName(name))
                            && isBridgeOf(l, name)) {
                        orphans.add(name);
                    }
                }
            }
        }
        if (existing.isEmpty() && !orphans.isEmpty()) {
            LOG.warn("GC: the registry has no network at all, so networks {} realized here look removed; an empty or"
                    + " unmounted registry is no proof of that: nothing is reclaimed (unrealize them, network down, if"
                    + " they are really gone)", orphans);
            return Set.of();
        }
        return orphans;
    }

    /** Reclaims a network gone from the registry unless TAPs of active VMs are on its bridge; true when it did. */
    private boolean reclaim(String network, java.util.function.Predicate<String> active) {
        try {
            unrealizeLocked(network, active);
        } catch (DeviceOperationException e) {
            LOG.warn("GC: network {} is gone from the registry, but its realization stays: {}", network, e.getMessage());
            return false;
        }
        LOG.warn("GC: network {} is gone from the registry; removed its bridge, dnsmasq and rules", network);
        return true;
    }

    // ------------------------------------------------------------------ devices

    /**
     * Makes or checks the bridge, setting tapwire's sysctls before it comes up; returns true when this call created
     * it or finished a half-made one.
     */
    private boolean ensureBridge(Realization r) {
        String alias = ALIAS_PREFIX + r.network();
        try (Rtnetlink netlink = Rtnetlink.open()) {
            Optional<Link> existing = netlink.link(r.bridge());
            boolean made = existing.isEmpty();
            if (existing.isPresent() && !isBridgeOf(existing.get(), r.network())) {
                throw DeviceOperationException.of("realize", r.bridge(), Reason.BUSY, "device " + r.bridge()
                        + " exists but is not network " + r.network() + "'s bridge of state directory " + stateDir
                        + " (kind \"" + existing.get().kind() + "\", alias \"" + DisplayText.escape(existing.get().alias())
                        + "\", MAC " + existing.get().mac() + otherOwner(r.network(), existing.get().mac()).map(o -> "; network "
                                + r.network() + " is realized here by state directory " + o).orElse("")
                        + "); it is never shared: rename or delete it, or realize the network from that state directory");
            }
            if (made) { // with this owner's MAC from the start: alias or not, it is recognisably ours
                netlink.execute(List.of(Rtnetlink.createBridge(r.bridge(), bridgeMacOf(r))));
            } else if (!existing.get().mac().equals(bridgeMacOf(r))) { // the network joined or left a fleet
                try (Interfaces interfaces = Interfaces.over(netlink)) {
                    interfaces.setMac(r.bridge(), bridgeMacOf(r));
                }
                LOG.debug("network {}: bridge {} now carries {} ({})", r.network(), r.bridge(), bridgeMacOf(r),
                        r.overlay() ? "the fleet-wide gateway MAC" : "this state directory's own MAC");
            }
            if (!made && existing.get().alias().isEmpty()) {
                made = true; // a bridge a crashed realize made and did not finish: finish it (or remove it)
                LOG.warn("realize: finishing bridge {} of network {}, left half-made by an earlier realize", r.bridge(),
                        r.network());
            }
            try {
                int index = existing.or(() -> netlink.link(r.bridge())).orElseThrow(() -> DeviceOperationException.of(
                        "realize", r.bridge(), Reason.NO_SUCH_DEVICE, "bridge " + r.bridge()
                                + " vanished while being set up")).index();
                BridgeSysctls.apply(r.bridge()); // before it is up: no RA is taken, no ARP answered for others
                netlink.execute(List.of(Rtnetlink.bringUp(index, r.bridge(), r.mtu(), alias),
                        Rtnetlink.addIpv4Address(index, r.bridge(), r.gateway().toBytes(), r.subnet().prefixLength(),
                                r.subnet().broadcastAddress().toBytes())));
            } catch (RuntimeException e) {
                if (made) {
                    deleteBridge(r.bridge(), null);
                }
                throw e;
            }
            return made;
        }
    }

    /**
     * Brings every tapwire TAP on the network's bridge to the realization: its MTU where it differs
     * ({@code SIOCSIFMTU}, which leaves the link's up/down state alone), and {@code IFLA_BRPORT_ISOLATED} as the
     * realization says when {@code isolation} (the setting changed), in one batch.
     */
    private void followGuestPorts(Realization r, boolean isolation) {
        try (Rtnetlink netlink = Rtnetlink.open(); Interfaces interfaces = Interfaces.over(netlink)) {
            Optional<Link> bridge = netlink.link(r.bridge());
            if (bridge.isEmpty()) {
                return;
            }
            List<Rtnetlink.Request> ports = new ArrayList<>();
            for (Link l : netlink.links()) {
                if (l.masterIndex() == bridge.get().index() && l.alias() != null
                        && l.alias().startsWith(BridgeTaps.ALIAS_PREFIX)) {
                    if (l.mtu() != r.mtu()) {
                        interfaces.setMtu(l.name(), r.mtu());
                        LOG.debug("network {}: guest port {} set to MTU {}", r.network(), l.name(), r.mtu());
                    }
                    if (isolation) {
                        ports.add(Rtnetlink.setPortFlags(l.index(), l.name(), false, false, r.isolated()));
                    }
                }
            }
            if (!ports.isEmpty()) {
                netlink.execute(ports);
                LOG.debug("network {}: {} guest ports now {}", r.network(), ports.size(),
                        r.isolated() ? "isolated from each other" : "no longer isolated");
            }
        }
    }

    /**
     * Names the state directory of the other tapwire owner whose bridge of this network carries {@code mac}: the
     * owner under {@link RuntimeDirectory#BASE} whose tag derives that MAC. Only the MAC tells: other owners
     * (other namespaces, stale data) may keep data for a network of the same name.
     */
    private Optional<String> otherOwner(String network, MacAddress mac) {
        try (DirectoryStream<Path> owners = Files.newDirectoryStream(RuntimeDirectory.BASE)) {
            for (Path dir : owners) {
                if (!dir.equals(runtime) && bridgeMac(dir.getFileName().toString(), network).equals(mac)) {
                    Optional<String> state = StateFiles.readSmall(dir.resolve("state-dir")).map(String::strip);
                    if (state.isPresent()) {
                        return Optional.of(DisplayText.escape(state.get()));
                    }
                }
            }
        } catch (IOException | RealizationException e) {
            LOG.debug("cannot tell which state directory owns network {}'s bridge: {}", network, e.toString());
        }
        return Optional.empty();
    }

    /**
     * Tells whether a link is this owner's bridge of the network: a bridge with this owner's MAC for the network
     * (set when tapwire creates it) and the network's alias — or no alias, made by a realize that died before
     * setting it. A same-named network's bridge of another state directory has another MAC.
     */
    private boolean isBridgeOf(Link link, String network) {
        return link.isBridge() && (bridgeMac(network).equals(link.mac()) || isFleetBridgeOf(link, network))
                && (link.alias().equals(ALIAS_PREFIX + network) || link.alias().isEmpty());
    }

    /**
     * Whether a bridge carries the fleet-wide gateway MAC of a network this state directory has recorded here: the
     * MAC alone is shared by every host (and so proves no ownership), the record does.
     */
    private boolean isFleetBridgeOf(Link link, String network) {
        return MacAddress.forGateway(network).equals(link.mac()) && readHere(network).isPresent();
    }

    /** Deletes the bridge if it is this owner's bridge of the network (any bridge of that name when network is null). */
    private boolean deleteBridge(String bridge, String network) {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            Optional<Link> link = netlink.link(bridge);
            if (link.isPresent() && link.get().isBridge() && (network == null || isBridgeOf(link.get(), network))) {
                netlink.execute(List.of(Rtnetlink.deleteLink(link.get().index(), bridge)));
                return true;
            }
            return false;
        }
    }

    private void applyFirewall() {
        List<Realization> realized = list();
        firewall.apply(realized);
        forwarding.ensure(realized.stream().anyMatch(Realization::nat), firewall);
    }

    // ------------------------------------------------------------------ state files

    private Path dir(String network) {
        return root.resolve(network);
    }

    private Dnsmasq dnsmasq(String network) {
        return new Dnsmasq(runtime.resolve(network), network);
    }

    /**
     * Stops a dnsmasq that an earlier tapwire started with its data in the state directory (before it moved to
     * {@link #runtimeDir}): it would hold the gateway's ports, and the new one could not start.
     */
    private void stopLegacyDnsmasq(String network) {
        Dnsmasq legacy = new Dnsmasq(dir(network), network);
        if (legacy.pid().isPresent()) {
            LOG.warn("stopping the dnsmasq of network {} that keeps its data in {} (the old place); its successor keeps"
                    + " it in {}", network, dir(network), runtime.resolve(network));
            legacy.stop();
        }
    }

    /** A realization record as read, with the network namespace it was made in (empty for an older record). */
    private record Recorded(Realization realization, Optional<String> namespace, Optional<String> host) {
    }

    /** The network's realization if it is recorded and was made in the calling thread's network namespace. */
    private Optional<Realization> readHere(String network) {
        return read(network).filter(r -> r.namespace().map(Follower.currentNamespace()::equals).orElse(true))
                .map(Recorded::realization);
    }

    /** Any realization recorded for the network, in whichever namespace. */
    private Optional<Recorded> read(String network) {
        Path file = dir(network).resolve("realization.properties");
        Optional<String> text;
        try {
            text = StateFiles.readSmall(file);
        } catch (RealizationException e) {
            LOG.warn("ignoring realization record {}: {}", file, e.getMessage());
            return Optional.empty();
        }
        if (text.isEmpty()) {
            return Optional.empty();
        }
        Properties p = new Properties();
        try {
            p.load(new java.io.StringReader(text.get()));
            return Optional.of(parseRecord(network, p));
        } catch (IOException | RuntimeException e) {
            LOG.warn("ignoring unreadable realization record {}: {}", file, e.getMessage());
            return Optional.empty();
        }
    }

    /**
     * Checks every value of a record before it is used: the bridge must be the network's bridge name (never taken
     * from the file as such: a quote or newline there would be nft text), subnet and gateway strict, flags exactly
     * {@code true} or {@code false}, host ports {@code PORT/proto}, the namespace {@code net:[inode]}.
     */
    private static Recorded parseRecord(String network, Properties p) {
        String recordedNetwork = p.getProperty("network");
        if (!network.equals(recordedNetwork)) {
            throw new InvalidNetworkSpecException("it names network " + escape(recordedNetwork) + ", not " + network);
        }
        String bridge = p.getProperty("bridge");
        if (!bridgeName(network).equals(bridge)) {
            throw new InvalidNetworkSpecException("its bridge " + escape(bridge) + " is not network " + network
                    + "'s bridge name " + bridgeName(network));
        }
        List<HostPort> ports = new ArrayList<>();
        String portList = p.getProperty("host-ports", "");
        if (!portList.isEmpty()) {
            for (String port : portList.split(",", -1)) {
                ports.add(HostPort.parse(port));
            }
        }
        String namespace = p.getProperty("netns");
        if (namespace != null && !NAMESPACE.matcher(namespace).matches()) {
            throw new InvalidNetworkSpecException("its netns " + escape(namespace) + " is not net:[inode]");
        }
        Realization r = new Realization(network, bridge, Ipv4Subnet.parse(required(p, "subnet")),
                Ipv4Address.parse(required(p, "gateway")), flag(p, "nat", false), flag(p, "port-security", true),
                flag(p, "isolated", false), ports, mtu(p), flag(p, "overlay", false));
        String host = p.getProperty("host");
        if (host != null && !HostRecord.isValidName(host)) {
            throw new InvalidNetworkSpecException("its host " + escape(host) + " is no host name");
        }
        return new Recorded(r, Optional.ofNullable(namespace), Optional.ofNullable(host));
    }

    private static String required(Properties p, String key) {
        String value = p.getProperty(key);
        if (value == null) {
            throw new InvalidNetworkSpecException("it has no " + key);
        }
        return value;
    }

    /** The recorded MTU; a record of an older tapwire has none, and its bridge was left at the default. */
    private static int mtu(Properties p) {
        String value = p.getProperty("mtu");
        if (value == null) {
            return Realization.DEFAULT_MTU;
        }
        if (!value.matches("[0-9]{1,5}")) {
            throw new InvalidNetworkSpecException("its mtu is " + escape(value) + ", not a number");
        }
        return Realization.requireMtu(Integer.parseInt(value));
    }

    private static boolean flag(Properties p, String key, boolean missing) {
        String value = p.getProperty(key);
        if (value == null) {
            return missing; // a record of an older tapwire: the default then
        }
        if (!value.equals("true") && !value.equals("false")) {
            throw new InvalidNetworkSpecException("its " + key + " is " + escape(value) + ", not true or false");
        }
        return Boolean.parseBoolean(value);
    }

    /** A value read from a file, quoted with its control characters escaped, for a message. */
    private static String escape(String value) {
        return value == null ? "(none)" : "\"" + DisplayText.escape(value) + "\"";
    }

    private void write(Realization r) {
        String text = "network=" + r.network() + "\nbridge=" + r.bridge() + "\nsubnet=" + r.subnet() + "\ngateway="
                + r.gateway() + "\nnat=" + r.nat() + "\nport-security=" + r.portSecurity() + "\nisolated="
                + r.isolated() + "\nhost-ports=" + r.hostPorts().stream().map(HostPort::toString)
                        .collect(java.util.stream.Collectors.joining(",")) + "\nmtu=" + r.mtu() + "\noverlay="
                + r.overlay() + hostLine(r) + "\nnetns="
                + Follower.currentNamespace()
                + "\n";
        replace(dir(r.network()).resolve("realization.properties"), text);
    }

    /**
     * The host a realization with an overlay was made for — this realizer's fleet host, else the one recorded —, as a
     * record line: a realizer without a fleet (the provider's, syncing on a configure) then leases the same members
     * as the agent's, those placed on that host.
     */
    private String hostLine(Realization r) {
        if (!r.overlay()) {
            return "";
        }
        return fleet.map(Fleet::host).or(() -> read(r.network()).flatMap(Recorded::host)).map(h -> "\nhost=" + h)
                .orElse("");
    }

    /**
     * Replaces a file atomically (a hidden temporary file, created exclusively, renamed over it); returns true when
     * it changed. No link is followed.
     */
    static boolean replace(Path file, String content) {
        makeDirectories(file.getParent());
        return StateFiles.replace(file, content);
    }

    private static void makeDirectories(Path dir) {
        try {
            LockFile.createDirectories(dir);
        } catch (IOException e) {
            throw new RealizationException("cannot create " + dir + ": " + e, e);
        }
    }

    static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new RealizationException("cannot remove " + dir + ": " + e, e);
        }
    }

    private void requireAvailable() {
        unavailabilityCause().ifPresent(cause -> {
            throw new RealizationException("named networks cannot be realized here: " + cause);
        });
    }

    /** Returns the 32-byte SHA-256 of the text's UTF-8 bytes. */
    static byte[] sha256(String text) {
        return SHA256.get().digest(text.getBytes(StandardCharsets.UTF_8));
    }
}
