package dev.tapwire.network.testkit;

import dev.tapwire.network.AddressInUseException;
import dev.tapwire.network.ConfigureRequest;
import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.DeviceOperationException.Reason;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkNames;
import dev.tapwire.network.NetworkProvider;
import dev.tapwire.network.NetworkRealizations;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.NicSpec;
import dev.tapwire.network.PortPublication;
import dev.tapwire.network.RealizeOptions;
import dev.tapwire.network.RealizedNetwork;
import dev.tapwire.network.TapNames;
import dev.tapwire.network.TapNaming;
import dev.tapwire.network.VmNetworks;
import dev.tapwire.network.VerifyReport;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.gc.ActiveVmSnapshot;
import dev.tapwire.network.gc.GcModule;
import dev.tapwire.network.gc.GcOrchestrator;
import dev.tapwire.network.lock.Lease;
import dev.tapwire.network.spi.NetworkJoins;
import dev.tapwire.network.spi.NicIndexes;
import dev.tapwire.network.spi.ProviderSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A plain-Java provider (type {@code memory}) that behaves like the {@code bridge} backend wherever a user
 * can observe it, without root: the same TAP names ({@code bt<8 chars>-<n>}), locally administered MACs
 * that stay the same on recovery, {@code EBUSY} on a name collision (the first VM left intact), the same
 * validation errors, idempotent delete, per-NIC attach and detach, and a GC module that reclaims orphans. Given a
 * registry ({@link ProviderSettings#withRegistry}), NICs on named networks join it as the bridge backend's do (same
 * addresses, MACs, {@code NicConfig.network} and errors) and sit on the network's bridge name; nothing is
 * realized.
 *
 * <p>As the bridge backend, it refuses settings with neither a {@code bridge} option nor a registry, a bridge that
 * does not exist on its host ({@code ENODEV}: add it first, {@link FakeHost#addBridge}), and NICs on no named network
 * when it has no bridge — it never invents one.
 *
 * <p>TAPs and records live on a {@link FakeHost}; providers made by the factory for the same root directory share
 * one ({@link #hostOf}), as providers on one machine share a kernel and a state directory. {@link #inspect} and
 * {@link #list} report what was configured and attached, and {@link FakeHost#guestPort} what each guest may send
 * (the spec's port-security settings, as the bridge backend applies them).
 *
 * <p>Thread-safe: every change holds the host's monitor, so providers on one host may be used from many threads.
 *
 * <pre>{@code
 * InMemoryNetworkProvider.hostOf(tempDir).addBridge("br0");
 * NetworkProvider memory = NetworkProviders.create("memory", ProviderSettings.of(tempDir).with("bridge", "br0"));
 * List<NicConfig> nics = memory.configure("vm-1", 2, VmSpec.of(2), List.of());
 * assertThat(InMemoryNetworkProvider.hostOf(tempDir).taps()).containsKeys("btvm-1-0", "btvm-1-1");
 * }</pre>
 */
public final class InMemoryNetworkProvider implements NetworkProvider {

    /** The provider type. */
    public static final String TYPE = "memory";
    /**
     * The option keys this backend reads — the bridge backend's, so that settings written for one work for the
     * other; any other key is refused.
     */
    public static final Set<String> OPTIONS = Set.of("bridge", "owner", "group", TapNaming.OPTION);

    private static final Map<Path, FakeHost> HOSTS = new ConcurrentHashMap<>();

    private final FakeHost host;
    private final Optional<String> bridge;
    private final Optional<NetworkRegistry> registry;
    private final TapNaming naming;

    /**
     * Creates a provider on the shared fake host of {@code settings.rootDir()}.
     *
     * @param settings root directory and options ({@code bridge}, the device for NICs on no named network;
     *     {@value TapNaming#OPTION}; {@code owner} and {@code group}, checked and otherwise ignored), and the registry
     *     for NICs on named networks
     * @throws InvalidNetworkSpecException as {@link #InMemoryNetworkProvider(ProviderSettings, FakeHost)} does
     * @throws DeviceOperationException as {@link #InMemoryNetworkProvider(ProviderSettings, FakeHost)} does
     */
    public InMemoryNetworkProvider(ProviderSettings settings) {
        this(settings, hostOf(settings.rootDir()));
    }

    /**
     * Creates a provider on a given fake host.
     *
     * @param settings root directory and options ({@code bridge}, the device for NICs on no named network;
     *     {@value TapNaming#OPTION}; {@code owner} and {@code group}, checked and otherwise ignored), and the registry
     *     for NICs on named networks
     * @param host the fake host its TAPs live on
     * @throws InvalidNetworkSpecException if there is neither {@code bridge} nor a registry, an option key is not one
     *     of {@link #OPTIONS}, the bridge name is not a valid interface name, owner or group is not an id, or the TAP
     *     naming is unknown
     * @throws DeviceOperationException ({@code NO_SUCH_DEVICE}) if the bridge does not exist on the host
     */
    public InMemoryNetworkProvider(ProviderSettings settings, FakeHost host) {
        settings.requireKnownOptions(TYPE, OPTIONS);
        settings.intOption("owner");
        settings.intOption("group");
        this.host = host;
        this.bridge = settings.option("bridge").map(TapNames::requireValidInterfaceName);
        this.registry = settings.findRegistry();
        if (bridge.isEmpty() && registry.isEmpty()) {
            throw new InvalidNetworkSpecException("the memory provider needs the option bridge=<device> (e.g. br0)"
                    + " for NICs on no named network, or a registry (ProviderSettings.withRegistry) for named networks");
        }
        bridge.filter(b -> !host.hasBridge(b)).ifPresent(b -> {
            throw DeviceOperationException.of("RTM_GETLINK", b, Reason.NO_SUCH_DEVICE, "bridge " + b + " does not"
                    + " exist in this network namespace; create it first (ip link add " + b + " type bridge; on the"
                    + " fake host: InMemoryNetworkProvider.hostOf(rootDir).addBridge(\"" + b + "\"))");
        });
        this.naming = settings.option(TapNaming.OPTION).map(TapNaming::parse).orElse(TapNaming.PREFIX);
        LeakTracker.track(this);
    }

    /**
     * Returns the fake host that every provider of {@code rootDir} shares (made on first use, empty): add the
     * bridges its providers need there first.
     *
     * @param rootDir the providers' root directory
     * @return the host
     */
    public static FakeHost hostOf(Path rootDir) {
        return HOSTS.computeIfAbsent(rootDir.toAbsolutePath().normalize(), p -> new FakeHost());
    }

    @Override
    public String type() {
        return TYPE;
    }

    /**
     * Returns the fake host this provider's TAPs live on, for inspection in tests.
     *
     * @return the host
     */
    public FakeHost host() {
        return host;
    }

    /**
     * Returns the bridge TAPs of NICs on no named network are attached to.
     *
     * @return the bridge name, or empty when only named networks are served
     */
    public Optional<String> bridge() {
        return bridge;
    }

    /**
     * Checks the VM's TAPs as the bridge backend does (NIC 0 present and the VM's, every NIC's TAP on its bridge,
     * which exists); the fake has nothing derived to repair.
     *
     * @return the TAPs checked, nothing repaired
     * @throws DeviceOperationException if a TAP is missing, another VM's, or not on its bridge
     */
    @Override
    public VerifyReport verify(String vmId) {
        TapNames.requireValidVmId(vmId);
        String tap = naming.tapName(vmId, 0);
        FakeHost.Tap found = host.tap(tap).orElseThrow(() ->
                DeviceOperationException.of("verify", tap, Reason.NO_SUCH_DEVICE, "VM " + vmId + " has no TAP " + tap));
        if (!found.vmId().equals(vmId)) {
            throw DeviceOperationException.of("verify", tap, Reason.BUSY, tap + " is not a TAP of VM " + vmId);
        }
        List<NicConfig> nics = host.record(vmId).map(VmNetworks::nics).orElse(List.of());
        for (NicConfig nic : nics) {
            FakeHost.Tap present = host.tap(nic.tap()).filter(t -> t.vmId().equals(vmId)).orElseThrow(() ->
                    DeviceOperationException.of("verify", nic.tap(), Reason.NO_SUCH_DEVICE, "VM " + vmId
                            + " has no TAP " + nic.tap()));
            if (!present.bridge().equals(nic.bridgeDev()) || !host.hasBridge(present.bridge())) {
                throw DeviceOperationException.of("verify", nic.tap(), Reason.OTHER, "TAP " + nic.tap() + " of VM "
                        + vmId + " is not attached to bridge " + nic.bridgeDev());
            }
        }
        if (nics.isEmpty() && (bridge.isEmpty() || !bridge.get().equals(found.bridge()))) {
            throw DeviceOperationException.of("verify", tap, Reason.OTHER, "TAP " + tap + " of VM " + vmId
                    + " is not attached to bridge " + bridge.orElse("(none)"));
        }
        return new VerifyReport(vmId, nics.isEmpty() ? List.of(tap) : nics.stream().map(NicConfig::tap).toList(),
                List.of());
    }

    @Override
    public List<NicConfig> configure(String vmId, int nics, VmSpec vm, List<NicConfig> existing) {
        List<NicConfig> previous = TapNames.requireValidConfigure(vmId, nics, vm, existing, naming);
        vm.requireNics(vmId, nics);
        ConfigureRequest.requireSameQueues(vmId, vm, previous);
        List<NicConfig> result = new ArrayList<>();
        synchronized (host) { // checked and joined under the host's lock, as the bridge backend holds its GC lock
            if (bridge.isEmpty() && nics > vm.networks().size()) {
                throw noBridge(vmId, vm.networks().size());
            }
            requireNoNicsBeyond(vmId, nics);
            NetworkJoins joins = NetworkJoins.check(registry, vmId, vm,
                    (network, workspace) -> host.holderOf(NetworkNames.bridgeName(network), workspace));
            for (int i = 0; i < joins.size(); i++) { // realized first, as the bridge backend does: a refusal joins nothing
                host.realize(joins.network(i), registry.orElseThrow());
            }
            List<String> created = new ArrayList<>();
            try {
                for (int i = 0; i < nics; i++) {
                    String tap = naming.tapName(vmId, i);
                    FakeHost.Tap present = createOrAdopt(vmId, tap, !previous.isEmpty());
                    // a NIC on a named network sits on that network's bridge, as the bridge backend puts it
                    String on = i < joins.size() ? NetworkNames.bridgeName(joins.network(i).name()) : bridge.orElseThrow();
                    if (present == null) {
                        host.put(new FakeHost.Tap(tap, vmId, on, vm.needsMultiQueueTap()));
                        created.add(tap);
                    } else {
                        host.put(new FakeHost.Tap(tap, vmId, on, present.multiQueue()));
                    }
                    MacAddress mac = i < joins.size() ? joins.mac(i)
                            : previous.isEmpty() ? MacAddress.random() : previous.get(i).mac();
                    result.add(new NicConfig(tap, mac, vm.numQueues(), vm.queueSize(), TYPE, on, null, null));
                }
                joins.joinAll();
                for (int i = 0; i < joins.size(); i++) {
                    result.set(i, result.get(i).withNetwork(joins.guest(i)));
                }
            } catch (RuntimeException e) {
                created.forEach(host::remove);
                joins.undo(e);
                throw e;
            }
            for (int i = 0; i < nics; i++) {
                host.putGuestPort(guestPort(vm.portSecurity(i), vm.address(i), result.get(i)));
                String network = i < joins.size() ? joins.network(i).name() : null;
                host.putNetwork(result.get(i).tap(), network);
            }
            host.recordWorkspace(vmId, joins.size() > 0 ? Optional.of(joins.workspace()) : Optional.empty());
            host.putRecord(new VmNetworks(vmId, result));
        }
        return List.copyOf(result);
    }

    private InvalidNetworkSpecException noBridge(String vmId, int nic) {
        return new InvalidNetworkSpecException("NIC " + nic + " of VM " + vmId + " is on no named network, and this"
                + " provider has no bridge option for such NICs (bridge=<device>); name a network for every NIC, or give"
                + " the bridge option");
    }

    /** Refuses a configure of fewer NICs than the VM has here: a configure never removes a NIC. */
    private void requireNoNicsBeyond(String vmId, int nics) {
        Set<String> asked = new TreeSet<>();
        for (int i = 0; i < nics; i++) {
            asked.add(naming.tapName(vmId, i));
        }
        List<String> beyond = host.taps().values().stream().filter(t -> t.vmId().equals(vmId))
                .map(FakeHost.Tap::name).filter(t -> !asked.contains(t)).toList();
        if (!beyond.isEmpty()) {
            throw NicIndexes.beyond(vmId, nics, beyond);
        }
    }

    /**
     * Checks that {@code tap} may be made for the VM, throwing an injected failure if there is one; returns the TAP
     * that a recovery adopts, or null when it is to be created.
     */
    private FakeHost.Tap createOrAdopt(String vmId, String tap, boolean recovering) {
        FakeHost.Tap present = host.tap(tap).orElse(null);
        if (present != null && !recovering && present.vmId().equals(vmId)) {
            throw DeviceOperationException.of("TUNSETIFF", tap, Reason.BUSY, "TAP " + tap + " exists and"
                    + " is VM " + vmId + "'s own: this VM's TAP exists; pass its saved configs (configure's"
                    + " existing configs) to recover it, or delete the VM first");
        }
        if (present != null && !present.vmId().equals(vmId)) {
            throw TapNames.nameTaken("TUNSETIFF", tap, vmId, naming, null);
        }
        if (present == null) {
            host.failure(tap).ifPresent(f -> {
                throw f;
            });
        }
        return present;
    }

    @Override
    public NicConfig attach(String vmId, VmSpec vm, NicSpec nic) {
        TapNames.requireValidVmId(vmId);
        if (vm == null || nic == null) {
            throw new InvalidNetworkSpecException("attach needs the VM's spec and the NIC's spec; got " + vm + ", " + nic);
        }
        synchronized (host) {
            List<NicConfig> nics = host.record(vmId).map(VmNetworks::nics).filter(n -> !n.isEmpty())
                    .orElseThrow(() -> new InvalidNetworkSpecException("VM " + vmId + " is not configured here (it has"
                            + " no NIC 0): configure it before attaching a NIC to it"));
            ConfigureRequest.requireSameQueues(vmId, vm, nics);
            if (!nic.onNamedNetwork() && bridge.isEmpty()) {
                throw noBridge(vmId, nics.size());
            }
            if (nic.onNamedNetwork()) {
                nics.stream().filter(n -> host.networkOf(n.tap()).filter(nic.network()::equals).isPresent()).findFirst()
                        .ifPresent(n -> {
                            throw new InvalidNetworkSpecException("VM " + vmId + " is on network " + nic.network()
                                    + " already, through NIC " + n.tap() + ": one NIC per network (its workspace has"
                                    + " one address and one MAC there)");
                        });
            }
            int index = NicIndexes.firstFree(vmId, naming, nics.stream().map(NicConfig::tap).toList());
            String tap = naming.tapName(vmId, index);
            VmSpec one = nic.asOnlyNicOf(vm);
            NetworkJoins joins = NetworkJoins.check(registry, vmId, one,
                    (network, workspace) -> host.holderOf(NetworkNames.bridgeName(network), workspace));
            if (joins.size() > 0) {
                host.realize(joins.network(0), registry.orElseThrow());
            }
            NicConfig config;
            createOrAdopt(vmId, tap, false);
            String on = nic.onNamedNetwork() ? NetworkNames.bridgeName(nic.network()) : bridge.orElseThrow();
            boolean multiQueue = host.tap(nics.get(0).tap()).map(FakeHost.Tap::multiQueue)
                    .orElse(vm.needsMultiQueueTap());
            host.put(new FakeHost.Tap(tap, vmId, on, multiQueue));
            try {
                joins.joinAll();
            } catch (RuntimeException e) {
                host.remove(tap);
                throw e;
            }
            config = new NicConfig(tap, nic.onNamedNetwork() ? joins.mac(0) : MacAddress.random(), vm.numQueues(),
                    vm.queueSize(), TYPE, on, null, nic.onNamedNetwork() ? joins.guest(0) : null);
            host.putGuestPort(guestPort(nic.portSecurity(), Optional.ofNullable(nic.address()), config));
            host.putNetwork(tap, nic.network());
            if (nic.onNamedNetwork()) {
                host.recordWorkspace(vmId, Optional.of(joins.workspace()));
            }
            List<NicConfig> updated = new ArrayList<>(nics);
            updated.add(config);
            updated.sort(java.util.Comparator.comparingInt(n -> NicIndexes.indexOf(vmId, naming, n.tap())));
            host.putRecord(new VmNetworks(vmId, updated));
            return config;
        }
    }

    @Override
    public void detach(String vmId, String tap) {
        TapNames.requireValidVmId(vmId);
        synchronized (host) {
            List<NicConfig> nics = host.record(vmId).map(VmNetworks::nics).orElse(List.of());
            NicConfig gone = nics.stream().filter(n -> n.tap().equals(tap)).findFirst().orElseThrow(() ->
                    DeviceOperationException.of("detach", tap, Reason.NO_SUCH_DEVICE, "VM " + vmId + " has no NIC"
                            + " with TAP " + tap + (nics.isEmpty() ? "" : "; its NICs' TAPs are "
                            + nics.stream().map(NicConfig::tap).toList())));
            if (tap.equals(naming.tapName(vmId, 0))) {
                throw new InvalidNetworkSpecException("TAP " + tap + " is NIC 0 of VM " + vmId + ", which cannot be"
                        + " detached (it is what makes the VM configured here): delete the VM instead");
            }
            Optional<String> network = host.networkOf(tap);
            host.remove(tap);
            List<NicConfig> rest = new ArrayList<>(nics);
            rest.remove(gone);
            host.putRecord(new VmNetworks(vmId, rest));
            network.ifPresent(n -> registry.ifPresent(r -> r.leave(n, host.workspaceOf(vmId).orElse(vmId))));
        }
    }

    /** What a NIC's guest may send, as the bridge backend's port security filters its port. */
    private static FakeHost.GuestPort guestPort(boolean secured, Optional<Ipv4Address> given, NicConfig config) {
        if (!secured) {
            return new FakeHost.GuestPort(config.tap(), false, Optional.empty(), Optional.empty());
        }
        Optional<Ipv4Address> ip = config.network() != null ? Optional.of(config.network().ip()) : given;
        return new FakeHost.GuestPort(config.tap(), true, Optional.of(config.mac()), ip);
    }

    @Override
    public Set<String> delete(Collection<String> vmIds) {
        vmIds.forEach(TapNames::requireValidVmId);
        synchronized (host) {
            for (FakeHost.Tap tap : List.copyOf(host.taps().values())) {
                if (vmIds.contains(tap.vmId())) {
                    host.remove(tap.name());
                }
            }
            vmIds.forEach(vm -> host.recordWorkspace(vm, Optional.empty()));
            vmIds.forEach(vm -> host.putRecord(new VmNetworks(vm, List.of())));
            vmIds.forEach(host::forgetPublications);
        }
        return new LinkedHashSet<>(vmIds);
    }

    @Override
    public Optional<VmNetworks> inspect(String vmId) {
        TapNames.requireValidVmId(vmId);
        return host.record(vmId).map(this::withPublications);
    }

    @Override
    public List<VmNetworks> list() {
        return host.records().values().stream().map(this::withPublications).toList();
    }

    private VmNetworks withPublications(VmNetworks record) {
        return new VmNetworks(record.vmId(), record.nics(), host.publicationsOf(record.vmId()));
    }

    /**
     * Publishes host ports to a NIC as the bridge backend does: to its address on its named network, or the address
     * its port security filters it to (a NIC on no named network that was given one and is port-secured); a host
     * port published on this host already, to any VM, is refused.
     *
     * @throws AddressInUseException if a host port is published already, or twice in {@code publications}
     * @throws InvalidNetworkSpecException if the VM ID or a publication is invalid, or the NIC has no known address
     * @throws DeviceOperationException ({@code NO_SUCH_DEVICE}) if the VM has no NIC with that TAP
     */
    @Override
    public List<PortPublication> publish(String vmId, String tap, List<PortPublication> publications) {
        TapNames.requireValidVmId(vmId);
        requirePublications(publications);
        synchronized (host) {
            NicConfig nic = host.record(vmId).map(VmNetworks::nics).orElse(List.of()).stream()
                    .filter(n -> n.tap().equals(tap)).findFirst().orElseThrow(() -> DeviceOperationException.of(
                            "publish", tap, Reason.NO_SUCH_DEVICE, "VM " + vmId + " has no NIC with TAP " + tap));
            if (nic.network() == null && host.guestPort(tap).flatMap(FakeHost.GuestPort::ip).isEmpty()) {
                throw new InvalidNetworkSpecException("a port publication needs the NIC's IPv4 address; VM " + vmId
                        + " NIC " + tap + " has none (it is on no named network and was given no address)");
            }
            List<PortPublication> mine = new ArrayList<>(host.publicationsOf(vmId).getOrDefault(tap, List.of()));
            List<PortPublication> all = new ArrayList<>();
            host.publications().forEach((vm, taps) -> taps.forEach((t, list) -> list.forEach(all::add)));
            for (PortPublication p : publications) {
                if (mine.contains(p)) {
                    continue;
                }
                all.stream().filter(p::conflictsWith).findFirst().ifPresent(other -> {
                    String holder = host.publications().entrySet().stream().filter(e -> e.getValue().values().stream()
                            .anyMatch(l -> l.contains(other))).map(Map.Entry::getKey).findFirst().orElse("?");
                    throw new AddressInUseException("host port " + p.protocol() + " " + p.hostPort() + " is published"
                            + " already (" + other + " to VM " + holder + "); unpublish it first, or choose another"
                            + " host port or address");
                });
                mine.add(p);
                all.add(p);
            }
            host.putPublications(vmId, tap, mine);
            return List.copyOf(mine);
        }
    }

    @Override
    public List<PortPublication> unpublish(String vmId, List<PortPublication> publications) {
        TapNames.requireValidVmId(vmId);
        requirePublications(publications);
        synchronized (host) {
            List<PortPublication> removed = new ArrayList<>();
            host.publicationsOf(vmId).forEach((tap, list) -> {
                List<PortPublication> kept = new ArrayList<>();
                for (PortPublication p : list) {
                    (publications.stream().anyMatch(q -> sameHostSide(p, q)) ? removed : kept).add(p);
                }
                host.putPublications(vmId, tap, kept);
            });
            return List.copyOf(removed);
        }
    }

    private static boolean sameHostSide(PortPublication a, PortPublication b) {
        return a.protocol().equals(b.protocol()) && a.hostPort() == b.hostPort()
                && java.util.Objects.equals(a.hostAddress(), b.hostAddress());
    }

    private static void requirePublications(List<PortPublication> publications) {
        if (publications == null || publications.stream().anyMatch(java.util.Objects::isNull)) {
            throw new InvalidNetworkSpecException("port publications must not be or hold null; got " + publications);
        }
    }

    /**
     * Returns the named networks realized on this provider's fake host, as the bridge backend's realizer reports them
     * (present when the provider has a registry).
     *
     * @return the realizations, or empty without a registry
     */
    @Override
    public Optional<NetworkRealizations> networks() {
        return registry.map(r -> new NetworkRealizations() {
            @Override
            public RealizedNetwork realize(String network, RealizeOptions options) {
                NetworkNames.requireValid(network);
                if (options == null) {
                    throw new InvalidNetworkSpecException("realize needs options (RealizeOptions.defaults())");
                }
                synchronized (host) {
                    return host.realize(r.get(network), r, options);
                }
            }

            @Override
            public boolean unrealize(String network) {
                NetworkNames.requireValid(network);
                synchronized (host) {
                    return host.unrealize(network);
                }
            }

            @Override
            public List<RealizedNetwork> list() {
                return host.realizations().stream().map(n -> new RealizedNetwork(n.network(), n.bridge(), n.subnet(),
                        n.gateway(), n.options(), List.of())).toList();
            }

            @Override
            public Optional<RealizedNetwork> inspect(String network) {
                NetworkNames.requireValid(network);
                return host.realizations().stream().filter(n -> n.network().equals(network)).findFirst();
            }
        });
    }

    @Override
    public void registerGc(GcOrchestrator orchestrator) {
        orchestrator.register(new MemoryGcModule());
    }

    /** Reclaims TAPs of VMs that no module reports active; fail-safe when none reports any. */
    private final class MemoryGcModule implements GcModule<Map<String, String>> {
        private final ReentrantLock lock = host.gcLock();

        @Override
        public String name() {
            return TYPE;
        }

        @Override
        public Optional<Lease> tryLock() {
            if (!lock.tryLock()) {
                return Optional.empty();
            }
            return Optional.of(lock::unlock);
        }

        @Override
        public Map<String, String> snapshot() {
            Map<String, String> owners = new TreeMap<>();
            host.taps().values().stream().filter(t -> bridge.isPresent() && t.bridge().equals(bridge.get()))
                    .forEach(t -> owners.put(t.name(), t.vmId()));
            return owners;
        }

        @Override
        public Set<String> resolve(Map<String, String> snapshot, Map<String, Object> others) {
            if (!ActiveVmSnapshot.anyReported(others)) {
                return Set.of();
            }
            Set<String> active = ActiveVmSnapshot.union(others);
            Set<String> orphans = new TreeSet<>();
            snapshot.forEach((tap, vm) -> {
                if (!active.contains(vm)) {
                    orphans.add(tap);
                }
            });
            return orphans;
        }

        @Override
        public void collect(Set<String> taps) {
            synchronized (host) {
                for (String tap : taps) {
                    Optional<String> vm = host.tap(tap).map(FakeHost.Tap::vmId);
                    host.remove(tap);
                    vm.filter(v -> host.taps().values().stream().noneMatch(t -> t.vmId().equals(v)))
                            .ifPresent(v -> host.putRecord(new VmNetworks(v, List.of())));
                }
            }
        }
    }
}
