package dev.tapwire.network;

import dev.tapwire.network.spi.RegistryRules;
import java.util.List;

/**
 * What a provider needs to know of a VM: CPU count, virtio queue size, whether its VMM accepts
 * multi-queue TAPs (Firecracker does not), and optionally the named networks its NICs join and the workspace
 * it joins them as.
 *
 * @param cpu the number of vCPUs, at least 1
 * @param queueSize the virtio queue size, a power of two from 1 to 32768
 * @param multiQueue whether the VMM opens multi-queue TAPs
 * @param networks the named network of each NIC, in NIC order; may be empty
 * @param workspace the member name the VM joins its networks as, or null for the VM ID; stored trimmed
 */
public record VmSpec(int cpu, int queueSize, boolean multiQueue, List<String> networks, String workspace) {

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
     * @throws InvalidNetworkSpecException if cpu is not in 1-{@value #MAX_CPU}, the queue size is not a power of
     *     two in 1-32768, a network name is null or blank, or the workspace is blank, too long or holds control
     *     characters
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
        return new VmSpec(cpu, size, multiQueue, networks, workspace);
    }

    /**
     * Returns a copy that says whether the VMM takes multi-queue TAPs.
     *
     * @param enabled false for Firecracker and other single-queue VMMs
     * @return the new spec
     */
    public VmSpec withMultiQueue(boolean enabled) {
        return new VmSpec(cpu, queueSize, enabled, networks, workspace);
    }

    /**
     * Returns a copy with the named network of each NIC, in NIC order.
     *
     * @param names the network names
     * @return the new spec
     * @throws InvalidNetworkSpecException if a name is null or blank
     */
    public VmSpec withNetworks(List<String> names) {
        return new VmSpec(cpu, queueSize, multiQueue, names, workspace);
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
        return new VmSpec(cpu, queueSize, multiQueue, networks, name);
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
