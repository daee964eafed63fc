package dev.tapwire.network;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Where one member of a named network runs: the host its NIC is on and the guest MAC of that NIC. Runtime state,
 * not registry identity: a placement lives as long as its host's {@link HostLease} and never appears in the
 * registry's index or its export.
 *
 * <p>JSON: {@code {"network": "team", "workspace": "alpha", "host": "host-a", "mac": "02:…"}}.
 *
 * @param network the network's name
 * @param workspace the member's workspace
 * @param host the name of the host the member's NIC is on
 * @param mac the guest MAC of that NIC
 */
public record Placement(@JsonProperty("network") String network, @JsonProperty("workspace") String workspace,
        @JsonProperty("host") String host, @JsonProperty("mac") MacAddress mac) {

    /**
     * Validates the placement.
     *
     * @param network the network's name
     * @param workspace the member's workspace
     * @param host the name of the host the member's NIC is on
     * @param mac the guest MAC of that NIC
     * @throws InvalidNetworkSpecException if the network name is invalid, the workspace blank, the host name
     *     invalid or the MAC missing
     */
    public Placement {
        if (!NetworkNames.isValid(network)) {
            throw new InvalidNetworkSpecException("invalid network name \"" + network + "\" in a placement");
        }
        if (workspace == null || workspace.isBlank()) {
            throw new InvalidNetworkSpecException("a placement on " + network + " needs a workspace");
        }
        if (!HostRecord.isValidName(host)) {
            throw new InvalidNetworkSpecException("invalid host name \"" + host + "\" in the placement of "
                    + workspace + " on " + network);
        }
        if (mac == null) {
            throw new InvalidNetworkSpecException("the placement of " + workspace + " on " + network + " needs a MAC");
        }
    }
}
