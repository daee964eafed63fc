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
     * @param ip the guest's address
     * @param gateway the default gateway
     * @param prefix the prefix length of the guest's subnet, 0-32
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

    /**
     * Returns the netmask of the prefix in dotted form, e.g. {@code 255.255.255.0} for /24.
     *
     * @return the netmask
     */
    public String netmask() {
        long mask = prefix == 0 ? 0 : (0xffffffffL << (32 - prefix)) & 0xffffffffL;
        return (mask >>> 24) + "." + (mask >>> 16 & 0xff) + "." + (mask >>> 8 & 0xff) + "." + (mask & 0xff);
    }

    /**
     * Renders the kernel's {@code ip=} boot argument for a guest with no DHCP client (Firecracker's usual setup):
     * {@code ip=<ip>::<gateway>:<netmask>:<hostname>:<device>:off:<gateway>}, the gateway also being the DNS
     * server (tapwire's dnsmasq listens there).
     *
     * @param hostname the guest's host name (its workspace, say), or null for none
     * @param device the guest's interface, e.g. {@code eth0}
     * @return the argument, e.g. {@code ip=10.44.0.2::10.44.0.1:255.255.0.0:web:eth0:off:10.44.0.1}
     * @throws InvalidNetworkSpecException if the device is blank or a name contains a colon or whitespace
     */
    public String kernelIpArgument(String hostname, String device) {
        if (device == null || device.isBlank() || device.matches(".*[:\\s].*")) {
            throw new InvalidNetworkSpecException("guest device \"" + device
                    + "\" must be an interface name such as eth0 (no colon, no whitespace)");
        }
        if (hostname != null && hostname.matches(".*[:\\s].*")) {
            throw new InvalidNetworkSpecException("guest host name \"" + hostname
                    + "\" must not contain a colon or whitespace (the kernel splits ip= at colons)");
        }
        String gw = gateway == null ? "" : gateway.toString();
        return "ip=" + ip + "::" + gw + ":" + netmask() + ":" + (hostname == null ? "" : hostname) + ":" + device
                + ":off" + (gateway == null ? "" : ":" + gw);
    }
}
