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
