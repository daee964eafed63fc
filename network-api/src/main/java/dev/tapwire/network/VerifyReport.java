package dev.tapwire.network;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.util.List;

/**
 * What {@link NetworkProvider#verify} found: the TAPs it checked and what it repaired (state the provider derives and
 * restores, such as the bridge backend's port-security elements, port isolation, or a realized network's DNS and DHCP
 * data). What it cannot repair is not in a report: verify throws, naming it.
 *
 * <p>JSON: {@code {"vm": "vm-1", "taps": ["btvm-1-0"], "repaired": ["port btvm-1-0 was not isolated: isolated"]}}.
 *
 * @param vm the VM's ID
 * @param taps the VM's TAPs that were checked, in NIC order
 * @param repaired what was not as configured and was put back, one sentence each; empty when all was in place
 */
@JsonPropertyOrder({"vm", "taps", "repaired"})
public record VerifyReport(@JsonProperty("vm") String vm, @JsonProperty("taps") List<String> taps,
        @JsonProperty("repaired") List<String> repaired) {

    /**
     * Validates and copies.
     *
     * @param vm the VM's ID
     * @param taps the VM's TAPs that were checked, in NIC order
     * @param repaired what was not as configured and was put back, one sentence each; empty when all was in place
     * @throws InvalidNetworkSpecException if the VM ID is blank
     */
    public VerifyReport {
        if (vm == null || vm.isBlank()) {
            throw new InvalidNetworkSpecException("a verify report needs the VM ID");
        }
        taps = taps == null ? List.of() : List.copyOf(taps);
        repaired = repaired == null ? List.of() : List.copyOf(repaired);
    }

    /**
     * Tells whether everything was in place, with nothing to repair.
     *
     * @return true when {@link #repaired} is empty
     */
    @JsonIgnore
    public boolean clean() {
        return repaired.isEmpty();
    }
}
