package dev.tapwire.network.bridge;

import com.sun.jna.Platform;
import dev.tapwire.network.AddressInUseException;
import dev.tapwire.network.ConfigureRequest;
import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.DeviceOperationException.Reason;
import dev.tapwire.network.GuestNetwork;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkProvider;
import dev.tapwire.network.NetworkRealizations;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.NicSpec;
import dev.tapwire.network.PortPublication;
import dev.tapwire.network.RealizeOptions;
import dev.tapwire.network.RealizedNetwork;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.TapNames;
import dev.tapwire.network.TapNaming;
import dev.tapwire.network.VerifyReport;
import dev.tapwire.network.VmNetworks;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.bridge.linux.Interfaces;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.bridge.linux.Tun;
import dev.tapwire.network.bridge.linux.raw.LibC;
import dev.tapwire.network.gc.GcOrchestrator;
import dev.tapwire.network.lock.Lease;
import dev.tapwire.network.lock.LockFile;
import dev.tapwire.network.spi.NetworkJoins;
import dev.tapwire.network.spi.NicIndexes;
import dev.tapwire.network.spi.ProviderSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code bridge} backend: one persistent TAP per VM NIC, attached to an existing Linux bridge (such
 * as {@code cni0}, where an external DHCP server hands out addresses), made through JNA ioctls on
 * {@code /dev/net/tun} and rtnetlink.
 *
 * <p>TAPs are named by the {@link TapNaming} the option {@value TapNaming#OPTION} selects (default
 * {@code bt<first 8 characters of the VM ID>-<nic>}) and carry the alias {@code tapwire:<vm id>}, which is
 * what makes a TAP tapwire's (see {@link BridgeTaps}). Each is created with {@code IFF_TUN_EXCL} (an
 * existing device of that name is an {@code EBUSY} error, never silently shared), owned as the options say,
 * given the bridge's MTU, brought up and attached with MAC learning and unknown-unicast flooding off on its
 * port and the guest's MAC as a static forwarding entry: frames for one guest reach that guest's port only.
 * Every port is port-secured by default, admitted to the state directory's own nftables table before it joins
 * its bridge (see {@link VmSpec#withoutPortSecurity}, {@link VmSpec#withAddress} and {@link Realization}): a guest
 * sends only with its own MAC and address, and never as a DHCP server or router; a network's {@link
 * Realization#isolated} ports cannot reach each other.
 * Everything happens in the network namespace of the calling thread. {@link #configure} and {@link #delete}
 * hold the GC lock ({@code rootDir/bridge/gc.lock}), so a GC cycle never sees a VM half-configured.
 *
 * <p>Options in {@link ProviderSettings}: {@code bridge} (required, the bridge device); {@code owner} (uid)
 * and {@code group} (gid) that may attach — the kernel lets a user attach only when it matches
 * <em>every</em> one that is set, so with {@code group} alone the TAP has no owner and any member of the
 * group may attach, and with neither the owner is this process's effective uid (a TAP with no owner and no
 * group is never made); {@value TapNaming#OPTION} ({@code prefix} or {@code hashed}). Any other key is refused,
 * naming these. {@link #inspect} and {@link #list} answer from the host: the TAPs that exist with tapwire's alias and
 * the NIC configs this state directory's configures and attaches recorded ({@code rootDir/bridge/ports.journal}), so
 * any provider of the same state directory, in any process, reports the same.
 *
 * <p>Thread-safe: one provider may be used from many threads, and several providers of one state directory (in one
 * process or several) at once. Every change — configure, attach, detach, publish, delete — holds the state directory's
 * GC lock (a file lock plus an in-process lock), so changes under one root run one at a time and a GC cycle never
 * sees one half-done; inspect, list and verify read what is on the host. Each call acts in the network namespace of
 * its calling thread: call from a platform thread in the namespace meant, never from a virtual thread.
 *
 * <p>Given a registry, the provider follows it while it is open ({@link NetworkRealizer#follow}): whichever
 * process changes the registry, and in whatever order a manager deletes VMs and leaves networks, the DNS and DHCP
 * data of the networks realized here follow within moments, with no further call. The following acts in the
 * network namespace of the thread that created the provider. {@link #close} stops it; devices and addresses stay.
 *
 * <pre>{@code
 * try (NetworkProvider bridge = NetworkProviders.create("bridge",
 *         ProviderSettings.of(stateDir).with("bridge", "cni0").with("owner", "1000"))) {
 *     List<NicConfig> nics = bridge.configure("vm-0f3a2b1c", 2, VmSpec.of(4), List.of());
 * }
 * }</pre>
 */
public final class BridgeNetworkProvider implements NetworkProvider {

    /** The provider type. */
    public static final String TYPE = "bridge";
    /** The option keys this backend reads; {@link ProviderSettings} with any other key is refused. */
    public static final Set<String> OPTIONS = Set.of("bridge", "owner", "group", TapNaming.OPTION);

    private static final Logger LOG = LoggerFactory.getLogger(BridgeNetworkProvider.class);
    /** The MTU the kernel gives a new TAP. */
    private static final int DEFAULT_MTU = 1500;
    private static volatile Optional<String> unavailability;

    private final ProviderSettings settings;
    private final Optional<String> bridge;
    private final Optional<NetworkRealizer> realizer;
    private final OptionalInt owner;
    private final OptionalInt group;
    private final TapNaming naming;
    private final LockFile gcLock;
    private final PortSecurity security;
    private final PortPublishing publishing;
    private final Optional<RegistryWatch> following;
    private final AtomicBoolean open = new AtomicBoolean(true);

    /**
     * Creates the provider, checks that the bridge exists and is a bridge and, given a registry, starts
     * following it (see {@link #close}).
     *
     * @param settings root directory, options and, for NICs on named networks, the registry ({@code bridge} is
     *     required without a registry)
     * @throws InvalidNetworkSpecException if there is neither {@code bridge} nor a registry, an option key is not
     *     one of {@link #OPTIONS}, {@code bridge} is invalid, owner/group are not ids or the TAP naming is unknown
     * @throws DeviceOperationException if the bridge does not exist ({@code ENODEV}) or is not a bridge
     * @throws NetworkException if the backend cannot run on this host (see {@link #unavailabilityCause()}) or the
     *     registry cannot be watched
     */
    public BridgeNetworkProvider(ProviderSettings settings) {
        unavailabilityCause().ifPresent(cause -> {
            throw new NetworkException("the bridge network provider cannot run here: " + cause);
        });
        settings.requireKnownOptions(TYPE, OPTIONS);
        this.settings = settings;
        this.bridge = settings.option("bridge").map(TapNames::requireValidInterfaceName);
        if (bridge.isEmpty() && settings.findRegistry().isEmpty()) {
            throw new InvalidNetworkSpecException("the bridge provider needs the option bridge=<device> (e.g. cni0)"
                    + " for NICs on no named network, or a registry (ProviderSettings.withRegistry) for named networks");
        }
        this.realizer = settings.findRegistry().map(r -> new NetworkRealizer(settings.rootDir(), r));
        this.group = settings.intOption("group").map(OptionalInt::of).orElse(OptionalInt.empty());
        this.owner = ownerOf(settings, group);
        this.naming = settings.option(TapNaming.OPTION).map(TapNaming::parse).orElse(TapNaming.PREFIX);
        this.gcLock = gcLock(settings.rootDir());
        this.security = new PortSecurity(NetworkRealizer.ownerTag(settings.rootDir()));
        this.publishing = new PortPublishing(settings.rootDir());
        if (bridge.isPresent()) {
            try (Rtnetlink netlink = Rtnetlink.open()) {
                bridgeLink(netlink);
            }
        }
        // last: nothing after it can fail, so a constructor that throws leaves no watch running
        this.following = realizer.map(NetworkRealizer::follow);
    }

    /**
     * Stops following the registry; the TAPs, networks and addresses stay. Idempotent. Changes made to the
     * registry afterwards reach this host's DNS and DHCP data on the next configure, delete, verify or sync.
     */
    @Override
    public void close() {
        if (open.getAndSet(false)) {
            following.ifPresent(RegistryWatch::close);
        }
    }

    /**
     * Tells whether the backend can run here: Linux, libc reachable through JNA, {@code /dev/net/tun} present.
     *
     * @return true when it can
     */
    public static boolean isSupported() {
        return unavailabilityCause().isEmpty();
    }

    /**
     * Says why the backend cannot run here, probing once.
     *
     * @return the reason, or empty when it can run
     */
    public static Optional<String> unavailabilityCause() {
        Optional<String> cause = unavailability;
        if (cause == null) {
            cause = probe();
            unavailability = cause;
        }
        return cause;
    }

    /** Sets what {@link #unavailabilityCause()} reports, for tests of a host where the backend cannot run. */
    static void overrideUnavailability(Optional<String> cause) {
        unavailability = cause;
    }

    private static Optional<String> probe() {
        if (!Platform.isLinux()) {
            return Optional.of("it needs Linux; this is " + System.getProperty("os.name"));
        }
        try {
            LibC.geteuid();
        } catch (LinkageError e) {
            return Optional.of("libc cannot be reached through JNA: " + e);
        }
        if (!Files.exists(Path.of("/dev/net/tun"))) {
            return Optional.of("/dev/net/tun is missing (load the tun module)");
        }
        return Optional.empty();
    }

    @Override
    public String type() {
        return TYPE;
    }

    /**
     * Returns the bridge this provider attaches the TAPs of NICs on no named network to.
     *
     * @return the bridge device name, or empty when only named networks are served
     */
    public Optional<String> bridge() {
        return bridge;
    }

    /**
     * Returns the realizer of named networks, present when the settings carry a registry.
     *
     * @return the realizer, or empty
     */
    public Optional<NetworkRealizer> realizer() {
        return realizer;
    }

    /**
     * Returns how this provider names TAPs.
     *
     * @return the naming scheme
     */
    public TapNaming naming() {
        return naming;
    }

    /** The lock that GC cycles take and that configure and delete hold, so neither sees the other half-done. */
    LockFile gcLock() {
        return gcLock;
    }

    static LockFile gcLock(Path rootDir) {
        return LockFile.at(rootDir.resolve("bridge").resolve("gc.lock"));
    }

    /**
     * Returns the settings this provider was made with.
     *
     * @return the settings
     */
    public ProviderSettings settings() {
        return settings;
    }

    @Override
    public List<NicConfig> configure(String vmId, int nics, VmSpec vm, List<NicConfig> existing) {
        return configureAll(List.of(new ConfigureRequest(vmId, nics, vm, existing))).get(0);
    }

    /**
     * Publishes host ports to a NIC through this state directory's own nftables table ({@link PortPublishing}): DNAT
     * from outside the host, from the host itself (127.0.0.1 too) and from guests, to the NIC's address on its named
     * network or, on no named network, the address its port security filters it to. The call holds the GC lock.
     *
     * @throws AddressInUseException if a host port is published already (by this or another state directory of the
     *     namespace), naming the VM and NIC that hold it
     * @throws InvalidNetworkSpecException if the VM ID or a publication is invalid, or the NIC has no known address
     * @throws DeviceOperationException ({@code NO_SUCH_DEVICE}) if the VM has no TAP of that name here
     * @throws NetworkException if the record cannot be written or nftables refuses
     */
    @Override
    public List<PortPublication> publish(String vmId, String tap, List<PortPublication> publications) {
        TapNames.requireValidVmId(vmId);
        requirePublications(publications);
        try (Lease gc = gcLock.acquire()) {
            Link link;
            Link master;
            try (Rtnetlink netlink = Rtnetlink.open()) {
                List<Link> links = netlink.links();
                link = links.stream().filter(l -> l.name().equals(tap) && BridgeTaps.belongsTo(l, vmId)).findFirst()
                        .orElseThrow(() -> DeviceOperationException.of("publish", tap, Reason.NO_SUCH_DEVICE, "VM "
                                + vmId + " has no NIC with TAP " + tap));
                master = links.stream().filter(l -> l.index() == link.masterIndex() && l.isBridge()).findFirst()
                        .orElseThrow(() -> DeviceOperationException.of("publish", tap, Reason.NO_SUCH_DEVICE, "TAP "
                                + tap + " of VM " + vmId + " is on no bridge; verify the VM, or configure it again"));
            }
            Optional<Ipv4Address> address = PortRecords.nics(settings.rootDir()).getOrDefault(vmId, List.of()).stream()
                    .filter(n -> n.tap().equals(tap) && n.network() != null).map(n -> n.network().ip()).findFirst()
                    .or(() -> Optional.ofNullable(BridgeTaps.portsOf(settings.rootDir(), vmId).get(tap))
                            .flatMap(PortSecurity.Entry::ip));
            if (address.isEmpty()) {
                throw new InvalidNetworkSpecException("a port publication needs the NIC's IPv4 address; VM " + vmId
                        + " NIC " + tap + " has none (it is on no named network and was given no address)");
            }
            PortPublishing.Target target = new PortPublishing.Target(vmId, tap, master.name(), address.get());
            return publishing.publish(target, publications).stream().filter(p -> p.target().tap().equals(tap))
                    .map(PortPublishing.Published::publication).toList();
        }
    }

    /**
     * Removes publications of a VM from this state directory's table, as {@link PortPublishing#unpublish} does.
     *
     * @throws InvalidNetworkSpecException if the VM ID or a publication is invalid
     * @throws NetworkException if the record cannot be written or nftables refuses
     */
    @Override
    public List<PortPublication> unpublish(String vmId, List<PortPublication> publications) {
        TapNames.requireValidVmId(vmId);
        requirePublications(publications);
        try (Lease gc = gcLock.acquire()) {
            return publishing.unpublish(vmId, publications).stream().map(PortPublishing.Published::publication)
                    .toList();
        }
    }

    private static void requirePublications(List<PortPublication> publications) {
        if (publications == null || publications.stream().anyMatch(java.util.Objects::isNull)) {
            throw new InvalidNetworkSpecException("port publications must not be or hold null; got " + publications);
        }
    }

    /**
     * Configures many VMs in one go, as a host restart needs: every TAP is created first, then all of them are
     * set up (alias, MTU, up, bridge, port flags, static FDB entry) in one pipelined netlink batch, under one
     * hold of the GC lock. All or nothing: on failure, exactly the TAPs this call created are removed.
     *
     * @param requests the VMs, each at most once
     * @return each VM's configs, in request order
     * @throws InvalidNetworkSpecException if a request is invalid or names a VM twice; nothing is made then
     * @throws DeviceOperationException if a TAP cannot be created (e.g. {@code EBUSY}) or set up
     */
    @Override
    public List<List<NicConfig>> configureAll(List<ConfigureRequest> requests) {
        ConfigureRequest.requireDistinct(requests);
        List<List<NicConfig>> previous = new ArrayList<>(requests.size());
        for (ConfigureRequest r : requests) {
            previous.add(TapNames.requireValidConfigure(r.vmId(), r.nics(), r.vm(), r.existing(), naming));
            r.vm().requireNics(r.vmId(), r.nics());
            ConfigureRequest.requireSameQueues(r.vmId(), r.vm(), r.existing());
        }
        // the whole call holds the GC lock: two configures under this root never both take one workspace, and a
        // rollback never leaves a network that the other configure's VM joined meanwhile
        try (Lease gc = gcLock.acquire()) {
            // a VM without saved configs that has TAPs here has its NIC 0 (which cannot be detached), and creating
            // that fails with EBUSY: only recoveries and reconfigures need the link dump
            if (requests.stream().anyMatch(r -> !r.existing().isEmpty())) {
                try (Rtnetlink netlink = Rtnetlink.open()) {
                    List<Link> links = netlink.links();
                    for (ConfigureRequest r : requests) {
                        requireNoNicsBeyond(links, r.vmId(), r.nics());
                    }
                }
            }
            return configureHeld(requests, previous, Optional.empty());
        }
    }

    /** Refuses a configure of fewer NICs than the VM has here: a configure never removes a NIC. */
    private void requireNoNicsBeyond(List<Link> links, String vmId, int nics) {
        Set<String> asked = new TreeSet<>();
        for (int i = 0; i < nics; i++) {
            asked.add(naming.tapName(vmId, i));
        }
        List<String> beyond = links.stream().filter(l -> BridgeTaps.belongsTo(l, vmId)).map(Link::name)
                .filter(t -> !asked.contains(t)).sorted().toList();
        if (!beyond.isEmpty()) {
            throw NicIndexes.beyond(vmId, nics, beyond);
        }
    }

    /**
     * What an attach adds to the configure of a one-NIC VM it runs as: the index the NIC takes among the VM's NICs
     * (its TAP's name), and the port-security entries of the VM's other NICs, which the record keeps.
     */
    private record Attach(int index, Map<String, PortSecurity.Entry> others) {
    }

    /**
     * Configures the requests holding the GC lock: joins, TAPs, records, then the networks' DNS and DHCP data. An
     * attach is one request of a one-NIC spec whose NIC 0 is the VM's NIC {@code attach.index()}.
     */
    private List<List<NicConfig>> configureHeld(List<ConfigureRequest> requests, List<List<NicConfig>> previous,
            Optional<Attach> attach) {
        Attachments attachments = new Attachments(attach.map(Attach::index).orElse(0));
        Map<String, Map<String, PortSecurity.Entry>> ports = new LinkedHashMap<>(); // VM → its filtered TAPs
        List<List<NicConfig>> configs;
        // before any TAP exists, so this state directory's GC may take what a configure killed midway leaves
        PortRecords.own(settings.rootDir(), requests.stream().map(ConfigureRequest::vmId).toList());
        try {
            for (ConfigureRequest r : requests) {
                attachments.join(r);
            }
            try (Rtnetlink netlink = Rtnetlink.open(); Interfaces interfaces = Interfaces.over(netlink)) {
                configs = configureLocked(netlink, interfaces, requests, previous, attachments, ports);
            }
        } catch (RuntimeException e) {
            attachments.rollback(e);
            throw e;
        }
        if (attach.isEmpty() || attachments.of(requests.get(0).vmId()).size() > 0) { // an attach off networks keeps it
            attachments.recordWorkspaces();
        }
        attach.ifPresent(a -> ports.values().forEach(p -> p.putAll(a.others())));
        recordPorts(ports);
        Map<String, List<NicConfig>> nics = new LinkedHashMap<>();
        for (int i = 0; i < requests.size(); i++) {
            String vmId = requests.get(i).vmId();
            List<NicConfig> all = new ArrayList<>(configs.get(i));
            if (attach.isPresent()) {
                Set<String> made = new TreeSet<>(configs.get(i).stream().map(NicConfig::tap).toList());
                PortRecords.nics(settings.rootDir()).getOrDefault(vmId, List.of()).stream()
                        .filter(n -> !made.contains(n.tap())).forEach(all::add);
                all.sort(java.util.Comparator.comparingInt(n -> NicIndexes.indexOf(vmId, naming, n.tap())));
            }
            nics.put(vmId, all);
        }
        recordNics(nics);
        attachments.sync();
        return configs;
    }

    /** Records the VMs' NIC configs for inspect and list; a failure is a warning: the NICs are in place. */
    private void recordNics(Map<String, List<NicConfig>> nics) {
        try {
            PortRecords.recordNics(settings.rootDir(), nics);
        } catch (NetworkException e) {
            LOG.warn("configured VM(s) {}, but could not record their NIC configs; inspect and list will answer from"
                    + " the kernel's links alone: {}", nics.keySet(), e.getMessage());
        }
    }

    /**
     * Adds one NIC to a configured VM, leaving its other NICs as they are: a new TAP (never an adopted one), set up
     * as configure sets up each TAP, port-secured as {@code nic} says, at the lowest NIC index the VM has no TAP
     * for. The new TAP's queue mode must be the VM's other TAPs' (a spec with another CPU count or queue mode is
     * refused). The call holds the GC lock.
     *
     * @throws InvalidNetworkSpecException if the VM is not configured here, is on that network already, has no free
     *     NIC index, its TAPs are of another queue mode than {@code vm} gives, or the NIC is on no named network and
     *     this provider has no bridge
     * @throws DeviceOperationException if the TAP cannot be created or set up
     */
    @Override
    public NicConfig attach(String vmId, VmSpec vm, NicSpec nic) {
        TapNames.requireValidVmId(vmId);
        if (vm == null || nic == null) {
            throw new InvalidNetworkSpecException("attach needs the VM's spec and the NIC's spec; got " + vm + ", " + nic);
        }
        try (Lease gc = gcLock.acquire()) {
            List<Link> links;
            try (Rtnetlink netlink = Rtnetlink.open()) {
                links = netlink.links();
            }
            List<Link> taps = links.stream().filter(l -> BridgeTaps.belongsTo(l, vmId)).toList();
            Link first = taps.stream().filter(l -> l.name().equals(naming.tapName(vmId, 0))).findFirst()
                    .orElseThrow(() -> new InvalidNetworkSpecException("VM " + vmId + " is not configured here (it has"
                            + " no NIC 0, " + naming.tapName(vmId, 0) + "): configure it before attaching a NIC to it"));
            boolean multiQueue = first.tun().map(Link.TunInfo::multiQueue).orElse(vm.needsMultiQueueTap());
            if (multiQueue != vm.needsMultiQueueTap()) {
                throw new InvalidNetworkSpecException("VM " + vmId + "'s TAPs are " + (multiQueue ? "multi" : "single")
                        + "-queue, but the spec given to attach asks for " + (multiQueue ? "single" : "multi")
                        + "-queue: give the spec the VM was configured with");
            }
            if (nic.onNamedNetwork()) {
                String bridgeName = NetworkRealizer.bridgeName(nic.network());
                taps.stream().filter(t -> links.stream().anyMatch(l -> l.index() == t.masterIndex() && l.isBridge()
                        && l.name().equals(bridgeName))).findFirst().ifPresent(t -> {
                            throw new InvalidNetworkSpecException("VM " + vmId + " is on network " + nic.network()
                                    + " already, through NIC " + t.name() + ": one NIC per network (its workspace has"
                                    + " one address and one MAC there)");
                        });
            }
            int index = NicIndexes.firstFree(vmId, naming, taps.stream().map(Link::name).toList());
            Map<String, PortSecurity.Entry> others = new TreeMap<>(BridgeTaps.portsOf(settings.rootDir(), vmId));
            ConfigureRequest one = new ConfigureRequest(vmId, 1, nic.asOnlyNicOf(vm), List.of());
            NicConfig made = configureHeld(List.of(one), List.of(List.of()), Optional.of(new Attach(index, others)))
                    .get(0).get(0);
            LOG.debug("attached NIC {} ({}) to VM {}", index, made.tap(), vmId);
            return made;
        }
    }

    /**
     * Removes one NIC of a VM: its TAP first (with it its port and forwarding entry), then its port-security
     * element and record; a NIC on a named network then leaves it and the network's DNS and DHCP data follow. The
     * call holds the GC lock.
     *
     * @throws InvalidNetworkSpecException if the VM ID is invalid or {@code tap} is the VM's NIC 0
     * @throws DeviceOperationException ({@code NO_SUCH_DEVICE}) if the VM has no TAP of that name, or if it cannot be
     *     removed
     * @throws NetworkException if the records cannot be written
     */
    @Override
    public void detach(String vmId, String tap) {
        TapNames.requireValidVmId(vmId);
        Optional<String> network;
        try (Lease gc = gcLock.acquire(); Rtnetlink netlink = Rtnetlink.open()) {
            List<Link> links = netlink.links();
            List<Link> taps = links.stream().filter(l -> BridgeTaps.belongsTo(l, vmId)).toList();
            Link link = taps.stream().filter(l -> l.name().equals(tap)).findFirst().orElseThrow(() ->
                    DeviceOperationException.of("detach", tap, Reason.NO_SUCH_DEVICE, "VM " + vmId + " has no NIC"
                            + " with TAP " + tap + (taps.isEmpty() ? "" : "; its NICs' TAPs are "
                            + taps.stream().map(Link::name).sorted().toList())));
            if (tap.equals(naming.tapName(vmId, 0))) {
                throw new InvalidNetworkSpecException("TAP " + tap + " is NIC 0 of VM " + vmId + ", which cannot be"
                        + " detached (it is what makes the VM configured here): delete the VM instead");
            }
            network = links.stream().filter(l -> l.index() == link.masterIndex() && l.isBridge()).findFirst()
                    .flatMap(BridgeNetworkProvider::networkOf);
            BridgeTaps.delete(netlink, links, List.of(link)); // first: no frame of its guest passes unfiltered
            publishing.unpublishNic(vmId, tap);
            Map<String, PortSecurity.Entry> ports = new TreeMap<>(BridgeTaps.portsOf(settings.rootDir(), vmId));
            PortSecurity.Entry admitted = ports.remove(tap);
            if (admitted != null) {
                security.revoke(Map.of(tap, admitted));
                PortRecords.record(settings.rootDir(), Map.of(vmId, ports));
            }
            List<NicConfig> recorded = new ArrayList<>(PortRecords.nics(settings.rootDir()).getOrDefault(vmId,
                    List.of()));
            if (recorded.removeIf(n -> n.tap().equals(tap))) {
                PortRecords.recordNics(settings.rootDir(), Map.of(vmId, recorded));
            }
            if (network.isPresent()) {
                String workspace = BridgeTaps.workspaceOf(settings.rootDir(), vmId).orElse(vmId);
                settings.findRegistry().ifPresentOrElse(r -> r.leave(network.get(), workspace), () -> LOG.warn(
                        "detached TAP {} of VM {} from network {}, but this provider has no registry: workspace {} is"
                                + " still a member there", tap, vmId, network.get(), workspace));
            }
        }
        network.ifPresent(n -> realizer.ifPresent(r -> {
            try {
                r.sync(n);
            } catch (RuntimeException e) {
                LOG.warn("detached, but could not update the DHCP and DNS data of network {}: {}", n, e.getMessage());
            }
        }));
        LOG.debug("detached {} from VM {}", tap, vmId);
    }

    /**
     * The named-network side of one configure call: each VM's joins, the networks' realizations, and which live
     * VM holds a workspace on a network (a VM of this call, or one whose TAP is on the network's bridge and whose
     * recorded workspace it is).
     */
    private final class Attachments implements NetworkJoins.Holders {
        private final int firstNic; // the VM's NIC index of the requests' NIC 0: 0, or an attached NIC's
        private final Map<String, Realization> realized = new LinkedHashMap<>();
        private final Map<String, NetworkJoins> joins = new LinkedHashMap<>(); // by VM, in request order
        private final Map<List<String>, String> claimed = new HashMap<>(); // [network, workspace] → VM of this call
        private List<Link> links; // read once, when first needed

        Attachments(int firstNic) {
            this.firstNic = firstNic;
        }

        /** The VM's NIC index of a request's NIC {@code nic}. */
        int nicIndex(int nic) {
            return firstNic + nic;
        }

        @Override
        public Optional<String> holderOf(String network, String workspace) {
            String claim = claimed.get(List.of(network, workspace));
            if (claim != null) {
                return Optional.of(claim);
            }
            if (links == null) {
                try (Rtnetlink netlink = Rtnetlink.open()) {
                    links = netlink.links();
                }
            }
            String bridgeName = NetworkRealizer.bridgeName(network);
            Optional<Link> onBridge = links.stream().filter(l -> l.isBridge() && l.name().equals(bridgeName))
                    .findFirst();
            if (onBridge.isEmpty()) {
                return Optional.empty();
            }
            int index = onBridge.get().index();
            return links.stream().filter(l -> l.masterIndex() == index).map(BridgeTaps::vmIdOf)
                    .flatMap(Optional::stream).distinct()
                    .filter(vm -> BridgeTaps.workspaceOf(settings.rootDir(), vm).filter(workspace::equals).isPresent())
                    .findFirst();
        }

        /** Records each VM's workspace (or that it has none), for the holder check of later configures. */
        void recordWorkspaces() {
            joins.forEach((vm, vmJoins) -> {
                try {
                    BridgeTaps.recordWorkspace(settings.rootDir(), vm, vmJoins.size() > 0
                            ? Optional.of(vmJoins.workspace()) : Optional.empty());
                } catch (NetworkException e) {
                    LOG.warn("configured VM {}, but could not record its workspace; a second VM taking it will not be"
                            + " refused: {}", vm, e.getMessage());
                }
            });
        }

        /**
         * Checks the VM's networks and that NICs on none have a bridge, realizes the networks, then joins them
         * (checking and realizing first: a failure joins nothing).
         */
        void join(ConfigureRequest request) {
            if (bridge.isEmpty() && request.nics() > request.vm().networks().size()) {
                throw new InvalidNetworkSpecException("NIC " + nicIndex(request.vm().networks().size()) + " of VM "
                        + request.vmId() + " is on no named network, and this provider has no bridge option for such"
                        + " NICs (bridge=<device>); name a network for every NIC, or give the bridge option");
            }
            NetworkJoins vmJoins = NetworkJoins.check(settings.findRegistry(), request.vmId(), request.vm(), this);
            joins.put(request.vmId(), vmJoins);
            for (int nic = 0; nic < vmJoins.size(); nic++) {
                String network = vmJoins.network(nic).name();
                if (!realized.containsKey(network)) {
                    realized.put(network, realizer.orElseThrow().ensureRealized(network));
                }
            }
            vmJoins.joinAll();
            for (int nic = 0; nic < vmJoins.size(); nic++) {
                claimed.put(List.of(vmJoins.network(nic).name(), vmJoins.workspace()), request.vmId());
            }
        }

        /** The VM's joins (empty for a VM on no named network). */
        NetworkJoins of(String vmId) {
            return joins.get(vmId);
        }

        /** The realization of the network a NIC is on, if it is on one. */
        Optional<Realization> network(String vmId, int nic) {
            NetworkJoins vmJoins = joins.get(vmId);
            return nic < vmJoins.size() ? Optional.of(realized.get(vmJoins.network(nic).name())) : Optional.empty();
        }

        /**
         * Tells each network's dnsmasq of the members; a failure here is a warning, not a failed configure: the
         * VM's TAPs and addresses are in place, and {@code verify} or the next sync repairs the data.
         */
        void sync() {
            for (String network : realized.keySet()) {
                try {
                    realizer.orElseThrow().sync(network);
                } catch (RuntimeException e) {
                    LOG.warn("configured, but could not update the DHCP and DNS data of network {}: {}", network,
                            e.getMessage());
                }
            }
        }

        void rollback(RuntimeException cause) {
            joins.values().forEach(j -> j.undo(cause));
        }
    }

    /**
     * Records each VM's port-security entries, for verify, the GC and a table rebuilt after a flush; a failure is a
     * warning: the kernel's table holds them already.
     */
    private void recordPorts(Map<String, Map<String, PortSecurity.Entry>> ports) {
        try {
            PortRecords.record(settings.rootDir(), ports);
        } catch (NetworkException e) {
            LOG.warn("configured VM(s) {}, but could not record their port-security entries; verify will not check"
                    + " them, and a table rebuilt after a flush will lack them until they are configured again: {}",
                    ports.keySet(), e.getMessage());
        }
    }

    /** Every filtered TAP of this owner in this namespace, as the records say: what the table should hold. */
    private Map<String, PortSecurity.Entry> everyone() {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            return BridgeTaps.allPorts(settings.rootDir(), netlink.links());
        }
    }

    /**
     * What a NIC's port may send: on a named network, its own MAC and registry address (only the rogue-server drops
     * when the network or the NIC turns port security off); on no named network, its own MAC and the address the
     * manager gave, if any — or nothing filtered when the NIC turns it off.
     */
    static Optional<PortSecurity.Entry> entryFor(VmSpec vm, int nic, Optional<Realization> network, MacAddress mac,
            Optional<GuestNetwork> guest) {
        if (network.isPresent()) {
            return Optional.of(network.get().portSecurity() && vm.portSecurity(nic)
                    ? PortSecurity.Entry.strict(mac, guest.orElseThrow().ip()) : PortSecurity.Entry.open());
        }
        return vm.portSecurity(nic) ? Optional.of(PortSecurity.Entry.of(mac, vm.address(nic))) : Optional.empty();
    }

    private List<List<NicConfig>> configureLocked(Rtnetlink netlink, Interfaces interfaces,
            List<ConfigureRequest> requests, List<List<NicConfig>> previous, Attachments attachments,
            Map<String, Map<String, PortSecurity.Entry>> ports) {
        Map<String, Integer> created = new LinkedHashMap<>(); // TAP made here → its ifindex, null until known
        // Two ioctls per bridge instead of an RTM_GETLINK (a large message): the constructor checked that the
        // provider's is a bridge, a network's is checked when realized, and enslaving to anything else fails and
        // rolls back anyway.
        Map<String, int[]> bridges = new HashMap<>(); // name → {ifindex, mtu}
        NewTaps newTaps = new NewTaps();
        List<Rtnetlink.Request> setup = new ArrayList<>();
        List<List<NicConfig>> results = new ArrayList<>(requests.size());
        Map<String, PortSecurity.Entry> admitted = new LinkedHashMap<>();
        boolean admitting = false;
        try {
            Set<String> unfiltered = new TreeSet<>();
            for (int v = 0; v < requests.size(); v++) {
                ConfigureRequest request = requests.get(v);
                Map<String, PortSecurity.Entry> vmPorts = new LinkedHashMap<>();
                List<NicConfig> vmConfigs = prepare(netlink, interfaces, request, previous.get(v), bridges, attachments,
                        created, newTaps, setup, vmPorts);
                results.add(vmConfigs);
                ports.put(request.vmId(), vmPorts);
                admitted.putAll(vmPorts);
                if (vmPorts.size() < vmConfigs.size() && !previous.get(v).isEmpty()) { // a recovery or reconfigure:
                    // ports its last configure filtered, if any, must be freed (new TAPs were never filtered)
                    Map<String, PortSecurity.Entry> before = BridgeTaps.portsOf(settings.rootDir(), request.vmId());
                    vmConfigs.stream().map(NicConfig::tap).filter(t -> !vmPorts.containsKey(t) && before.containsKey(t))
                            .forEach(unfiltered::add);
                }
            }
            // before the TAPs join their bridges and come up: no frame of theirs is ever unfiltered. One transaction
            // for the whole call; the table is read (and rebuilt from everyone's records) only when it must be
            admitting = true;
            security.admit(admitted, this::everyone);
            security.revoke(unfiltered); // NICs whose port security was turned off since their last configure
            newTaps.markAndPersist(netlink);
            netlink.execute(setup);
        } catch (RuntimeException e) {
            if (admitting) {
                revokeCreated(created.keySet(), admitted, e);
            }
            newTaps.close(); // never persistent: the kernel removes them as they are closed
            if (netlink.isUsable()) {
                rollback(netlink, created, e);
            } else {
                try (Rtnetlink fresh = Rtnetlink.open()) { // the failed exchange left it out of step
                    rollback(fresh, created, e);
                }
            }
            throw e;
        }
        LOG.debug("configured {} VM(s) on bridge(s) {} (created: {})", requests.size(), bridges.keySet(),
                created.keySet());
        return List.copyOf(results);
    }

    /** Revokes the ports of the TAPs a failed configure made (an adopted TAP keeps its admission). */
    private void revokeCreated(Set<String> created, Map<String, PortSecurity.Entry> admitted, RuntimeException cause) {
        List<String> ports = created.stream().filter(admitted::containsKey).toList();
        try {
            security.revoke(ports);
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
            LOG.warn("could not revoke the port-security entries of ports {} after a failed configure: {}", ports,
                    e.getMessage());
        }
    }

    /**
     * TAPs created by this call and not yet persistent. A TAP outlives the process only once it carries
     * tapwire's alias: they are marked first, then made persistent, so a configure killed at any point
     * leaves no TAP that tapwire would not recognise as its own (the kernel removes a TAP that is not
     * persistent with its creator).
     */
    private static final class NewTaps implements AutoCloseable {
        /** At most this many at once (one open descriptor each); then they are marked and persisted. */
        private static final int MAX_PENDING = 128;

        private final Deque<Tun.NewTap> pending = new ArrayDeque<>();
        private final List<Rtnetlink.Request> marks = new ArrayList<>();

        /** Holds a TAP just created; {@link #mark} must follow once its ifindex is known. */
        void add(Tun.NewTap tap) {
            pending.add(tap);
        }

        /** Queues the alias that marks a held TAP as this VM's; marks and persists the batch when it is full. */
        void mark(Rtnetlink netlink, int index, String tap, String alias) {
            marks.add(Rtnetlink.setAlias(index, tap, alias));
            if (pending.size() >= MAX_PENDING) {
                markAndPersist(netlink);
            }
        }

        /** Sets the aliases in one netlink batch, then makes each TAP persistent. */
        void markAndPersist(Rtnetlink netlink) {
            netlink.execute(marks);
            marks.clear();
            while (!pending.isEmpty()) {
                pending.peekFirst().persist(); // a failure leaves it held: close() then removes it
                pending.removeFirst();
            }
        }

        /** Lets go of the TAPs not yet persistent: the kernel removes them. */
        @Override
        public void close() {
            pending.forEach(Tun.NewTap::close);
            pending.clear();
        }
    }

    /**
     * Creates (or adopts) one VM's TAPs, adds their setup to {@code setup} and what each may send to {@code ports};
     * returns the VM's configs.
     */
    private List<NicConfig> prepare(Rtnetlink netlink, Interfaces interfaces, ConfigureRequest request,
            List<NicConfig> previous, Map<String, int[]> bridges, Attachments attachments,
            Map<String, Integer> created, NewTaps newTaps, List<Rtnetlink.Request> setup,
            Map<String, PortSecurity.Entry> ports) {
        String vmId = request.vmId();
        VmSpec vm = request.vm();
        boolean multiQueue = vm.needsMultiQueueTap();
        String alias = BridgeTaps.ALIAS_PREFIX + vmId;
        List<NicConfig> result = new ArrayList<>(request.nics());
        for (int i = 0; i < request.nics(); i++) {
            Optional<Realization> network = attachments.network(vmId, i);
            String bridgeName = network.map(Realization::bridge).orElseGet(bridge::orElseThrow); // checked on joining
            int[] target = bridges.computeIfAbsent(bridgeName, b -> new int[] {bridgeIndex(interfaces, b),
                    interfaces.mtu(b)});
            int bridgeIndex = target[0];
            int bridgeMtu = target[1];
            String tap = naming.tapName(vmId, attachments.nicIndex(i));
            // create first, look only when the name is taken: after a reboot nothing exists to adopt
            Optional<Tun.NewTap> made = createTap(netlink, tap, vmId, multiQueue, !previous.isEmpty());
            boolean adopted = made.isEmpty() && adopt(netlink, tap, vmId);
            if (!adopted) {
                created.put(tap, null);
                newTaps.add(made.get());
            }
            int index = interfaces.index(tap);
            created.replace(tap, index);
            if (!adopted) {
                newTaps.mark(netlink, index, tap, alias); // an adopted TAP carries this VM's alias already
            }
            MacAddress mac = network.isPresent() ? attachments.of(vmId).mac(i)
                    : previous.isEmpty() ? MacAddress.random() : previous.get(i).mac();
            // up before master, in one message (a port brought up while on the bridge costs more, ~4x for
            // multi-queue); a new TAP already has the default MTU
            setup.add(Rtnetlink.bringUpOnBridge(index, tap, adopted || bridgeMtu != DEFAULT_MTU ? bridgeMtu : 0,
                    bridgeIndex));
            // isolation in the same message as the other port flags; a new port starts not isolated
            boolean isolated = network.map(Realization::isolated).orElse(false);
            setup.add(isolated || adopted ? Rtnetlink.setPortFlags(index, tap, false, false, isolated)
                    : Rtnetlink.setPortFlags(index, tap, false, false));
            setup.add(Rtnetlink.addStaticFdb(index, tap, mac));
            Optional<GuestNetwork> guest = network.isPresent() ? Optional.of(attachments.of(vmId).guest(i))
                    : Optional.empty();
            entryFor(vm, i, network, mac, guest).ifPresent(entry -> ports.put(tap, entry));
            result.add(new NicConfig(tap, mac, vm.numQueues(), vm.queueSize(), TYPE, bridgeName, null,
                    guest.orElse(null)));
        }
        return result;
    }

    /**
     * Creates a TAP, not yet persistent; returns empty when the name is taken and {@code mayExist} (recovery:
     * the caller adopts it if it is this VM's).
     *
     * @throws DeviceOperationException ({@code BUSY}) when the name is taken and may not be: by this VM's own TAP
     *     (its saved configs were not passed), or by a device of another VM or of no VM
     */
    private Optional<Tun.NewTap> createTap(Rtnetlink netlink, String tap, String vmId, boolean multiQueue,
            boolean mayExist) {
        try {
            return Optional.of(Tun.create(tap, multiQueue, owner, group));
        } catch (DeviceOperationException e) {
            if (e.reason() == Reason.BUSY) {
                if (mayExist) {
                    return Optional.empty();
                }
                if (netlink.link(tap).filter(l -> BridgeTaps.belongsTo(l, vmId)).isPresent()) {
                    throw DeviceOperationException.of(e.operation(), tap, Reason.BUSY, "TAP " + tap + " exists and"
                            + " carries " + BridgeTaps.ALIAS_PREFIX + vmId + ": this VM's TAP exists; pass its saved"
                            + " configs (configure's existing configs, CLI tap create --existing FILE) to recover it,"
                            + " or delete the VM first", e);
                }
                throw TapNames.nameTaken(e.operation(), tap, vmId, naming, e);
            }
            throw e;
        }
    }

    /**
     * Adopts an existing TAP during recovery.
     *
     * @return true (for use in a condition)
     * @throws DeviceOperationException ({@code BUSY}) when the device of that name is not a TAP that tapwire made
     *     for this VM (or vanished meanwhile: run the recovery again)
     */
    private boolean adopt(Rtnetlink netlink, String tap, String vmId) {
        Optional<Link> link = netlink.link(tap);
        if (link.isEmpty() || !BridgeTaps.belongsTo(link.get(), vmId)) {
            throw DeviceOperationException.of("configure", tap, Reason.BUSY, link.isEmpty()
                    ? tap + " was taken and is gone again; configure once more"
                    : tap + " exists but is not a TAP tapwire made for VM " + vmId + " (kind \"" + link.get().kind()
                            + "\", alias \"" + link.get().alias() + "\"); it is not adopted — delete it if it is a leftover");
        }
        LOG.debug("recovering VM {}: adopting existing TAP {}", vmId, tap);
        return true;
    }

    /** Removes the TAPs this configure made, by ifindex where known (a name could be someone else's by now). */
    private static void rollback(Rtnetlink netlink, Map<String, Integer> created, RuntimeException cause) {
        if (created.isEmpty()) {
            return;
        }
        try {
            BridgeTaps.deleteWhere(netlink, l -> l.isTun() && created.containsKey(l.name())
                    && (created.get(l.name()) == null || created.get(l.name()) == l.index()));
            LOG.debug("rolled back TAPs {} after: {}", created.keySet(), cause.getMessage());
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
            LOG.warn("could not remove TAPs {} after a failed configure: {}", created.keySet(), e.getMessage());
        }
    }

    private static int bridgeIndex(Interfaces interfaces, String bridge) {
        try {
            return interfaces.index(bridge);
        } catch (DeviceOperationException e) {
            if (e.reason() == Reason.NO_SUCH_DEVICE) {
                throw missingBridge(bridge, e.operation(), e);
            }
            throw e;
        }
    }

    private static DeviceOperationException missingBridge(String bridge, String operation, Throwable cause) {
        return DeviceOperationException.of(operation, bridge, Reason.NO_SUCH_DEVICE, "bridge " + bridge
                + " does not exist in this network namespace; create it first (ip link add " + bridge
                + " type bridge)", cause);
    }

    private Link bridgeLink(Rtnetlink netlink) {
        String bridge = this.bridge.orElseThrow();
        Link link = netlink.link(bridge).orElseThrow(() -> missingBridge(bridge, "RTM_GETLINK", null));
        if (!link.isBridge()) {
            throw new InvalidNetworkSpecException("device " + bridge + " is not a Linux bridge (its kind is \""
                    + (link.kind().isEmpty() ? "none" : link.kind()) + "\"); the bridge provider needs a bridge");
        }
        return link;
    }

    /**
     * Checks that every TAP of the VM is as configure left it: a persistent TAP ({@code IFF_NO_PI},
     * {@code IFF_VNET_HDR}) with tapwire's alias for this VM, owned as this provider's options say, up, on
     * this provider's bridge, NIC 0 present under this provider's naming, all NICs in one queue mode, and each
     * port the target of exactly one static forwarding entry (its guest's: not moved to another port, and no
     * other guest's MAC on it). What configure derives and can restore is repaired, with a warning saying what:
     * the port-security elements of the VM's ports (and the whole table after a flush), each port's isolation as
     * its network says, and, when the VM has published ports, this state directory's publishing table.
     *
     * @return the VM's TAPs and what was repaired (each repair is also logged as a warning)
     * @throws DeviceOperationException naming the first TAP that is not, and what is wrong with it, or when the
     *     repair fails
     * @throws NetworkException if the VM's port-security record cannot be read
     */
    @Override
    public VerifyReport verify(String vmId) {
        TapNames.requireValidVmId(vmId);
        List<Link> masters;
        List<String> taps;
        try (Rtnetlink netlink = Rtnetlink.open()) {
            masters = verifyTaps(netlink, vmId, naming, owner, group,
                    bridge.isPresent() ? Optional.of(bridgeLink(netlink)) : Optional.empty());
            taps = netlink.links().stream().filter(l -> BridgeTaps.belongsTo(l, vmId)).map(Link::name)
                    .sorted(java.util.Comparator.comparingInt(t -> nicIndexOr(vmId, t))).toList();
        }
        List<String> repaired = new ArrayList<>();
        Map<Integer, Boolean> isolatedOn = new HashMap<>(); // bridge ifindex → whether its guest ports are isolated
        for (Link master : masters) {
            Optional<String> network = networkOf(master);
            isolatedOn.put(master.index(), false);
            if (network.isEmpty()) {
                continue;
            }
            if (realizer.isEmpty()) {
                throw DeviceOperationException.of("verify", master.name(), Reason.OTHER, "VM " + vmId + " is on network "
                        + network.get() + ", but this provider has no registry to check it with");
            }
            NetworkRealizer.Status status = realizer.get().verify(network.get());
            isolatedOn.put(master.index(), status.realization().isolated());
            List<String> unrepaired = status.problems().stream().filter(p -> !p.startsWith("repaired:")).toList();
            status.problems().stream().filter(p -> p.startsWith("repaired:")).forEach(p -> {
                LOG.warn("{}", p);
                repaired.add("network " + network.get() + ": " + p.substring("repaired:".length()).strip());
            });
            if (!unrepaired.isEmpty()) {
                throw DeviceOperationException.of("verify", master.name(), Reason.OTHER, "network " + network.get()
                        + " of VM " + vmId + " is not as realized: " + String.join("; ", unrepaired));
            }
        }
        repaired.addAll(verifyGuestPorts(vmId, isolatedOn));
        if (!publishing.list(vmId).isEmpty()) { // the table is derived from the record: put it back if it differs
            publishing.reconcile().forEach(r -> {
                LOG.warn("verify of VM {}: port publishing was not as recorded, repaired: {}", vmId, r);
                repaired.add("port publishing: " + r);
            });
        }
        return new VerifyReport(vmId, taps, repaired);
    }

    /**
     * Makes the VM's ports as configure left them, warning of what it repaired: the port-security elements its
     * record names (restored, with the whole table if it was flushed), and each port's isolation as its network
     * says.
     */
    private List<String> verifyGuestPorts(String vmId, Map<Integer, Boolean> isolatedOn) {
        List<String> report = new ArrayList<>();
        Map<String, PortSecurity.Entry> expected = BridgeTaps.portsOf(settings.rootDir(), vmId);
        List<String> problems = expected.isEmpty() ? List.of() : security.verify(expected, false);
        if (!problems.isEmpty()) {
            List<String> repaired = security.admit(expected, this::everyone);
            LOG.warn("verify of VM {}: port security was not as configured, repaired: {}", vmId,
                    String.join("; ", repaired.isEmpty() ? problems : repaired));
            (repaired.isEmpty() ? problems : repaired).forEach(p -> report.add("port security: " + p));
        }
        try (Rtnetlink netlink = Rtnetlink.open()) {
            Set<Integer> isolated = netlink.isolatedPorts();
            List<Rtnetlink.Request> fixes = new ArrayList<>();
            List<String> fixed = new ArrayList<>();
            for (Link tap : netlink.links()) {
                Boolean want = BridgeTaps.belongsTo(tap, vmId) ? isolatedOn.get(tap.masterIndex()) : null;
                if (want != null && want != isolated.contains(tap.index())) {
                    fixes.add(Rtnetlink.setPortFlags(tap.index(), tap.name(), false, false, want));
                    fixed.add("port " + tap.name() + (want ? " was not isolated: isolated" : " was isolated: released"));
                }
            }
            if (!fixes.isEmpty()) {
                netlink.execute(fixes);
                LOG.warn("verify of VM {}: port isolation was not as its network says, repaired: {}", vmId,
                        String.join("; ", fixed));
                report.addAll(fixed);
            }
        }
        return report;
    }

    private static Optional<String> networkOf(Link bridge) {
        return bridge.alias().startsWith(NetworkRealizer.ALIAS_PREFIX)
                ? Optional.of(bridge.alias().substring(NetworkRealizer.ALIAS_PREFIX.length())) : Optional.empty();
    }

    /**
     * Checks a VM's TAPs as {@link #verify} does, without a provider and so without a bridge of its own: each must
     * be attached to some bridge. Owner, group and naming come from {@code settings} as a provider reads them.
     *
     * @param settings the options the TAPs were made with ({@code owner}, {@code group}, {@value TapNaming#OPTION})
     * @param vmId the VM
     * @return the name of the bridge the VM's TAPs are attached to
     * @throws DeviceOperationException naming the first TAP that is not as configured
     * @throws InvalidNetworkSpecException if the VM ID or an option is invalid
     */
    public static String verifyOnAnyBridge(ProviderSettings settings, String vmId) {
        TapNames.requireValidVmId(vmId);
        settings.requireKnownOptions(TYPE, OPTIONS);
        OptionalInt group = settings.intOption("group").map(OptionalInt::of).orElse(OptionalInt.empty());
        TapNaming naming = settings.option(TapNaming.OPTION).map(TapNaming::parse).orElse(TapNaming.PREFIX);
        try (Rtnetlink netlink = Rtnetlink.open()) {
            return verifyTaps(netlink, vmId, naming, ownerOf(settings, group), group, Optional.empty()).get(0).name();
        }
    }

    /** The owner a TAP gets: the option; else none when a group is given; else this process's effective uid. */
    private static OptionalInt ownerOf(ProviderSettings settings, OptionalInt group) {
        Optional<Integer> option = settings.intOption("owner");
        return option.isPresent() ? OptionalInt.of(option.get())
                : group.isPresent() ? OptionalInt.empty() : OptionalInt.of(LibC.geteuid());
    }

    /**
     * Checks every TAP of the VM; returns the bridges they are on, in NIC order, each once. TAPs on a named
     * network's bridge may be on different bridges; the others must share one (the provider's, when given).
     */
    private static List<Link> verifyTaps(Rtnetlink netlink, String vmId, TapNaming naming, OptionalInt owner,
            OptionalInt group, Optional<Link> bridge) {
        String first = naming.tapName(vmId, 0);
        List<Link> all = netlink.links();
        List<Link> taps = all.stream().filter(l -> BridgeTaps.belongsTo(l, vmId)).toList();
        if (taps.stream().noneMatch(l -> l.name().equals(first))) {
            Optional<Link> impostor = all.stream().filter(l -> l.name().equals(first)).findFirst();
            throw DeviceOperationException.of("verify", first, impostor.isPresent() ? Reason.BUSY
                    : Reason.NO_SUCH_DEVICE, impostor.isPresent()
                    ? first + " exists but is not a TAP tapwire made for VM " + vmId + " (alias \""
                            + impostor.get().alias() + "\")"
                    : "VM " + vmId + " has no TAP " + first);
        }
        Boolean multiQueue = null;
        Link on = null;
        List<Link> masters = new ArrayList<>();
        Map<Integer, List<Rtnetlink.FdbEntry>> fdbs = new HashMap<>(); // by bridge ifindex, read once each
        for (Link tap : taps) {
            Link.TunInfo info = tap.tun().orElseThrow(() -> wrong(vmId, tap, "it reports no TUN/TAP details"));
            if (!info.tap() || info.packetInfo() || !info.vnetHdr() || !info.persist()) {
                throw wrong(vmId, tap, "it is not a persistent TAP with IFF_NO_PI and IFF_VNET_HDR");
            }
            int expectedOwner = owner.orElse(-1);
            int expectedGroup = group.orElse(-1);
            if (info.owner() != expectedOwner || info.group() != expectedGroup) {
                throw wrong(vmId, tap, "it is owned by uid " + info.owner() + ", gid " + info.group()
                        + " (-1: none), not uid " + expectedOwner + ", gid " + expectedGroup);
            }
            if (multiQueue != null && multiQueue != info.multiQueue()) {
                throw wrong(vmId, tap, "its queue mode differs from the VM's other TAPs");
            }
            multiQueue = info.multiQueue();
            Link master = all.stream().filter(l -> l.index() == tap.masterIndex() && l.isBridge()).findFirst()
                    .orElseThrow(() -> wrong(vmId, tap, bridge.map(b -> "it is not attached to bridge " + b.name()
                            + " (it is on none)").orElse("it is not attached to a bridge")));
            if (masters.stream().noneMatch(m -> m.index() == master.index())) {
                masters.add(master);
            }
            if (networkOf(master).isEmpty()) {
                if (bridge.isPresent() && master.index() != bridge.get().index()) {
                    throw wrong(vmId, tap, "it is not attached to bridge " + bridge.get().name() + " but to "
                            + master.name());
                }
                if (on != null && on.index() != master.index()) {
                    throw wrong(vmId, tap, "it is on bridge " + master.name() + ", the VM's other TAPs on "
                            + on.name());
                }
                on = master;
            }
            if (!tap.isUp()) {
                throw wrong(vmId, tap, "it is down");
            }
            List<MacAddress> forwarded = fdbs.computeIfAbsent(master.index(), netlink::fdb).stream()
                    .filter(e -> e.isStatic() && e.port() == tap.index()).map(Rtnetlink.FdbEntry::mac).toList();
            if (forwarded.isEmpty()) {
                throw wrong(vmId, tap, "bridge " + master.name() + " has no static forwarding entry for its guest on"
                        + " its port: frames for the guest go to another port (was the guest's MAC given to another"
                        + " VM or device?) or nowhere; configure the VM again with its saved configs");
            }
            if (forwarded.size() > 1) {
                throw wrong(vmId, tap, "bridge " + master.name() + " forwards " + forwarded.size() + " MACs " + forwarded
                        + " to its port, where configure puts only its guest's: another guest's frames reach this VM;"
                        + " configure that other VM again with its saved configs");
            }
        }
        return masters;
    }

    private static DeviceOperationException wrong(String vmId, Link tap, String what) {
        return DeviceOperationException.of("verify", tap.name(), Reason.OTHER, "TAP " + tap.name() + " of VM " + vmId
                + " is not as configured: " + what);
    }

    /**
     * Removes every TAP of the given VMs, holding the GC lock; a TAP another deleter removed first counts as
     * removed.
     *
     * @throws DeviceOperationException if a TAP exists but cannot be removed
     */
    @Override
    public Set<String> delete(Collection<String> vmIds) {
        Set<String> cleaned = BridgeTaps.cleanup(settings.rootDir(), vmIds);
        realizer.ifPresent(r -> { // the registry may have changed meanwhile
            try {
                r.syncAll();
            } catch (RuntimeException e) {
                LOG.warn("deleted, but could not sync the realized networks with the registry: {}", e.getMessage());
            }
        });
        return cleaned;
    }

    /**
     * Returns the VM's NICs as they are on this host: one per TAP of the VM that exists (tapwire's alias names the
     * VM) and that a configure under this state directory made, in NIC order, each as its configure or attach
     * recorded it. A TAP with no record (made by an older tapwire) is reported from the kernel: its bridge and the
     * guest MAC its port forwards to, queue counts 0 (unknown).
     *
     * @return the VM's NICs, or empty when none of its TAPs exists here
     * @throws InvalidNetworkSpecException if the VM ID is malformed
     * @throws DeviceOperationException if the links cannot be read
     * @throws NetworkException if the records cannot be read
     */
    @Override
    public Optional<VmNetworks> inspect(String vmId) {
        TapNames.requireValidVmId(vmId);
        return onHost(Optional.of(vmId)).stream().findFirst();
    }

    /**
     * Returns, sorted by VM ID, every VM with TAPs on this host that a configure under this state directory made,
     * as {@link #inspect} reports each.
     *
     * @return the VMs' NICs, never null
     * @throws DeviceOperationException if the links cannot be read
     * @throws NetworkException if the records cannot be read
     */
    @Override
    public List<VmNetworks> list() {
        return onHost(Optional.empty());
    }

    /** The VMs (all, or one) whose TAPs exist here and that this state directory owns, with their NICs. */
    private List<VmNetworks> onHost(Optional<String> only) {
        Map<String, List<NicConfig>> recorded = PortRecords.nics(settings.rootDir());
        Set<String> owned = PortRecords.vms(settings.rootDir()).keySet();
        List<PortPublishing.Published> publications = publishing.list();
        try (Rtnetlink netlink = Rtnetlink.open()) {
            List<Link> links = netlink.links();
            Map<String, List<Link>> byVm = new TreeMap<>();
            for (Link l : links) {
                BridgeTaps.vmIdOf(l).filter(vm -> l.isTap() && owned.contains(vm) && only.map(vm::equals).orElse(true))
                        .ifPresent(vm -> byVm.computeIfAbsent(vm, v -> new ArrayList<>()).add(l));
            }
            Map<Integer, List<Rtnetlink.FdbEntry>> fdbs = new HashMap<>();
            List<VmNetworks> result = new ArrayList<>();
            byVm.forEach((vm, taps) -> {
                List<NicConfig> nics = new ArrayList<>();
                for (Link tap : taps) {
                    Optional<NicConfig> nic = recorded.getOrDefault(vm, List.of()).stream()
                            .filter(n -> n.tap().equals(tap.name())).findFirst();
                    nic.or(() -> fromKernel(netlink, links, fdbs, tap)).ifPresent(nics::add);
                }
                nics.sort(java.util.Comparator.comparingInt(n -> nicIndexOr(vm, n.tap())));
                Map<String, List<PortPublication>> published = new TreeMap<>();
                publications.stream().filter(p -> p.target().vmId().equals(vm)).forEach(p -> published
                        .computeIfAbsent(p.target().tap(), t -> new ArrayList<>()).add(p.publication()));
                result.add(new VmNetworks(vm, nics, published));
            });
            return result;
        }
    }

    private int nicIndexOr(String vmId, String tap) {
        try {
            return NicIndexes.indexOf(vmId, naming, tap);
        } catch (InvalidNetworkSpecException e) { // named by another naming scheme: after the others
            return Integer.MAX_VALUE;
        }
    }

    /** A NIC as the kernel shows it: its TAP, its bridge and the guest MAC its port forwards to. */
    private static Optional<NicConfig> fromKernel(Rtnetlink netlink, List<Link> links,
            Map<Integer, List<Rtnetlink.FdbEntry>> fdbs, Link tap) {
        Optional<Link> master = links.stream().filter(l -> l.index() == tap.masterIndex() && l.isBridge()).findFirst();
        Optional<MacAddress> guest = master.flatMap(m -> fdbs.computeIfAbsent(m.index(), netlink::fdb).stream()
                .filter(e -> e.isStatic() && e.port() == tap.index()).map(Rtnetlink.FdbEntry::mac).findFirst());
        return guest.map(mac -> new NicConfig(tap.name(), mac, 0, 0, TYPE, master.get().name(), null, null));
    }

    /**
     * Lists every tapwire TAP in the calling thread's namespace, whichever bridge it is on, if any (a TAP is
     * tapwire's when it carries tapwire's alias, see {@link BridgeTaps}).
     *
     * @return the TAP links
     * @throws DeviceOperationException if the links cannot be read
     */
    List<Link> taps() {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            return BridgeTaps.list(netlink);
        }
    }

    /**
     * Returns this provider's realizer of named networks as the API's {@link NetworkRealizations} (present when the
     * settings carry a registry): a bridge, dnsmasq and nftables rules per network, see {@link NetworkRealizer}.
     * Host ports guests may reach on the gateway ({@link NetworkRealizer.Options#hostPorts}) are kept as realized.
     *
     * @return the realizations, or empty without a registry
     */
    @Override
    public Optional<NetworkRealizations> networks() {
        return realizer.map(r -> new NetworkRealizations() {
            @Override
            public RealizedNetwork realize(String network, RealizeOptions options) {
                if (options == null) {
                    throw new InvalidNetworkSpecException("realize needs options (RealizeOptions.defaults())");
                }
                List<HostPort> hostPorts = r.list().stream().filter(x -> x.network().equals(network)).findFirst()
                        .map(Realization::hostPorts).orElse(List.of());
                return view(r.realize(network, new NetworkRealizer.Options(options.nat(), options.portSecurity(),
                        options.isolated(), hostPorts, options.mtu())), List.of());
            }

            @Override
            public boolean unrealize(String network) {
                return r.unrealize(network);
            }

            @Override
            public List<RealizedNetwork> list() {
                return r.list().stream().map(x -> view(x, List.of())).toList();
            }

            @Override
            public Optional<RealizedNetwork> inspect(String network) {
                return r.inspect(network).map(status -> view(status.realization(), status.problems()));
            }
        });
    }

    private static RealizedNetwork view(Realization r, List<String> problems) {
        return new RealizedNetwork(r.network(), r.bridge(), r.subnet(), r.gateway(), new RealizeOptions(r.nat(),
                r.portSecurity(), r.isolated(), r.mtu()), problems);
    }

    @Override
    public void registerGc(GcOrchestrator orchestrator) {
        orchestrator.register(new BridgeGcModule(this));
        realizer.ifPresent(r -> orchestrator.register(r.gcModule()));
    }
}
