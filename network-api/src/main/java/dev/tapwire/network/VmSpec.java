package dev.tapwire.network;

import dev.tapwire.network.spi.RegistryRules;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What a provider needs to know of a VM: CPU count, virtio queue size, whether its VMM accepts
 * multi-queue TAPs (Firecracker does not), and optionally the named networks its NICs join, the workspace
 * it joins them as, and its NICs' port-security settings.
 *
 * <p>Port security is on for every NIC unless turned off for it ({@link #withoutPortSecurity}): a NIC may send only
 * with its own MAC and, on a named network, its registry address. A NIC on no named network gets the MAC and ARP
 * checks only, since its address is not tapwire's to know — unless the manager passes it ({@link #withAddress}).
 *
 * @param cpu the number of vCPUs, at least 1
 * @param queueSize the virtio queue size, a power of two from 1 to 32768
 * @param multiQueue whether the VMM opens multi-queue TAPs
 * @param networks the named network of each NIC, in NIC order; may be empty
 * @param workspace the member name the VM joins its networks as, or null for the VM ID; stored trimmed
 * @param unsecured the indexes of the NICs whose port security is off; may be empty
 * @param addresses the address the manager gives each NIC on no named network, by NIC index; may be empty
 */
public record VmSpec(int cpu, int queueSize, boolean multiQueue, List<String> networks, String workspace,
        Set<Integer> unsecured, Map<Integer, Ipv4Address> addresses) {

    /** The virtio queue size used unless another is given. */
    public static final int DEFAULT_QUEUE_SIZE = 256;
    /** The most vCPUs accepted: two queues each, and a multi-queue TAP has at most 256 queues. */
    public static final int MAX_CPU = 128;

    /**
     * Validates the spec and copies the network list.
     *
     * <p>The workspace is stored as the registry stores member names: without leading or trailing whitespace, so
     * {@code " beta "} is the workspace {@code beta}, with beta's MAC and address.
     *
     * @param cpu the number of vCPUs, at least 1
     * @param queueSize the virtio queue size, a power of two from 1 to 32768
     * @param multiQueue whether the VMM opens multi-queue TAPs
     * @param networks the named network of each NIC, in NIC order; may be empty
     * @param workspace the member name the VM joins its networks as, or null for the VM ID; stored trimmed
     * @param unsecured the indexes of the NICs whose port security is off; may be empty
     * @param addresses the address the manager gives each NIC on no named network, by NIC index; may be empty
     * @throws InvalidNetworkSpecException if cpu is not in 1-{@value #MAX_CPU}, the queue size is not a power of
     *     two in 1-32768, a network name is null or blank, the workspace is blank, too long or holds control
     *     characters, a NIC index is negative, an address is null, or an address is given for a NIC on a named
     *     network (the registry gives that one)
     */
    public VmSpec {
        if (cpu < 1 || cpu > MAX_CPU) {
            throw new InvalidNetworkSpecException("cpu count " + cpu + " is out of range: expected 1 to " + MAX_CPU
                    + " (two virtio queues per vCPU, and the kernel gives a multi-queue TAP at most 256 queues)");
        }
        if (queueSize < 1 || queueSize > 32768 || Integer.bitCount(queueSize) != 1) {
            throw new InvalidNetworkSpecException("queue size " + queueSize + " must be a power of two from 1 to 32768");
        }
        if (networks != null && networks.stream().anyMatch(n -> n == null || n.isBlank())) {
            throw new InvalidNetworkSpecException("network names must not be null or blank: " + networks);
        }
        networks = networks == null ? List.of() : List.copyOf(networks);
        if (workspace != null && workspace.isBlank()) {
            throw new InvalidNetworkSpecException("workspace must not be blank; leave it unset to use the VM ID");
        }
        // normalised once, here: the MAC, the membership check and a rollback's leave all use this very name
        workspace = workspace == null ? null : RegistryRules.requireWorkspace(workspace);
        unsecured = unsecured == null ? Set.of() : Collections.unmodifiableSet(new TreeSet<>(unsecured));
        unsecured.forEach(nic -> requireNicIndex(nic, "port security off"));
        if (addresses != null && addresses.values().stream().anyMatch(Objects::isNull)) {
            throw new InvalidNetworkSpecException("a NIC's address must not be null: " + addresses);
        }
        addresses = addresses == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(addresses));
        for (int nic : addresses.keySet()) {
            requireNicIndex(nic, "an address");
        }
    }

    /**
     * Creates a spec with port security on for every NIC and no addresses given.
     *
     * @param cpu the number of vCPUs
     * @param queueSize the virtio queue size
     * @param multiQueue whether the VMM opens multi-queue TAPs
     * @param networks the named network of each NIC
     * @param workspace the member name, or null for the VM ID
     * @throws InvalidNetworkSpecException as the canonical constructor does
     */
    public VmSpec(int cpu, int queueSize, boolean multiQueue, List<String> networks, String workspace) {
        this(cpu, queueSize, multiQueue, networks, workspace, Set.of(), Map.of());
    }

    private static void requireNicIndex(Integer nic, String what) {
        if (nic == null || nic < 0) {
            throw new InvalidNetworkSpecException("a NIC index is 0 or more; got " + nic + " for " + what);
        }
    }

    /**
     * Creates a spec without a workspace of its own (the VM ID is used).
     *
     * @param cpu the number of vCPUs
     * @param queueSize the virtio queue size
     * @param multiQueue whether the VMM opens multi-queue TAPs
     * @param networks the named network of each NIC
     * @throws InvalidNetworkSpecException as the canonical constructor does
     */
    public VmSpec(int cpu, int queueSize, boolean multiQueue, List<String> networks) {
        this(cpu, queueSize, multiQueue, networks, null);
    }

    /**
     * Returns a spec for {@code cpu} vCPUs, queue size 256, multi-queue allowed, no named networks.
     *
     * @param cpu the number of vCPUs
     * @return the spec
     * @throws InvalidNetworkSpecException if cpu is not in 1-{@value #MAX_CPU}
     */
    public static VmSpec of(int cpu) {
        return new VmSpec(cpu, DEFAULT_QUEUE_SIZE, true, List.of());
    }

    /**
     * Returns a copy with another virtio queue size.
     *
     * @param size the queue size
     * @return the new spec
     * @throws InvalidNetworkSpecException if the size is not a power of two in 1-32768
     */
    public VmSpec withQueueSize(int size) {
        return new VmSpec(cpu, size, multiQueue, networks, workspace, unsecured, addresses);
    }

    /**
     * Returns a copy that says whether the VMM takes multi-queue TAPs.
     *
     * @param enabled false for Firecracker and other single-queue VMMs
     * @return the new spec
     */
    public VmSpec withMultiQueue(boolean enabled) {
        return new VmSpec(cpu, queueSize, enabled, networks, workspace, unsecured, addresses);
    }

    /**
     * Returns a copy with the named network of each NIC, in NIC order.
     *
     * @param names the network names
     * @return the new spec
     * @throws InvalidNetworkSpecException if a name is null or blank, or a NIC given an address
     *     ({@link #withAddress}) would be on a named network
     */
    public VmSpec withNetworks(List<String> names) {
        return new VmSpec(cpu, queueSize, multiQueue, names, workspace, unsecured, addresses);
    }

    /**
     * Returns a copy that joins the named networks as {@code name} instead of the VM ID: a workspace whose VM is
     * re-created under a new ID keeps its addresses and MACs.
     *
     * @param name the workspace (member) name
     * @return the new spec
     * @throws InvalidNetworkSpecException if the name is blank
     */
    public VmSpec withWorkspace(String name) {
        if (name == null) {
            throw new InvalidNetworkSpecException("workspace must not be null; leave it unset to use the VM ID");
        }
        return new VmSpec(cpu, queueSize, multiQueue, networks, name, unsecured, addresses);
    }

    /**
     * Returns a copy with port security turned off for these NICs (in addition to those it is off for already):
     * they may send with any MAC and address. What only a rogue DHCP server or router sends (DHCP and DHCPv6
     * server replies, router advertisements, redirects) is still dropped; a NIC on no named network is then not
     * filtered at all. Port security can also be turned off for a whole named network, where the backend offers it.
     *
     * @param nics the NIC indexes, 0 for the first
     * @return the new spec
     * @throws InvalidNetworkSpecException if an index is negative (an index past the VM's NIC count is refused by
     *     configure)
     */
    public VmSpec withoutPortSecurity(int... nics) {
        Set<Integer> off = new TreeSet<>(unsecured);
        for (int nic : nics) {
            off.add(nic);
        }
        return new VmSpec(cpu, queueSize, multiQueue, networks, workspace, off, addresses);
    }

    /**
     * Returns a copy that gives a NIC its IPv4 address. For a NIC on a named network it is a static address: the
     * workspace joins with it ({@link dev.tapwire.network.NetworkRegistry#join(String, String,
     * dev.tapwire.network.Ipv4Address)}: a free host of the subnet, or the one the workspace already holds). For a NIC on
     * no named network it is the address the NIC uses (one an external DHCP server or the manager hands out): its port
     * then gets the address checks too, as a NIC on a named network does, and may send IPv4 and ARP only from it.
     *
     * @param nic the NIC index
     * @param ip the NIC's address
     * @return the new spec
     * @throws InvalidNetworkSpecException if the index is negative or the address is null (whether a named network
     *     can give that address is checked when the VM is configured)
     */
    public VmSpec withAddress(int nic, Ipv4Address ip) {
        if (ip == null) {
            throw new InvalidNetworkSpecException("the address of NIC " + nic + " must not be null");
        }
        Map<Integer, Ipv4Address> given = new TreeMap<>(addresses);
        given.put(nic, ip);
        return new VmSpec(cpu, queueSize, multiQueue, networks, workspace, unsecured, given);
    }

    /**
     * Tells whether port security is on for a NIC (as far as this spec says: a network may turn it off for all).
     *
     * @param nic the NIC index
     * @return false when {@link #withoutPortSecurity} named it
     */
    public boolean portSecurity(int nic) {
        return !unsecured.contains(nic);
    }

    /**
     * Returns the address the manager gave a NIC: the static address of a NIC on a named network, or the address a
     * NIC on no named network uses.
     *
     * @param nic the NIC index
     * @return the address, or empty when none was given
     */
    public Optional<Ipv4Address> address(int nic) {
        return Optional.ofNullable(addresses.get(nic));
    }

    /**
     * Checks that the port-security settings name only NICs the VM has.
     *
     * @param vmId the VM, for the message
     * @param nics the VM's NIC count
     * @throws InvalidNetworkSpecException if a NIC with port security off or an address is not among the VM's NICs
     */
    public void requireNics(String vmId, int nics) {
        Set<Integer> named = new TreeSet<>(unsecured);
        named.addAll(addresses.keySet());
        named.stream().filter(nic -> nic >= nics).findFirst().ifPresent(nic -> {
            throw new InvalidNetworkSpecException("VM " + vmId + " has " + nics + " NIC(s), 0 to " + (nics - 1)
                    + ", but its spec sets " + (unsecured.contains(nic) ? "port security off" : "an address")
                    + " for NIC " + nic);
        });
    }

    /**
     * Returns the member name this VM joins its networks as: the workspace, or the VM ID when none was given.
     *
     * @param vmId the VM's ID
     * @return the member name
     */
    public String workspaceOr(String vmId) {
        return workspace != null ? workspace : vmId;
    }

    /**
     * Returns the number of virtio queues per NIC: two per vCPU (one RX/TX pair each), at least 2.
     *
     * @return the queue count
     */
    public int numQueues() {
        return Math.max(2, 2 * cpu);
    }

    /**
     * Tells whether the NIC's TAP must be created multi-queue: more than one queue pair and a VMM that takes it.
     *
     * @return true when the TAP needs {@code IFF_MULTI_QUEUE}
     */
    public boolean needsMultiQueueTap() {
        return multiQueue && numQueues() / 2 > 1;
    }
}
