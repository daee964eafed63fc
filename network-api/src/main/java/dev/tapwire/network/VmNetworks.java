package dev.tapwire.network;

import java.util.List;

/**
 * The NICs a provider realized for one VM, as {@link NetworkProvider#inspect} and
 * {@link NetworkProvider#list} report them.
 *
 * @param vmId the VM's ID
 * @param nics the NIC configs, in NIC order
 */
public record VmNetworks(String vmId, List<NicConfig> nics) {

    /**
     * Validates and copies.
     *
     * @throws InvalidNetworkSpecException if the VM ID is blank
     */
    public VmNetworks {
        if (vmId == null || vmId.isBlank()) {
            throw new InvalidNetworkSpecException("VM ID must not be blank");
        }
        nics = nics == null ? List.of() : List.copyOf(nics);
    }
}
