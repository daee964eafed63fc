package dev.tapwire.network;

import java.util.List;
import java.util.Objects;

/**
 * One VM's part of {@link NetworkProvider#configureAll}: the arguments {@link NetworkProvider#configure} takes.
 *
 * @param vmId the VM's ID
 * @param nics how many NICs, at least 1
 * @param vm what the provider needs to know of the VM
 * @param existing the configs the VM had before (recovery), empty for a new VM; null reads as empty
 */
public record ConfigureRequest(String vmId, int nics, VmSpec vm, List<NicConfig> existing) {

    /**
     * Copies the existing configs.
     *
     * @param vmId the VM's ID
     * @param nics how many NICs, at least 1
     * @param vm what the provider needs to know of the VM
     * @param existing the configs the VM had before (recovery), empty for a new VM; null reads as empty
     * @throws NullPointerException if {@code vm} is null
     */
    public ConfigureRequest {
        Objects.requireNonNull(vm, "vm");
        existing = existing == null ? List.of() : List.copyOf(existing);
    }

    /**
     * Returns the request that re-creates a VM's NICs from the configs saved before a host reboot.
     *
     * @param vmId the VM's ID
     * @param vm what the provider needs to know of the VM
     * @param saved the VM's saved configs, one per NIC
     * @return the request
     * @throws InvalidNetworkSpecException if {@code saved} is empty
     */
    public static ConfigureRequest recover(String vmId, VmSpec vm, List<NicConfig> saved) {
        if (saved == null || saved.isEmpty()) {
            throw new InvalidNetworkSpecException("VM " + vmId + " has no saved NIC configs to recover");
        }
        return new ConfigureRequest(vmId, saved.size(), vm, saved);
    }

    /**
     * Checks that saved configs have the queues {@code vm} gives them: a recovery re-creates a VM as it was, so a
     * spec with another CPU count (queue count) or queue size than the one the configs were made with is refused
     * instead of silently changing the VM's {@code num_queues}. A config with queue count or size 0 (not recorded)
     * is not checked.
     *
     * @param vmId the VM, for the message
     * @param vm the spec of the recovery
     * @param existing the saved configs
     * @throws InvalidNetworkSpecException naming the first NIC whose queues differ, and both values
     */
    public static void requireSameQueues(String vmId, VmSpec vm, List<NicConfig> existing) {
        for (NicConfig nic : existing == null ? List.<NicConfig>of() : existing) {
            if (nic.numQueues() != 0 && nic.numQueues() != vm.numQueues()) {
                throw new InvalidNetworkSpecException("VM " + vmId + " is given a spec of " + vm.cpu()
                        + " vCPU(s), " + vm.numQueues() + " queues per NIC, but its saved NIC " + nic.tap() + " has "
                        + nic.numQueues() + " (num_queues): give the spec it was configured with"
                        + " (its VmRecord), or delete it and configure it anew");
            }
            if (nic.queueSize() != 0 && nic.queueSize() != vm.queueSize()) {
                throw new InvalidNetworkSpecException("VM " + vmId + " is given queue size " + vm.queueSize()
                        + ", but its saved NIC " + nic.tap() + " has queue size " + nic.queueSize() + " (queue_size):"
                        + " give the spec it was configured with (its VmRecord)");
            }
        }
    }

    /**
     * Checks that no VM appears twice among {@code requests}.
     *
     * @param requests the requests
     * @throws InvalidNetworkSpecException naming the VM that appears twice
     * @throws NullPointerException if {@code requests} is or holds null
     */
    public static void requireDistinct(List<ConfigureRequest> requests) {
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (ConfigureRequest r : requests) {
            if (!seen.add(r.vmId())) {
                throw new InvalidNetworkSpecException("VM " + r.vmId() + " appears twice in one configureAll");
            }
        }
    }
}
