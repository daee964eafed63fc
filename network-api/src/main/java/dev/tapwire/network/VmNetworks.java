package dev.tapwire.network;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The NICs a provider realized for one VM, and the host ports published to them, as {@link NetworkProvider#inspect}
 * and {@link NetworkProvider#list} report them.
 *
 * <p>JSON: {@code {"vm": "vm-1", "nics": [...], "publications": {"btvm-1-0": [{"protocol": "tcp", ...}]}}},
 * {@code publications} omitted when there are none.
 *
 * @param vmId the VM's ID
 * @param nics the NIC configs, in NIC order
 * @param publications the publications of each NIC, by TAP name (NICs without publications absent)
 */
@JsonPropertyOrder({"vm", "nics", "publications"})
public record VmNetworks(@JsonProperty("vm") String vmId, @JsonProperty("nics") List<NicConfig> nics,
        @JsonProperty("publications") @JsonInclude(JsonInclude.Include.NON_EMPTY)
        Map<String, List<PortPublication>> publications) {

    /**
     * Validates and copies.
     *
     * @param vmId the VM's ID
     * @param nics the NIC configs, in NIC order
     * @param publications the publications of each NIC, by TAP name (NICs without publications absent)
     * @throws InvalidNetworkSpecException if the VM ID is blank
     */
    public VmNetworks {
        if (vmId == null || vmId.isBlank()) {
            throw new InvalidNetworkSpecException("VM ID must not be blank");
        }
        nics = nics == null ? List.of() : List.copyOf(nics);
        TreeMap<String, List<PortPublication>> copy = new TreeMap<>();
        (publications == null ? Map.<String, List<PortPublication>>of() : publications).forEach((tap, list) -> {
            if (list != null && !list.isEmpty()) {
                copy.put(tap, List.copyOf(list));
            }
        });
        publications = Collections.unmodifiableMap(copy);
    }

    /**
     * Creates the record of a VM whose NICs have no publications.
     *
     * @param vmId the VM's ID
     * @param nics the NIC configs, in NIC order
     * @throws InvalidNetworkSpecException if the VM ID is blank
     */
    public VmNetworks(String vmId, List<NicConfig> nics) {
        this(vmId, nics, Map.of());
    }

    /**
     * Returns the publications of one NIC.
     *
     * @param tap the NIC's TAP
     * @return its publications, empty when it has none
     */
    public List<PortPublication> publicationsOf(String tap) {
        return publications.getOrDefault(tap, List.of());
    }
}
