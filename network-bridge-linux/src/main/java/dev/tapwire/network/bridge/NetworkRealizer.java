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
import dev.tapwire.network.gc.GcModule;
import dev.tapwire.network.bridge.linux.Nftables;
import dev.tapwire.network.bridge.linux.Rtnetlink;
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
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
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
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes named networks real on this host, in the network namespace of the calling thread: a bridge per
 * network holding the gateway address, a dnsmasq per network serving static DHCP leases (member MAC →
 * member address) and DNS names ({@code <workspace>} and {@code <workspace>.<network>}) from the registry,
 * and tapwire's nftables table isolating the networks from each other, with optional NAT.
 *
 * <p>Works against any {@link NetworkRegistry} (file, etcd or a user's own). State lives under
 * {@code rootDir/realized/<network>/}: the realization record, dnsmasq's watched host directories, its pid
 * file and leases. Every change holds {@code rootDir/realized/realize.lock}, so two processes realizing one
 * network make one bridge and one dnsmasq. dnsmasq drops root to {@code nobody}, which must be able to traverse
 * every directory above the state directory; realizing checks that first.
 *
 * <pre>{@code
 * NetworkRealizer realizer = new NetworkRealizer(stateDir, registry);
 * realizer.realize("team", false);      // bridge tw-team with the gateway, dnsmasq, isolation rules
 * registry.join("team", "web");         // then, from any process:
 * realizer.sync("team");                // web and web.team resolve; web's MAC gets its static lease
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
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    });

    private final Path root;
    private final NetworkRegistry registry;
    private final LockFile lock;

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
     * @throws IllegalStateException if dnsmasq or libnftables is missing (naming the package), or user
     *     {@code nobody} cannot reach the state directory
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
            makeDirectories(dir);
            write(wanted); // recorded first: a bridge left by a realize that dies later is known to the GC
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
        if (removed) {
            applyFirewall();
            LOG.debug("unrealized network {}", network);
        }
        return removed;
    }

    // ------------------------------------------------------------------ sync

    /**
     * Brings a realized network's DHCP and DNS data up to the registry's members: new members' entries are
     * added (dnsmasq reads them through its directory watch); when a member left or moved, dnsmasq is restarted
     * without its lease, so its name stops resolving at once. A network that is not realized here is skipped.
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
            LOG.warn("network {} is realized here but gone from the registry; its realization stays until the GC"
                    + " or an unrealize removes it", r.network());
            return;
        }
        refresh(r, record.get());
    }

    /**
     * Follows the registry: every change to a realized network's members, made by any process or host, is synced
     * to its dnsmasq as soon as the registry reports it (a burst of changes is synced once). The syncing runs on a
     * thread of its own started here, so it acts — restarting a dnsmasq when a member left — in the calling
     * thread's network namespace, whichever thread the registry reports changes on.
     *
     * @return the watch; close it to stop following
     * @throws NetworkException if the registry cannot be watched
     */
    public RegistryWatch follow() {
        Semaphore changed = new Semaphore(0);
        AtomicBoolean open = new AtomicBoolean(true);
        Thread syncer = new Thread(() -> {
            while (open.get()) {
                try {
                    changed.acquire();
                    changed.drainPermits(); // one sync covers every change reported so far
                } catch (InterruptedException e) {
                    return;
                }
                if (!open.get()) {
                    return;
                }
                try {
                    syncAll();
                } catch (RuntimeException e) {
                    LOG.warn("could not sync realized networks after a registry change: {}", e.getMessage());
                }
            }
        }, "tapwire-realizer-sync");
        syncer.setDaemon(true);
        syncer.start();
        RegistryWatch watch;
        try {
            watch = registry.watch(change -> changed.release());
        } catch (RuntimeException e) {
            open.set(false);
            changed.release();
            throw e;
        }
        return () -> {
            watch.close();
            if (open.getAndSet(false)) {
                changed.release(); // wakes it; a sync under way finishes first (never cut off mid-restart)
                try {
                    syncer.join(10_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
    }

    /**
     * Brings dnsmasq up to date with the registry. Additions reach it through its directory watch. A member that
     * left or moved needs more: dnsmasq names a lease after the hosts entry of its address and keeps that name in
     * DNS for as long as the lease lives, so it is restarted with the departed members' leases taken out of its
     * lease file — they stop resolving at once, and a guest that still holds such a lease is refused (NAK) when
     * it renews.
     */
    private void refresh(Realization r, NetworkRecord record) {
        Dnsmasq dnsmasq = dnsmasq(r.network());
        apply(r, dnsmasq, writeData(r.network(), record, dnsmasq));
    }

    private void apply(Realization r, Dnsmasq dnsmasq, DataChange change) {
        if (change.removedLeases().isEmpty()) {
            if (change.removedNames()) {
                dnsmasq.reload(); // a SIGHUP re-reads the host directories whole
            }
            return; // additions only: dnsmasq's inotify watch on both directories reads them without a signal
        }
        dnsmasq.stop();
        Set<String> macs = new HashSet<>();
        change.removedLeases().forEach(line -> macs.add(line.substring(0, line.indexOf(',')).toLowerCase(Locale.ROOT)));
        Path leases = dir(r.network()).resolve("dnsmasq.leases");
        if (Files.exists(leases)) {
            // lease lines: expiry MAC address name client-id
            StringBuilder kept = new StringBuilder();
            for (String l : readLines(leases)) {
                String[] f = l.split(" ");
                if (f.length < 2 || !macs.contains(f[1].toLowerCase(Locale.ROOT))) {
                    kept.append(l).append('\n');
                }
            }
            replace(leases, kept.toString());
        }
        dnsmasq.ensureRunning(r);
        LOG.debug("restarted dnsmasq of network {}: {} member entr(ies) left", r.network(),
                change.removedLeases().size());
    }

    private static List<String> readLines(Path file) {
        try {
            return Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + file + ": " + e, e);
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
        List<String> hosts = new ArrayList<>();
        List<String> dhcp = new ArrayList<>();
        Map<MacAddress, String> macs = new HashMap<>();
        for (Member m : record.members()) {
            MacAddress mac = MacAddress.forMember(network, m.workspace());
            String clash = macs.putIfAbsent(mac, m.workspace());
            if (clash != null) {
                LOG.warn("members {} and {} of network {} would share MAC {}; {} gets no DHCP lease", clash,
                        m.workspace(), network, mac, m.workspace());
                continue;
            }
            dhcp.add(mac + "," + m.ip());
            if (hasDnsName(m.workspace())) {
                hosts.add(hostsEntry(network, m));
            }
        }
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
            throw new IllegalStateException("cannot list " + dir + ": " + e, e);
        }
        Set<String> removed = new HashSet<>();
        for (String name : present) {
            if (!wanted.containsKey(name)) {
                Path stale = dir.resolve(name);
                removed.addAll(readLines(stale));
                try {
                    Files.deleteIfExists(stale);
                } catch (IOException e) {
                    throw new IllegalStateException("cannot remove " + stale + ": " + e, e);
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
        return HexFormat.of().formatHex(SHA256.get().digest(entry.getBytes(StandardCharsets.UTF_8)), 0, 10);
    }

    /** Creates a file that does not exist yet, complete before it appears under its name. */
    private static void create(Path file, String content) {
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        try {
            Files.writeString(tmp, content, StandardCharsets.UTF_8);
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write " + file + ": " + e, e);
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
        registry.get(network).members().stream().filter(m -> hasDnsName(m.workspace()))
                .sorted(Comparator.comparing(Member::ip)).forEach(m -> sb.append(hostsEntry(network, m)).append('\n'));
        return sb.toString();
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
            throw new IllegalStateException("cannot list realized networks under " + root + ": " + e, e);
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
        return new Dnsmasq(dir(network), network);
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
    private static boolean replace(Path file, String content) {
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
            throw new IllegalStateException("cannot write " + file + ": " + e, e);
        }
    }

    private static void makeDirectories(Path dir) {
        try {
            LockFile.createDirectories(dir);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create " + dir + ": " + e, e);
        }
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot remove " + dir + ": " + e, e);
        }
    }

    private void requireAvailable() {
        unavailabilityCause().ifPresent(cause -> {
            throw new IllegalStateException("named networks cannot be realized here: " + cause);
        });
        // dnsmasq runs as nobody: every directory above its files must let others through
        Path p = root.toAbsolutePath();
        for (Path at = p; at != null; at = at.getParent()) {
            if (Files.isDirectory(at)) {
                try {
                    Set<PosixFilePermission> perms = Files.getPosixFilePermissions(at);
                    if (!perms.contains(PosixFilePermission.OTHERS_EXECUTE)) {
                        throw new IllegalStateException("dnsmasq drops root to user nobody, which cannot reach " + root
                                + ": directory " + at + " has mode " + PosixFilePermissions.toString(perms)
                                + "; give it o+x (chmod o+x " + at + ") or use a state directory nobody can traverse");
                    }
                } catch (IOException e) {
                    throw new IllegalStateException("cannot read the mode of " + at + ": " + e, e);
                }
            }
        }
    }
}
