package dev.tapwire.network.testkit;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.DeviceOperationException.Reason;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkNames;
import dev.tapwire.network.NetworkProvider;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.TapNames;
import dev.tapwire.network.TapNaming;
import dev.tapwire.network.VmNetworks;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.gc.ActiveVmSnapshot;
import dev.tapwire.network.gc.GcModule;
import dev.tapwire.network.gc.GcOrchestrator;
import dev.tapwire.network.lock.Lease;
import dev.tapwire.network.spi.NetworkJoins;
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
 * validation errors, idempotent delete, and a GC module that reclaims orphans. Given a registry
 * ({@link ProviderSettings#withRegistry}), NICs on named networks join it as the bridge backend's do (same
 * addresses, MACs, {@code NicConfig.network} and errors) and sit on the network's bridge name; nothing is
 * realized.
 *
 * <p>TAPs live on a {@link FakeHost}; providers made by the factory for the same root directory share one,
 * as providers on one machine share a kernel. Unlike the bridge backend it keeps guest records, so
 * {@link #inspect} and {@link #list} report what was configured, and {@link FakeHost#guestPort} what each
 * guest may send (the spec's port-security settings, as the bridge backend applies them).
 *
 * <pre>{@code
 * NetworkProvider memory = NetworkProviders.create("memory", ProviderSettings.of(tempDir).with("bridge", "br0"));
 * List<NicConfig> nics = memory.configure("vm-1", 2, VmSpec.of(2), List.of());
 * assertThat(((InMemoryNetworkProvider) memory).host().taps()).containsKeys("btvm-1-0", "btvm-1-1");
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
    private final String bridge;
    private final Optional<NetworkRegistry> registry;
    private final TapNaming naming;
    private final Map<String, VmNetworks> records = new ConcurrentHashMap<>();

    /**
     * Creates a provider on the shared fake host of {@code settings.rootDir()}.
     *
     * @param settings root directory and options ({@code bridge}, default {@code br0}; {@value TapNaming#OPTION};
     *     {@code owner} and {@code group}, checked and otherwise ignored)
     * @throws InvalidNetworkSpecException as {@link #InMemoryNetworkProvider(ProviderSettings, FakeHost)} does
     */
    public InMemoryNetworkProvider(ProviderSettings settings) {
        this(settings, HOSTS.computeIfAbsent(settings.rootDir().toAbsolutePath().normalize(), p -> new FakeHost()));
    }

    /**
     * Creates a provider on a given fake host.
     *
     * @param settings root directory and options ({@code bridge}, default {@code br0}; {@value TapNaming#OPTION};
     *     {@code owner} and {@code group}, checked and otherwise ignored)
     * @param host the fake host its TAPs live on
     * @throws InvalidNetworkSpecException if an option key is not one of {@link #OPTIONS}, the bridge name is not a
     *     valid interface name, owner or group is not an id, or the TAP naming is unknown
     */
    public InMemoryNetworkProvider(ProviderSettings settings, FakeHost host) {
        settings.requireKnownOptions(TYPE, OPTIONS);
        settings.intOption("owner");
        settings.intOption("group");
        this.host = host;
        this.bridge = TapNames.requireValidInterfaceName(settings.option("bridge").orElse("br0"));
        this.registry = settings.findRegistry();
        this.naming = settings.option(TapNaming.OPTION).map(TapNaming::parse).orElse(TapNaming.PREFIX);
        LeakTracker.track(this);
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
     * Returns the bridge TAPs are attached to.
     *
     * @return the bridge name
     */
    public String bridge() {
        return bridge;
    }

    @Override
    public void verify(String vmId) {
        TapNames.requireValidVmId(vmId);
        String tap = naming.tapName(vmId, 0);
        FakeHost.Tap found = host.tap(tap).orElseThrow(() ->
                DeviceOperationException.of("verify", tap, Reason.NO_SUCH_DEVICE, "VM " + vmId + " has no TAP " + tap));
        if (!found.vmId().equals(vmId)) {
            throw DeviceOperationException.of("verify", tap, Reason.BUSY, tap + " is not a TAP of VM " + vmId);
        }
        String expected = Optional.ofNullable(records.get(vmId)).map(r -> r.nics().get(0).bridgeDev()).orElse(bridge);
        if (!expected.equals(found.bridge())) {
            throw DeviceOperationException.of("verify", tap, Reason.OTHER, "TAP " + tap + " of VM " + vmId
                    + " is not attached to bridge " + expected);
        }
    }

    @Override
    public List<NicConfig> configure(String vmId, int nics, VmSpec vm, List<NicConfig> existing) {
        List<NicConfig> previous = TapNames.requireValidConfigure(vmId, nics, vm, existing, naming);
        vm.requireNics(vmId, nics);
        List<NicConfig> result = new ArrayList<>();
        synchronized (host) { // checked and joined under the host's lock, as the bridge backend holds its GC lock
            NetworkJoins joins = NetworkJoins.check(registry, vmId, vm,
                    (network, workspace) -> host.holderOf(NetworkNames.bridgeName(network), workspace));
            List<String> created = new ArrayList<>();
            try {
                for (int i = 0; i < nics; i++) {
                    String tap = naming.tapName(vmId, i);
                    FakeHost.Tap present = host.tap(tap).orElse(null);
                    boolean recovering = !previous.isEmpty();
                    if (present != null && !recovering && present.vmId().equals(vmId)) {
                        throw DeviceOperationException.of("TUNSETIFF", tap, Reason.BUSY, "TAP " + tap + " exists and"
                                + " is VM " + vmId + "'s own: this VM's TAP exists; pass its saved configs (configure's"
                                + " existing configs) to recover it, or delete the VM first");
                    }
                    if (present != null && !present.vmId().equals(vmId)) {
                        throw TapNames.nameTaken("TUNSETIFF", tap, vmId, naming, null);
                    }
                    host.failure(tap).ifPresent(f -> {
                        throw f;
                    });
                    // a NIC on a named network sits on that network's bridge, as the bridge backend puts it
                    String on = i < joins.size() ? NetworkNames.bridgeName(joins.network(i).name()) : bridge;
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
                for (int i = 0; i < nics; i++) {
                    host.putGuestPort(guestPort(vm, i, result.get(i)));
                }
            } catch (RuntimeException e) {
                created.forEach(host::remove);
                joins.undo(e);
                throw e;
            }
            host.recordWorkspace(vmId, joins.size() > 0 ? Optional.of(joins.workspace()) : Optional.empty());
        }
        records.put(vmId, new VmNetworks(vmId, result));
        return List.copyOf(result);
    }

    /** What a NIC's guest may send, as the bridge backend's port security filters its port. */
    private static FakeHost.GuestPort guestPort(VmSpec vm, int nic, NicConfig config) {
        if (!vm.portSecurity(nic)) {
            return new FakeHost.GuestPort(config.tap(), false, Optional.empty(), Optional.empty());
        }
        Optional<Ipv4Address> ip = config.network() != null ? Optional.of(config.network().ip()) : vm.address(nic);
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
        }
        vmIds.forEach(records::remove);
        return new LinkedHashSet<>(vmIds);
    }

    @Override
    public Optional<VmNetworks> inspect(String vmId) {
        TapNames.requireValidVmId(vmId);
        return Optional.ofNullable(records.get(vmId));
    }

    @Override
    public List<VmNetworks> list() {
        return new TreeMap<>(records).values().stream().toList();
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
            host.taps().values().stream().filter(t -> t.bridge().equals(bridge))
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
                taps.forEach(host::remove);
            }
        }
    }
}
