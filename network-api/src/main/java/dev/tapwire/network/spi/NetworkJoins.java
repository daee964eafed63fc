package dev.tapwire.network.spi;

import dev.tapwire.network.GuestNetwork;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkNotFoundException;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.VmSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The registry side of configuring one VM's NICs on named networks, for backends: checks the networks and the
 * members' guest MACs ({@link MacAddress#forMember}) first, then joins the VM's workspace to each network, and
 * undoes exactly the joins it made when the configure fails later. Every backend that serves named networks
 * — the bridge backend, the in-memory fake, a plug-in of yours — gives the same addresses, MACs and errors.
 *
 * <pre>{@code
 * NetworkJoins joins = NetworkJoins.check(settings.findRegistry(), vmId, vm, holders); // nothing joined yet
 * ... make the devices, NIC i with joins.mac(i) on joins.network(i)'s bridge ...
 * joins.joinAll();                                                               // then joins.guest(i)
 * // on failure: joins.undo(e)
 * }</pre>
 */
public final class NetworkJoins {

    private static final Logger LOG = LoggerFactory.getLogger(NetworkJoins.class);

    private final NetworkRegistry registry;
    private final String workspace;
    private final List<NetworkRecord> records;
    private final VmSpec vm;
    private final List<GuestNetwork> guests = new ArrayList<>();
    private final List<String> joined = new ArrayList<>();

    private NetworkJoins(NetworkRegistry registry, String workspace, List<NetworkRecord> records, VmSpec vm) {
        this.registry = registry;
        this.workspace = workspace;
        this.records = records;
        this.vm = vm;
    }

    /**
     * Tells which live VM holds a workspace on a network, as the backend sees its devices: the one whose NIC on
     * that network carries the workspace's guest MAC now.
     */
    @FunctionalInterface
    public interface Holders {

        /**
         * Returns the live VM that holds {@code workspace} on {@code network}, if any.
         *
         * @param network the network
         * @param workspace the member name
         * @return the VM's ID, or empty when no live VM holds it (the workspace may still be a member: its VM is
         *     stopped, or it joined without a VM)
         * @throws dev.tapwire.network.NetworkException if the backend cannot tell
         */
        Optional<String> holderOf(String network, String workspace);
    }

    /**
     * Checks a VM's named networks without joining any: the registry is there, each network exists, no member
     * holds the workspace's DNS name in another case, no other live VM holds the workspace on it, and the
     * workspace's guest MAC on each is not another member's.
     *
     * <p>One workspace is one address, one MAC and one DNS name per network, so it serves one VM: a second VM
     * configured as a workspace that a live VM holds is refused, naming that VM. The same VM (a recovery, a
     * configure again) is not a second VM, and neither is a VM re-created under a new ID once the old one's
     * devices are gone.
     *
     * @param registry the provider's registry, if it has one
     * @param vmId the VM, whose ID is the workspace unless the spec names one
     * @param vm the spec, whose networks are those of its first NICs
     * @param holders which live VM holds a workspace on a network, as the backend sees it
     * @return the joins to make
     * @throws InvalidNetworkSpecException if the VM names networks and there is no registry, another live VM holds
     *     the workspace on a network, a member's name differs from the workspace only in case, or the
     *     workspace's MAC on a network would be another member's
     * @throws NetworkNotFoundException if a network does not exist
     */
    public static NetworkJoins check(Optional<NetworkRegistry> registry, String vmId, VmSpec vm, Holders holders) {
        if (vm.networks().isEmpty()) {
            return new NetworkJoins(null, vm.workspaceOr(vmId), List.of(), vm);
        }
        NetworkRegistry r = registry.orElseThrow(() -> new InvalidNetworkSpecException("VM " + vmId
                + " has NICs on named networks " + vm.networks() + " but this provider has no registry: create it"
                + " with ProviderSettings.withRegistry(registry)"));
        String workspace = vm.workspaceOr(vmId);
        List<NetworkRecord> records = new ArrayList<>();
        for (String network : vm.networks()) {
            NetworkRecord record = r.get(network);
            requireOwnName(network, record, workspace);
            if (record.member(workspace).isPresent()) {
                holders.holderOf(network, workspace).filter(holder -> !holder.equals(vmId)).ifPresent(holder -> {
                    throw new InvalidNetworkSpecException("workspace " + workspace + " is held on network " + network
                            + " by live VM " + holder + ": one workspace has one address and one MAC there, so VM "
                            + vmId + " cannot share it; delete VM " + holder + " first, or give VM " + vmId
                            + " a workspace of its own (VmSpec.withWorkspace)");
                });
            }
            MacAddress mac = MacAddress.forMember(network, workspace);
            macHolder(network, record, workspace, mac).ifPresent(holder -> {
                throw new InvalidNetworkSpecException("workspace " + workspace + " would have MAC " + mac
                        + " on network " + network + ", which " + holder + " has already; choose another workspace"
                        + " name (VmSpec.withWorkspace)");
            });
            records.add(record);
        }
        return new NetworkJoins(r, workspace, List.copyOf(records), vm);
    }

