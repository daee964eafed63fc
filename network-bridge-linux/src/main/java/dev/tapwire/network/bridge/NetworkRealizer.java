package dev.tapwire.network.bridge;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.DeviceOperationException.Reason;
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
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Nftables;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.gc.GcModule;
import dev.tapwire.network.lock.Lease;
import dev.tapwire.network.lock.LockFile;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
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
 * and tapwire's nftables table isolating the networks from each other, with optional NAT.
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
    /** Clashes (MACs, names differing in case) already warned about, so a periodic resync does not repeat them. */
    private final Set<String> warned = ConcurrentHashMap.newKeySet();
    private final Object following = new Object();
    /** The running follower, if any; guarded by {@link #following}. */
    private Follower follower;

    /**
     * Creates a realizer for the networks of {@code registry}, keeping its state under {@code rootDir/realized}.
     *
     * @param rootDir the root (state) directory, as given to the bridge provider
     * @param registry the registry the networks live in
     * @throws InvalidNetworkSpecException if an argument is null
     */
    public NetworkRealizer(Path rootDir, NetworkRegistry registry) {
        if (rootDir == null || registry == null) {
            throw new InvalidNetworkSpecException("a realizer needs a root directory and a registry");
        }
        this.root = stateOf(rootDir);
        this.stateDir = rootDir;
        this.runtime = runtimeDir(rootDir);
        this.registry = registry;
        this.lock = LockFile.at(root.resolve("realize.lock"));
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
     * Realizes a network, or repairs and updates its realization: bridge with alias and gateway address, up;
     * dnsmasq running with the registry's members; tapwire's nftables table. Idempotent. All or nothing: when a
     * step fails, what this call made is removed again.
     *
     * @param network the network
     * @param nat whether its traffic leaving the host is masqueraded (enables IPv4 forwarding)
     * @return the realization
     * @throws NetworkNotFoundException if the registry has no such network
     * @throws DeviceOperationException if a device of the bridge's name exists and is not this network's bridge,
     *     dnsmasq cannot start (its own message), or nftables refuses the rules
     * @throws RealizationException if dnsmasq or libnftables is missing (naming the package), or the state cannot
     *     be written
     */
    public Realization realize(String network, boolean nat) {
        return realize(network, Boolean.valueOf(nat));
    }

    /**
     * Realizes a network as {@link #realize(String, boolean)} does, keeping its NAT setting (off for a network
     * not realized yet).
     *
     * @param network the network
     * @return the realization
     * @throws NetworkNotFoundException if the registry has no such network
     * @throws DeviceOperationException as {@link #realize(String, boolean)}
     */
    public Realization realize(String network) {
        return realize(network, null);
    }

    /** Realizes with {@code nat}, or with the recorded setting (off for a new realization) when it is null. */
    private Realization realize(String network, Boolean nat) {
        requireAvailable();
        NetworkRecord record = registry.get(network);
        try (Lease held = lock.acquire()) {
            boolean withNat = nat != null ? nat : read(network).map(Realization::nat).orElse(false);
            return realizeLocked(new Realization(network, bridgeName(network), record.subnet(), record.gateway(),
                    withNat), record);
        }
    }

    /**
     * Returns a network's realization, realizing it first unless it is realized with its bridge present and its
     * dnsmasq running (the cheap check a configure makes on every call).
     *
     * @param network the network
     * @return the realization
     * @throws NetworkNotFoundException if the registry has no such network
     * @throws DeviceOperationException as {@link #realize(String, boolean)}
     */
    public Realization ensureRealized(String network) {
        Optional<Realization> r = read(network);
        if (r.isPresent() && dnsmasq(network).pid().isPresent()) {
            try (Rtnetlink netlink = Rtnetlink.open()) {
                if (netlink.link(r.get().bridge()).filter(l -> isBridgeOf(l, network) && l.isUp()).isPresent()) {
                    return r.get();
                }
            }
        }
        return realize(network);
    }

    private Realization realizeLocked(Realization wanted, NetworkRecord record) {
        Path dir = dir(wanted.network());
        boolean newDir = !Files.exists(dir.resolve("realization.properties"));
        Optional<Realization> before = read(wanted.network());
        boolean madeBridge = false;
        Dnsmasq dnsmasq = dnsmasq(wanted.network());
        boolean startedDnsmasq = false;
        try {
            reclaimStaleOverlaps(wanted);
            makeDirectories(dir);
            write(wanted); // recorded first: a bridge left by a realize that dies later is known to the GC
            RuntimeDirectory.ensure(runtime, stateDir);
            stopLegacyDnsmasq(wanted.network());
            madeBridge = ensureBridge(wanted);
            DataChange data = writeData(wanted.network(), record, dnsmasq);
            if (before.isPresent() && before.get().nat() != wanted.nat()) {
                dnsmasq.stop(); // with NAT it forwards other names upstream, without it answers only its own
            }
            startedDnsmasq = dnsmasq.ensureRunning(wanted);
            if (!startedDnsmasq) {
                apply(wanted, dnsmasq, data); // it was running: members that left meanwhile must go
            }
            applyFirewall();
            LOG.debug("realized network {} on {} ({}, gateway {}, nat {})", wanted.network(), wanted.bridge(),
                    wanted.subnet(), wanted.gateway(), wanted.nat());
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
            if (newDir || before.map(b -> b.nat() != wanted.nat()).orElse(false)) {
                applyFirewall();
            }
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
        try (Lease held = lock.acquire()) {
            return unrealizeLocked(network, false);
        }
    }

    private boolean unrealizeLocked(String network, boolean evenWithTaps) {
        Optional<Realization> realization = read(network);
        String bridge = realization.map(Realization::bridge).orElse(bridgeName(network));
        if (!evenWithTaps) {
            try (Rtnetlink netlink = Rtnetlink.open()) {
                Optional<Link> br = netlink.link(bridge).filter(l -> isBridgeOf(l, network));
                if (br.isPresent()) {
                    List<String> vms = BridgeTaps.list(netlink).stream()
                            .filter(t -> t.masterIndex() == br.get().index())
                            .map(t -> BridgeTaps.vmIdOf(t).orElse(t.name())).distinct().sorted().toList();
                    if (!vms.isEmpty()) {
                        throw DeviceOperationException.of("unrealize", bridge, Reason.BUSY, "network " + network
                                + " still has TAPs of VM(s) " + vms + " on bridge " + bridge + "; delete those VMs first");
                    }
                }
            }
        }
        boolean removed = realization.isPresent();
        dnsmasq(network).stop();
        removed |= deleteBridge(bridge, network);
        deleteTree(dir(network));
        RuntimeDirectory.remove(runtime, network);
        if (removed) {
            applyFirewall();
            LOG.debug("unrealized network {}", network);
        }
        return removed;
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
        try (Lease held = lock.acquire()) {
            Optional<Realization> realization = read(network);
            realization.ifPresent(this::syncLocked);
            return realization.isPresent();
        }
    }

    /**
     * Syncs every realized network, as {@link #sync} does, under one hold of the lock.
     *
     * @return the networks synced
     * @throws NetworkException if the registry cannot be read
     */
    public List<String> syncAll() {
        try (Lease held = lock.acquire()) {
            List<Realization> realized = list();
            realized.forEach(this::syncLocked);
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

    /** Removes the realization of a network gone from the registry unless VMs' TAPs are on its bridge. */
    private void reclaimIfUnused(String network) {
        try {
            unrealizeLocked(network, false);
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
                    unrealizeLocked(other.network(), false);
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
            }
            return handle;
        }
    }

    /** Called by the follower once its last handle closed and its thread ended. */
    void followerStopped(Follower stopped) {
        synchronized (following) {
            if (follower == stopped) {
                follower = null;
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
        apply(r, dnsmasq, writeData(r.network(), record, dnsmasq));
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
        try {
            return Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new RealizationException("cannot read " + file + ": " + e, e);
        }
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
    private DataChange writeData(String network, NetworkRecord record, Dnsmasq dnsmasq) {
        List<String> dhcp = new ArrayList<>();
        Map<MacAddress, String> macs = new HashMap<>();
        for (Member m : record.members()) {
            MacAddress mac = MacAddress.forMember(network, m.workspace());
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
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        try {
            Files.writeString(tmp, content, StandardCharsets.UTF_8);
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new RealizationException("cannot write " + file + ": " + e, e);
        }
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
     * Returns every network realized under this root directory, by name.
     *
     * @return the realizations
     */
    public List<Realization> list() {
        List<Realization> all = new ArrayList<>();
        if (!Files.isDirectory(root)) {
            return all;
        }
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(root, Files::isDirectory)) {
            for (Path d : dirs) {
                String name = d.getFileName().toString();
                if (NetworkNames.isValid(name)) {
                    read(name).ifPresent(all::add);
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
        return read(network).map(r -> status(r, false));
    }

    /**
     * Checks a realized network and repairs what it can: a dead dnsmasq is restarted, tapwire's rules are
     * restored when missing or changed, data files are re-synced. What it cannot repair (bridge deleted or down,
     * gateway address gone, another table dropping forwarded traffic) is reported in the status's problems;
     * repairs are reported there too.
     *
     * @param network the network
     * @return the status after repair
     * @throws DeviceOperationException if the network is not realized here
     */
    public Status verify(String network) {
        NetworkNames.requireValid(network);
        try (Lease held = lock.acquire()) {
            Realization r = read(network).orElseThrow(() -> DeviceOperationException.of("verify", bridgeName(network),
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
        Optional<String> table = Firewall.tableProblem(root.resolve("ruleset.nft"));
        if (table.isPresent() && repair) {
            applyFirewall();
            problems.add("repaired: " + table.get() + "; tapwire's rules were restored");
        } else {
            table.ifPresent(problems::add);
        }
        problems.addAll(Firewall.foreignForwardDrops(list()));
        if (repair && pid.isPresent()) {
            registry.find(r.network()).ifPresent(record -> refresh(r, record));
        }
        return new Status(r, bridgeUp, pid, List.copyOf(problems));
    }

    // ------------------------------------------------------------------ GC

    /**
     * Removes the realizations of networks that no longer exist in the registry: their dnsmasq, bridge (even
     * with TAPs on it: their VMs' network is gone), rules and state. Bridges carrying tapwire's network alias
     * for a network that is gone are removed too. Nothing else is touched.
     *
     * @return the networks reclaimed
     * @throws NetworkException if the registry cannot be read
     */
    public Set<String> collectGarbage() {
        try (Lease held = lock.acquire()) {
            Set<String> orphans = orphans();
            orphans.forEach(this::reclaim);
            return orphans;
        }
    }

    /**
     * Returns a GC module that reclaims, as {@link #collectGarbage} does, the realizations of networks gone from
     * the registry. It locks the realization lock and needs no active-VM view.
     *
     * @return the module
     */
    public GcModule<Set<String>> gcModule() {
        return new GcModule<>() {
            @Override
            public String name() {
                return "named-networks";
            }

            @Override
            public Optional<Lease> tryLock() {
                return lock.tryAcquire();
            }

            @Override
            public Set<String> snapshot() {
                return orphans();
            }

            @Override
            public Set<String> resolve(Set<String> snapshot, Map<String, Object> others) {
                return snapshot;
            }

            @Override
            public void collect(Set<String> networks) {
                networks.stream().filter(n -> registry.find(n).isEmpty()).forEach(NetworkRealizer.this::reclaim);
            }
        };
    }

    /** Networks realized here, or with a bridge carrying tapwire's alias, that the registry no longer has. */
    private Set<String> orphans() {
        Set<String> existing = new HashSet<>();
        registry.list().forEach(n -> existing.add(n.name()));
        Set<String> orphans = new TreeSet<>();
        list().stream().map(Realization::network).filter(n -> !existing.contains(n)).forEach(orphans::add);
        try (Rtnetlink netlink = Rtnetlink.open()) {
            for (Link l : netlink.links()) {
                if (l.isBridge() && l.alias().startsWith(ALIAS_PREFIX)) {
                    String name = l.alias().substring(ALIAS_PREFIX.length());
                    if (NetworkNames.isValid(name) && !existing.contains(name) && l.name().equals(bridgeName(name))) {
                        orphans.add(name);
                    }
                }
            }
        }
        return orphans;
    }

    private void reclaim(String network) {
        unrealizeLocked(network, true);
        LOG.warn("GC: network {} is gone from the registry; removed its bridge, dnsmasq and rules", network);
    }

    // ------------------------------------------------------------------ devices

    /** Makes or checks the bridge; returns true when this call created it or finished a half-made one. */
    private boolean ensureBridge(Realization r) {
        String alias = ALIAS_PREFIX + r.network();
        try (Rtnetlink netlink = Rtnetlink.open()) {
            Optional<Link> existing = netlink.link(r.bridge());
            boolean made = existing.isEmpty();
            if (existing.isPresent() && !isBridgeOf(existing.get(), r.network())) {
                throw DeviceOperationException.of("realize", r.bridge(), Reason.BUSY, "device " + r.bridge()
                        + " exists but is not network " + r.network() + "'s bridge (kind \"" + existing.get().kind()
                        + "\", alias \"" + existing.get().alias() + "\"); it is never shared: rename or delete it");
            }
            if (made) { // with the network's gateway MAC from the start: alias or not, it is recognisably ours
                netlink.execute(List.of(Rtnetlink.createBridge(r.bridge(), MacAddress.forGateway(r.network()))));
            } else if (existing.get().alias().isEmpty()) {
                made = true; // a bridge a crashed realize made and did not finish: finish it (or remove it)
                LOG.warn("realize: finishing bridge {} of network {}, left half-made by an earlier realize", r.bridge(),
                        r.network());
            }
            try {
                int index = existing.or(() -> netlink.link(r.bridge())).orElseThrow(() -> DeviceOperationException.of(
                        "realize", r.bridge(), Reason.NO_SUCH_DEVICE, "bridge " + r.bridge()
                                + " vanished while being set up")).index();
                netlink.execute(List.of(Rtnetlink.bringUp(index, r.bridge(), 0, alias),
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
     * Tells whether a link is the network's bridge: it carries the network's alias or — made by a realize that
     * died before setting the alias — no alias and the network's gateway MAC, which tapwire sets when it
     * creates the bridge.
     */
    private static boolean isBridgeOf(Link link, String network) {
        return link.isBridge() && (link.alias().equals(ALIAS_PREFIX + network)
                || link.alias().isEmpty() && MacAddress.forGateway(network).equals(link.mac()));
    }

    /** Deletes the bridge if it is this network's (any bridge of that name when network is null). */
    private static boolean deleteBridge(String bridge, String network) {
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
        Firewall.apply(root.resolve("ruleset.nft"), list());
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

    private Optional<Realization> read(String network) {
        Path file = dir(network).resolve("realization.properties");
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        Properties p = new Properties();
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(in);
            return Optional.of(new Realization(network, p.getProperty("bridge"),
                    Ipv4Subnet.parse(p.getProperty("subnet")), Ipv4Address.parse(p.getProperty("gateway")),
                    Boolean.parseBoolean(p.getProperty("nat"))));
        } catch (IOException | RuntimeException e) {
            LOG.warn("ignoring unreadable realization record {}: {}", file, e.toString());
            return Optional.empty();
        }
    }

    private void write(Realization r) {
        String text = "network=" + r.network() + "\nbridge=" + r.bridge() + "\nsubnet=" + r.subnet() + "\ngateway="
                + r.gateway() + "\nnat=" + r.nat() + "\n";
        replace(dir(r.network()).resolve("realization.properties"), text);
    }

    /** Replaces a file atomically (a hidden temporary file renamed over it); returns true when it changed. */
    static boolean replace(Path file, String content) {
        try {
            if (Files.isRegularFile(file) && Files.readString(file, StandardCharsets.UTF_8).equals(content)) {
                return false;
            }
            makeDirectories(file.getParent());
            // dnsmasq ignores files whose names start with a dot in the directories it watches
            Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
            try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                w.write(content);
            }
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
            return true;
        } catch (IOException e) {
            throw new RealizationException("cannot write " + file + ": " + e, e);
        }
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
