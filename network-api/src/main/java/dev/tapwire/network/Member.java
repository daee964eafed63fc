package dev.tapwire.network;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/**
 * A workspace's membership of a network: {@code {"workspace": "w1", "ip": "10.44.1.2"}}.
 *
 * @param workspace the workspace name, non-blank
 * @param ip the address the workspace holds in the network
 */
@JsonPropertyOrder({"workspace", "ip"})
@JsonIgnoreProperties(ignoreUnknown = true)
public record Member(@JsonProperty("workspace") String workspace, @JsonProperty("ip") Ipv4Address ip) {

    /**
     * Validates the member.
     *
     * @param workspace the workspace name, non-blank
     * @param ip the address the workspace holds in the network
     * @throws InvalidNetworkSpecException if the workspace is null or blank, or the address is null
     */
    public Member {
        if (workspace == null || workspace.isBlank()) {
            throw new InvalidNetworkSpecException("member workspace must not be blank");
        }
        if (ip == null) {
            throw new InvalidNetworkSpecException("member " + workspace + " has no ip");
        }
    }
}
