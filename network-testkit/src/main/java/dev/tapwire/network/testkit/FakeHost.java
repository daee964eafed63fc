package dev.tapwire.network.testkit;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.DeviceOperationException.Reason;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkNames;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.PortPublication;
import dev.tapwire.network.VmNetworks;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Comparator;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The fake kernel an {@link InMemoryNetworkProvider} creates TAPs on: which bridges and TAPs exist, whose the TAPs
 * are and which bridge holds them, the records its providers keep of their VMs, plus failure injection for testing a
 * manager's error paths ({@link #failNext}). Every provider of one root directory shares one host, as processes on
 * one machine share a kernel and a state directory.
 *
 * <p>As on a real host, a bridge a provider's {@code bridge} option names must exist first ({@link #addBridge},
 * what {@code ip link add br0 type bridge} is on a real one); a named network's bridge is made when a NIC first joins
 * the network, as the bridge backend realizes it.
 *
 * <p>A named network is realized on the host when a NIC first joins it, as the bridge backend realizes it: its bridge
 * exists, it holds its subnet (a network of an overlapping subnet is refused while it is in the registry, or while
 * TAPs of VMs are on its bridge once it is gone from the registry), and its DNS answers ({@link #resolve}) are the
 * registry's members of the moment — as the bridge backend's dnsmasq follows its registry.
 *
 * <p>Thread-safe: its maps are concurrent, and providers change it holding its monitor.
 */
public final class FakeHost {

    /**
     * A TAP on the fake host.
     *
     * @param name the TAP name
     * @param vmId the VM it was made for
     * @param bridge the bridge it is attached to
     * @param multiQueue whether it was created multi-queue
     */
    public record Tap(String name, String vmId, String bridge, boolean multiQueue) {
    }

    /**
     * What a guest port may send, as the bridge backend's port security filters it.
     *
     * @param tap the TAP name
     * @param filtered whether port security is on for the NIC (off: anything but rogue DHCP servers and routers)
     * @param mac the only source MAC allowed, when filtered
     * @param ip the only IPv4 source allowed, when filtered and the address is known (a named network's, or the
     *     one the manager gave); empty for MAC and ARP checks only
     */
    public record GuestPort(String tap, boolean filtered, Optional<MacAddress> mac, Optional<Ipv4Address> ip) {
    }

    private final Map<String, Tap> taps = new ConcurrentHashMap<>();
    private final Map<String, GuestPort> ports = new ConcurrentHashMap<>();
    private final Map<String, DeviceOperationException> failures = new ConcurrentHashMap<>();
    private final ReentrantLock gcLock = new ReentrantLock();
    private final Map<String, String> workspaces = new ConcurrentHashMap<>(); // VM → workspace on named networks
    private final Set<String> bridges = ConcurrentHashMap.newKeySet();
    private final Map<String, VmNetworks> records = new ConcurrentHashMap<>(); // VM → what configure and attach made
    private final Map<String, String> networkOf = new ConcurrentHashMap<>(); // TAP → its named network
    private final Map<String, Realized> realized = new ConcurrentHashMap<>(); // network → its realization here
    private final Map<String, Map<String, List<PortPublication>>> publications = new ConcurrentHashMap<>(); // VM → TAP →
    private final java.util.Deque<Reason> nextFailures = new java.util.concurrent.ConcurrentLinkedDeque<>();

    /** Creates an empty host. */
    public FakeHost() {
    }

    /**
     * Returns the TAPs that exist, by name.
     *
     * @return a sorted snapshot
     */
    public Map<String, Tap> taps() {
        return new TreeMap<>(taps);
    }

    /**
     * Looks one TAP up.
     *
     * @param name the TAP name
     * @return the TAP, or empty when it does not exist
     */
    public Optional<Tap> tap(String name) {
        return Optional.ofNullable(taps.get(name));
    }

    /**
     * Adds a bridge, as {@code ip link add NAME type bridge} does on a real host: a provider whose {@code bridge}
     * option names it can then be made.
     *
     * @param name the bridge name
     * @return this host
     */
    public FakeHost addBridge(String name) {
        bridges.add(dev.tapwire.network.TapNames.requireValidInterfaceName(name));
        return this;
    }

    /**
     * Removes a bridge (its TAPs stay, on a bridge that is gone: verify then fails, as on a real host).
     *
     * @param name the bridge name
     */
    public void removeBridge(String name) {
        bridges.remove(name);
    }

    /**
     * Returns the bridges that exist, including those of realized named networks.
     *
     * @return a sorted snapshot
     */
    public Set<String> bridges() {
        return new TreeSet<>(bridges);
    }

    /**
     * Makes the next TAP creation on this host (by any provider, for any VM) fail with a {@link
     * DeviceOperationException} of {@code reason}, as the kernel would: {@code BUSY} as {@code EBUSY}, {@code
     * PERMISSION_DENIED} as {@code EPERM}, and so on. Calls queue up: two calls fail the next two creations.
     *
     * @param reason the class of failure
     * @return this host
     */
    public FakeHost failNext(Reason reason) {
        nextFailures.add(java.util.Objects.requireNonNull(reason, "reason"));
        return this;
    }

    /**
     * Makes the next creation of {@code tap} fail with {@code failure} (once). {@link #failNext} says the same by
     * reason, without building the exception.
     *
     * @param tap the TAP name
     * @param failure what to throw
     */
    public void failNextCreate(String tap, DeviceOperationException failure) {
        failures.put(tap, failure);
    }

    /**
     * Adds a TAP as if something outside tapwire had made it (a leftover).
     *
     * @param tap the TAP
     */
    public void put(Tap tap) {
        taps.put(tap.name(), tap);
    }

    /**
     * Removes a TAP.
     *
     * @param name the TAP name
     */
    public void remove(String name) {
        Tap gone = taps.remove(name);
        ports.remove(name);
        networkOf.remove(name);
        if (gone != null) {
            putPublications(gone.vmId(), name, List.of()); // a TAP's publications go with it
        }
    }

    /**
     * Returns what a TAP's guest may send, as its configure set it.
     *
     * @param tap the TAP name
     * @return the port's settings, or empty when the TAP does not exist
     */
    public Optional<GuestPort> guestPort(String tap) {
        return Optional.ofNullable(ports.get(tap));
    }

    /** Sets what a TAP's guest may send. */
    void putGuestPort(GuestPort port) {
        ports.put(port.tap(), port);
    }

    /** Records the workspace a VM joined its named networks as, or forgets it (empty). */
    void recordWorkspace(String vmId, Optional<String> workspace) {
        workspace.ifPresentOrElse(w -> workspaces.put(vmId, w), () -> workspaces.remove(vmId));
    }

    /**
     * Returns the live VM that holds {@code workspace} on the network whose bridge is {@code bridge}: one with a TAP
     * there and that workspace recorded.
     */
    Optional<String> holderOf(String bridge, String workspace) {
        return taps.values().stream().filter(t -> t.bridge().equals(bridge)).map(Tap::vmId).distinct()
                .filter(vm -> workspace.equals(workspaces.get(vm))).sorted().findFirst();
    }

    /** The failure injected for the creation of {@code tap}, if any: one for that TAP, else the next by reason. */
    Optional<DeviceOperationException> failure(String tap) {
        DeviceOperationException byName = failures.remove(tap);
        if (byName != null) {
            return Optional.of(byName);
        }
        Reason reason = nextFailures.poll();
        return reason == null ? Optional.empty() : Optional.of(DeviceOperationException.of("TUNSETIFF", tap, reason,
                "injected by FakeHost.failNext(" + reason + ")"));
    }

    /** A network realized on this host: its subnet and the registry its members come from. */
    private record Realized(String network, dev.tapwire.network.Ipv4Subnet subnet, Ipv4Address gateway,
            NetworkRegistry registry, dev.tapwire.network.RealizeOptions options) {
    }

    private static final Pattern DNS_LABEL = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?");

    /**
     * Realizes a network here, as the bridge backend does before a NIC joins it: refuses a network whose subnet
     * overlaps one realized here that is still in the registry, removes the realization of an overlapping network
     * gone from the registry — or refuses, naming the VMs, while TAPs are on its bridge — then makes its bridge.
     * Callers hold the host's monitor.
     */
    void realize(NetworkRecord record, NetworkRegistry registry) {
        Realized before = realized.get(record.name());
        realize(record, registry, before != null ? before.options() : dev.tapwire.network.RealizeOptions.defaults());
    }

    /** Realizes a network as {@link #realize(NetworkRecord, NetworkRegistry)} does, with these options. */
    dev.tapwire.network.RealizedNetwork realize(NetworkRecord record, NetworkRegistry registry,
            dev.tapwire.network.RealizeOptions options) {
        String bridge = NetworkNames.bridgeName(record.name());
        for (Realized other : List.copyOf(realized.values())) {
            if (other.network().equals(record.name()) || !other.subnet().overlaps(record.subnet())) {
                continue;
            }
            String otherBridge = NetworkNames.bridgeName(other.network());
            if (other.registry().find(other.network()).isPresent()) {
                throw DeviceOperationException.of("realize", bridge, Reason.BUSY, "network " + record.name() + " ("
                        + record.subnet() + ") overlaps network " + other.network() + " (" + other.subnet()
                        + "), realized here on " + otherBridge + "; two realized networks never share addresses: take "
                        + other.network() + " down first, or give " + record.name() + " a subnet of its own");
            }
            List<String> vms = taps.values().stream().filter(t -> t.bridge().equals(otherBridge)).map(Tap::vmId)
                    .distinct().sorted().toList();
            if (!vms.isEmpty()) {
                throw DeviceOperationException.of("realize", bridge, Reason.BUSY, "network " + other.network()
                        + ", gone from the registry, is still realized here on " + other.subnet() + ", which overlaps "
                        + record.name() + "'s " + record.subnet() + ": network " + other.network() + " still has TAPs"
                        + " of VM(s) " + vms + " on bridge " + otherBridge + "; delete those VMs first");
            }
            realized.remove(other.network());
            bridges.remove(otherBridge);
        }
        Realized made = new Realized(record.name(), record.subnet(), record.gateway(), registry, options);
        realized.put(record.name(), made);
        bridges.add(bridge);
        return view(made, List.of());
    }

    private static dev.tapwire.network.RealizedNetwork view(Realized r, List<String> problems) {
        return new dev.tapwire.network.RealizedNetwork(r.network(), NetworkNames.bridgeName(r.network()), r.subnet(),
                r.gateway(), r.options(), problems);
    }

    /** Takes a realized network down, refusing while TAPs of VMs are on its bridge. Callers hold the monitor. */
    boolean unrealize(String network) {
        String bridge = NetworkNames.bridgeName(network);
        if (!realized.containsKey(network)) {
            return false;
        }
        List<String> vms = taps.values().stream().filter(t -> t.bridge().equals(bridge)).map(Tap::vmId).distinct()
                .sorted().toList();
        if (!vms.isEmpty()) {
            throw DeviceOperationException.of("unrealize", bridge, Reason.BUSY, "network " + network + " still has TAPs"
                    + " of VM(s) " + vms + " on bridge " + bridge + "; delete those VMs first");
        }
        realized.remove(network);
        bridges.remove(bridge);
        return true;
    }

    /** The networks realized here, by name; a network gone from the registry is reported with that problem. */
    List<dev.tapwire.network.RealizedNetwork> realizations() {
        return new TreeMap<>(realized).values().stream().map(r -> view(r, r.registry().find(r.network()).isPresent()
                ? List.of() : List.of("network " + r.network() + " is gone from the registry"))).toList();
    }

    /**
     * Returns the named networks realized on this host.
     *
     * @return their names, sorted
     */
    public Set<String> realizedNetworks() {
        return new TreeSet<>(realized.keySet());
    }

    /**
     * Answers a DNS query on a realized network as its dnsmasq would: {@code workspace} and {@code
     * workspace.network} are the member's address, for the members the registry holds now whose name is a DNS label
     * (one per name whatever its case: the lowest address keeps it).
     *
     * @param network the network
     * @param name the name asked for, e.g. {@code web} or {@code web.team}
     * @return the addresses, empty for an unknown name or a network not realized here (or gone from the registry)
     */
    public List<Ipv4Address> resolve(String network, String name) {
        Realized r = realized.get(network);
        Optional<NetworkRecord> record = r == null ? Optional.empty() : r.registry().find(network);
        if (record.isEmpty() || name == null) {
            return List.of();
        }
        String wanted = name.toLowerCase(Locale.ROOT);
        String suffix = "." + network.toLowerCase(Locale.ROOT);
        String label = wanted.endsWith(suffix) ? wanted.substring(0, wanted.length() - suffix.length()) : wanted;
        return record.get().members().stream().sorted(Comparator.comparing(Member::ip))
                .filter(m -> DNS_LABEL.matcher(m.workspace()).matches())
                .filter(m -> m.workspace().toLowerCase(Locale.ROOT).equals(label)).limit(1).map(Member::ip).toList();
    }

    /** Tells whether a bridge exists. */
    boolean hasBridge(String name) {
        return bridges.contains(name);
    }

    /** The record of a VM that a provider of this host configured. */
    Optional<VmNetworks> record(String vmId) {
        return Optional.ofNullable(records.get(vmId));
    }

    /** Every VM record, sorted by VM ID. */
    Map<String, VmNetworks> records() {
        return new TreeMap<>(records);
    }

    /** Sets (or, with no NICs, forgets) the record of a VM. */
    void putRecord(VmNetworks record) {
        if (record.nics().isEmpty()) {
            records.remove(record.vmId());
        } else {
            records.put(record.vmId(), record);
        }
    }

    /**
     * Returns every host port published on this host, by VM and TAP, in the order they were published.
     *
     * @return a snapshot
     */
    public Map<String, Map<String, List<PortPublication>>> publications() {
        Map<String, Map<String, List<PortPublication>>> copy = new TreeMap<>();
        publications.forEach((vm, taps) -> {
            Map<String, List<PortPublication>> byTap = new TreeMap<>();
            taps.forEach((tap, list) -> byTap.put(tap, List.copyOf(list)));
            copy.put(vm, byTap);
        });
        return copy;
    }

    /** The publications of one VM, by TAP. */
    Map<String, List<PortPublication>> publicationsOf(String vmId) {
        return publications().getOrDefault(vmId, Map.of());
    }

    /** Sets the publications of one NIC (none: forgets them). */
    void putPublications(String vmId, String tap, List<PortPublication> list) {
        Map<String, List<PortPublication>> taps = publications.computeIfAbsent(vmId, v -> new ConcurrentHashMap<>());
        if (list.isEmpty()) {
            taps.remove(tap);
        } else {
            taps.put(tap, new ArrayList<>(list));
        }
        if (taps.isEmpty()) {
            publications.remove(vmId);
        }
    }

    /** Forgets the publications of a VM. */
    void forgetPublications(String vmId) {
        publications.remove(vmId);
    }

    /** Records the named network a TAP is on, or forgets it (null). */
    void putNetwork(String tap, String network) {
        if (network == null) {
            networkOf.remove(tap);
        } else {
            networkOf.put(tap, network);
        }
    }

    /** The named network a TAP is on. */
    Optional<String> networkOf(String tap) {
        return Optional.ofNullable(networkOf.get(tap));
    }

    /** The workspace a VM joined its named networks as. */
    Optional<String> workspaceOf(String vmId) {
        return Optional.ofNullable(workspaces.get(vmId));
    }

    ReentrantLock gcLock() {
        return gcLock;
    }
}
