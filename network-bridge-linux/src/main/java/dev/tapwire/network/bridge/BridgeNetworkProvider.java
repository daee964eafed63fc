package dev.tapwire.network.bridge;

import com.sun.jna.Platform;
import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.DeviceOperationException.Reason;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkProvider;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.TapNames;
import dev.tapwire.network.VmNetworks;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.bridge.linux.Interfaces;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.bridge.linux.Tun;
import dev.tapwire.network.bridge.linux.raw.LibC;
import dev.tapwire.network.gc.GcOrchestrator;
import dev.tapwire.network.spi.ProviderSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code bridge} backend: one persistent TAP per VM NIC, attached to an existing Linux bridge (such
 * as {@code cni0}, where an external DHCP server hands out addresses), made through JNA ioctls on
 * {@code /dev/net/tun} and rtnetlink.
 *
 * <p>TAPs are named {@code bt<first 8 characters of the VM ID>-<nic>} and carry the alias
 * {@code tapwire:<vm id>}. Each is created with {@code IFF_TUN_EXCL} (an existing TAP of that name is an
 * {@code EBUSY} error, never silently shared), owned by the configured uid (default: this process's
 * effective uid), attached to the bridge with MAC learning off, given the bridge's MTU and brought up.
 * Everything happens in the network namespace of the calling thread.
 *
 * <p>Options in {@link ProviderSettings}: {@code bridge} (required, the bridge device), {@code owner}
 * (uid allowed to attach), {@code group} (gid allowed to attach). This backend keeps no guest records:
 * {@link #inspect} and {@link #list} return empty.
 *
 * <pre>{@code
 * NetworkProvider bridge = NetworkProviders.create("bridge",
 *         ProviderSettings.of(stateDir).with("bridge", "cni0").with("owner", "1000"));
 * List<NicConfig> nics = bridge.configure("vm-0f3a2b1c", 2, VmSpec.of(4), List.of());
 * }</pre>
 */
public final class BridgeNetworkProvider implements NetworkProvider {

    /** The provider type. */
    public static final String TYPE = "bridge";

    private static final Logger LOG = LoggerFactory.getLogger(BridgeNetworkProvider.class);
    private static volatile Optional<String> unavailability;

    private final ProviderSettings settings;
    private final String bridge;
    private final int owner;
    private final OptionalInt group;

    /**
     * Creates the provider and checks that the bridge exists and is a bridge.
     *
     * @param settings root directory and options ({@code bridge} required)
     * @throws InvalidNetworkSpecException if {@code bridge} is missing or invalid, or owner/group are not ids
     * @throws DeviceOperationException if the bridge does not exist ({@code ENODEV}) or is not a bridge
     * @throws IllegalStateException if the backend cannot run on this host (see {@link #unavailabilityCause()})
     */
    public BridgeNetworkProvider(ProviderSettings settings) {
        unavailabilityCause().ifPresent(cause -> {
            throw new IllegalStateException("the bridge network provider cannot run here: " + cause);
        });
        this.settings = settings;
        this.bridge = TapNames.requireValidInterfaceName(settings.option("bridge").orElseThrow(() ->
                new InvalidNetworkSpecException("the bridge provider needs the option bridge=<device>, e.g. cni0")));
        this.owner = settings.intOption("owner").orElseGet(LibC::geteuid);
        this.group = settings.intOption("group").map(OptionalInt::of).orElse(OptionalInt.empty());
        try (Rtnetlink netlink = Rtnetlink.open()) {
            bridgeLink(netlink);
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
     * Returns the bridge this provider attaches TAPs to.
     *
     * @return the bridge device name
     */
    public String bridge() {
        return bridge;
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
        List<NicConfig> previous = TapNames.requireValidConfigure(vmId, nics, vm, existing);
        boolean multiQueue = vm.needsMultiQueueTap();
        String alias = BridgeTaps.ALIAS_PREFIX + vmId;
        List<String> created = new ArrayList<>();
        try (Rtnetlink netlink = Rtnetlink.open(); Interfaces interfaces = Interfaces.over(netlink)) {
            // Two ioctls instead of an RTM_GETLINK of the bridge (a large message): the constructor checked
            // that it is a bridge, and enslaving to anything else fails and rolls back anyway.
            int bridgeIndex = bridgeIndex(interfaces);
            int bridgeMtu = interfaces.mtu(bridge);
            List<Rtnetlink.Request> setup = new ArrayList<>(3 * nics);
            List<NicConfig> result = new ArrayList<>(nics);
            try {
                for (int i = 0; i < nics; i++) {
                    String tap = TapNames.tapName(vmId, i);
                    if (previous.isEmpty() || !adopt(netlink, tap, vmId)) {
                        createTap(tap, vmId, multiQueue);
                        created.add(tap);
                    }
                    int index = interfaces.index(tap);
                    // up before master: a port brought up while on the bridge costs more (~4x for multi-queue)
                    setup.add(Rtnetlink.bringUp(index, tap, bridgeMtu, alias));
                    setup.add(Rtnetlink.setMaster(index, tap, bridgeIndex));
                    setup.add(Rtnetlink.setLearning(index, tap, false));
                    MacAddress mac = previous.isEmpty() ? MacAddress.random() : previous.get(i).mac();
                    result.add(new NicConfig(tap, mac, vm.numQueues(), vm.queueSize(), TYPE, bridge, null, null));
                }
                netlink.execute(setup);
            } catch (RuntimeException e) {
                if (netlink.isUsable()) {
                    rollback(netlink, created, e);
                } else {
                    try (Rtnetlink fresh = Rtnetlink.open()) { // the failed exchange left it out of step
                        rollback(fresh, created, e);
                    }
                }
                throw e;
            }
            LOG.debug("configured {} NIC(s) of VM {} on bridge {} (multi-queue: {}, created: {})", nics, vmId, bridge,
                    multiQueue, created);
            return List.copyOf(result);
        }
    }

    private void createTap(String tap, String vmId, boolean multiQueue) {
        try {
            Tun.createPersistentTap(tap, multiQueue, OptionalInt.of(owner), group);
        } catch (DeviceOperationException e) {
            if (e.reason() == Reason.BUSY) {
                throw TapNames.nameTaken(e.operation(), tap, vmId, e);
            }
            throw e;
        }
    }

    /** Adopts an existing TAP during recovery; returns false when there is none to adopt. */
    private static boolean adopt(Rtnetlink netlink, String tap, String vmId) {
        Optional<Link> link = netlink.link(tap);
        if (link.isEmpty()) {
            return false;
        }
        if (!BridgeTaps.belongsTo(link.get(), vmId)) {
            throw DeviceOperationException.of("configure", tap, Reason.BUSY, tap
                    + " exists but is not a TAP of VM " + vmId + " (kind \"" + link.get().kind() + "\", alias \""
                    + link.get().alias() + "\")");
        }
        LOG.debug("recovering VM {}: adopting existing TAP {}", vmId, tap);
        return true;
    }

    private static void rollback(Rtnetlink netlink, List<String> created, RuntimeException cause) {
        if (created.isEmpty()) {
            return;
        }
        try {
            BridgeTaps.deleteWhere(netlink, l -> l.isTun() && created.contains(l.name()));
            LOG.debug("rolled back TAPs {} after: {}", created, cause.getMessage());
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
            LOG.warn("could not remove TAPs {} after a failed configure: {}", created, e.getMessage());
        }
    }

    private int bridgeIndex(Interfaces interfaces) {
        try {
            return interfaces.index(bridge);
        } catch (DeviceOperationException e) {
            if (e.reason() == Reason.NO_SUCH_DEVICE) {
                throw missingBridge(e.operation(), e);
            }
            throw e;
        }
    }

    private DeviceOperationException missingBridge(String operation, Throwable cause) {
        return DeviceOperationException.of(operation, bridge, Reason.NO_SUCH_DEVICE, "bridge " + bridge
                + " does not exist in this network namespace; create it first (ip link add " + bridge
                + " type bridge)", cause);
    }

    private Link bridgeLink(Rtnetlink netlink) {
        Link link = netlink.link(bridge).orElseThrow(() -> missingBridge("RTM_GETLINK", null));
        if (!link.isBridge()) {
            throw new InvalidNetworkSpecException("device " + bridge + " is not a Linux bridge (its kind is \""
                    + (link.kind().isEmpty() ? "none" : link.kind()) + "\"); the bridge provider needs a bridge");
        }
        return link;
    }

    @Override
    public void verify(String vmId) {
        TapNames.requireValidVmId(vmId);
        String tap = TapNames.tapName(vmId, 0);
        try (Rtnetlink netlink = Rtnetlink.open()) {
            Link bridgeLink = bridgeLink(netlink);
            Link link = netlink.link(tap).orElseThrow(() -> DeviceOperationException.of("verify", tap,
                    Reason.NO_SUCH_DEVICE, "VM " + vmId + " has no TAP " + tap));
            if (!BridgeTaps.belongsTo(link, vmId)) {
                throw DeviceOperationException.of("verify", tap, Reason.BUSY, tap + " is not a TAP of VM " + vmId);
            }
            if (link.masterIndex() != bridgeLink.index()) {
                throw DeviceOperationException.of("verify", tap, Reason.OTHER, "TAP " + tap + " of VM " + vmId
                        + " is not attached to bridge " + bridge);
            }
        }
    }

    @Override
    public Set<String> delete(Collection<String> vmIds) {
        return BridgeTaps.cleanup(vmIds);
    }

    /** Returns empty: this backend keeps no guest records (the hypervisor manager owns them). */
    @Override
    public Optional<VmNetworks> inspect(String vmId) {
        TapNames.requireValidVmId(vmId);
        return Optional.empty();
    }

    /** Returns an empty list: this backend keeps no guest records (the hypervisor manager owns them). */
    @Override
    public List<VmNetworks> list() {
        return List.of();
    }

    /**
     * Lists the tapwire TAPs in the calling thread's namespace that are attached to this bridge or to none.
     *
     * @return the TAP links
     * @throws DeviceOperationException if the links cannot be read
     */
    public List<Link> taps() {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            List<Link> all = netlink.links();
            int bridgeIndex = all.stream().filter(l -> l.name().equals(bridge)).mapToInt(Link::index).findFirst()
                    .orElse(-1);
            return all.stream().filter(BridgeTaps::isTapwireTap)
                    .filter(l -> l.masterIndex() == 0 || l.masterIndex() == bridgeIndex).toList();
        }
    }

    @Override
    public void registerGc(GcOrchestrator orchestrator) {
        orchestrator.register(new BridgeGcModule(this));
    }
}
