package dev.tapwire.network;

import java.util.List;

/**
 * What a provider needs to know of a VM: CPU count, virtio queue size, whether its VMM accepts
 * multi-queue TAPs (Firecracker does not), and optionally the named networks its NICs join.
 *
 * @param cpu the number of vCPUs, at least 1
 * @param queueSize the virtio queue size, a power of two from 1 to 32768
 * @param multiQueue whether the VMM opens multi-queue TAPs
 * @param networks the named network of each NIC, in NIC order; may be empty
 */
public record VmSpec(int cpu, int queueSize, boolean multiQueue, List<String> networks) {

    /** The virtio queue size used unless another is given. */
    public static final int DEFAULT_QUEUE_SIZE = 256;
    /** The most vCPUs accepted: two queues each, and a multi-queue TAP has at most 256 queues. */
    public static final int MAX_CPU = 128;

    /**
     * Validates the spec and copies the network list.
     *
     * @throws InvalidNetworkSpecException if cpu is not in 1-{@value #MAX_CPU} or the queue size is not a power of
     *     two in 1-32768
     */
    public VmSpec {
        if (cpu < 1 || cpu > MAX_CPU) {
            throw new InvalidNetworkSpecException("cpu count " + cpu + " is out of range: expected 1 to " + MAX_CPU
                    + " (two virtio queues per vCPU, and the kernel gives a multi-queue TAP at most 256 queues)");
        }
        if (queueSize < 1 || queueSize > 32768 || Integer.bitCount(queueSize) != 1) {
            throw new InvalidNetworkSpecException("queue size " + queueSize + " must be a power of two from 1 to 32768");
        }
        networks = networks == null ? List.of() : List.copyOf(networks);
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
        return new VmSpec(cpu, size, multiQueue, networks);
    }

    /**
     * Returns a copy that says whether the VMM takes multi-queue TAPs.
     *
     * @param enabled false for Firecracker and other single-queue VMMs
     * @return the new spec
     */
    public VmSpec withMultiQueue(boolean enabled) {
        return new VmSpec(cpu, queueSize, enabled, networks);
    }

    /**
     * Returns a copy with the named network of each NIC, in NIC order.
     *
     * @param names the network names
     * @return the new spec
     */
    public VmSpec withNetworks(List<String> names) {
        return new VmSpec(cpu, queueSize, multiQueue, names);
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