    /** Refuses a workspace whose name a member holds in another case: DNS names are case-insensitive. */
    private static void requireOwnName(String network, NetworkRecord record, String workspace) {
        record.members().stream().map(Member::workspace)
                .filter(other -> !other.equals(workspace) && other.equalsIgnoreCase(workspace)).findFirst()
                .ifPresent(other -> {
                    throw new InvalidNetworkSpecException("workspace " + workspace + " cannot join network " + network
                            + ": member " + other + " has that name there, and DNS names are case-insensitive ("
                            + workspace + "." + network + " is " + other + "." + network + "); use " + other
                            + " itself or another name");
                });
    }

    /** Who on the network has {@code mac} already, other than the workspace itself: the gateway or a member. */
    static Optional<String> macHolder(String network, NetworkRecord record, String workspace,
            MacAddress mac) {
        if (mac.equals(MacAddress.forGateway(network))) {
            return Optional.of("the network's gateway");
        }
        return record.members().stream()
                .filter(m -> !m.workspace().equals(workspace) && MacAddress.forMember(network, m.workspace()).equals(mac))
                .map(m -> "member " + m.workspace()).findFirst();
    }

    /**
     * Returns the member name the VM joins its networks as: its spec's workspace, or its ID.
     *
     * @return the workspace
     */
    public String workspace() {
        return workspace;
    }

    /**
     * Returns how many NICs are on named networks (the first ones).
     *
     * @return the count
     */
    public int size() {
        return records.size();
    }

    /**
     * Returns the network of a NIC, as read by {@link #check}.
     *
     * @param nic the NIC index, below {@link #size()}
     * @return the network's record
     */
    public NetworkRecord network(int nic) {
        return records.get(nic);
    }

    /**
     * Returns the guest MAC of a NIC: derived from its network and the workspace.
     *
     * @param nic the NIC index, below {@link #size()}
     * @return the MAC
     */
    public MacAddress mac(int nic) {
        return MacAddress.forMember(records.get(nic).name(), workspace);
    }

    /**
     * Joins the workspace to every network, in NIC order (a re-join keeps its address), with the static address the
     * spec gives a NIC ({@link VmSpec#withAddress}) where it gives one, remembering the joins that are new.
     *
     * @throws dev.tapwire.network.AddressExhaustedException if a network has no free address
     * @throws dev.tapwire.network.AddressInUseException if a static address is held by another member, or the
     *     workspace holds another address on that network
     * @throws dev.tapwire.network.InvalidNetworkSpecException if a static address is not a host of the network
     * @throws NetworkNotFoundException if a network was removed meanwhile
     */
    public void joinAll() {
        for (NetworkRecord record : records) {
            boolean member = record.member(workspace).isPresent();
            int nic = guests.size();
            Ipv4Address ip = vm.address(nic).map(wanted -> registry.join(record.name(), workspace, wanted))
                    .orElseGet(() -> registry.join(record.name(), workspace));
            if (!member) {
                joined.add(record.name());
            }
            guests.add(new GuestNetwork(ip, record.gateway(), record.subnet().prefixLength()));
        }
    }

    /**
     * Returns the guest settings of a NIC after {@link #joinAll}.
     *
     * @param nic the NIC index, below {@link #size()}
     * @return the guest's address, gateway and prefix
     * @throws IllegalStateException before {@link #joinAll}
     */
    public GuestNetwork guest(int nic) {
        if (nic >= guests.size()) {
            throw new IllegalStateException("NIC " + nic + " has not joined its network yet");
        }
        return guests.get(nic);
    }

    /**
     * Leaves the networks this object joined (not those the workspace was a member of before), adding any
     * failure to {@code cause} as suppressed and logging it as a warning (an address stays taken then).
     *
     * @param cause the failure that makes the configure undo its joins
     */
    public void undo(RuntimeException cause) {
        for (String network : joined) {
            try {
                registry.leave(network, workspace);
            } catch (RuntimeException e) {
                cause.addSuppressed(e);
                LOG.warn("could not undo the join of {} to network {} after a failed configure: {}", workspace,
                        network, e.getMessage());
            }
        }
        joined.clear();
    }
}
