package dev.tapwire.network;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/**
 * The guest-side IPv4 settings of a NIC: {@code {"ip", "gateway", "prefix"}}.
 *
 * @param ip the guest's address
 * @param gateway the default gateway
 * @param prefix the prefix length of the guest's subnet, 0-32
 */
@JsonPropertyOrder({"ip", "gateway", "prefix"})
@JsonIgnoreProperties(ignoreUnknown = true)
public record GuestNetwork(@JsonProperty("ip") Ipv4Address ip, @JsonProperty("gateway") Ipv4Address gateway,
        @JsonProperty("prefix") int prefix) {

    /**
     * Validates the settings.
     *
     * @throws InvalidNetworkSpecException if the address is missing or the prefix is outside 0-32
     */
    public GuestNetwork {
        if (ip == null) {
            throw new InvalidNetworkSpecException("guest network needs an ip");
        }
        if (prefix < 0 || prefix > 32) {
            throw new InvalidNetworkSpecException("guest prefix /" + prefix + " is outside /0 to /32");
        }
    }
}
