package dev.tapwire.network;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Locale;

/**
 * A host port published to a port of a VM's NIC (as Docker's {@code -p} and CNI's {@code portmap} do): connections
 * or datagrams to {@code hostPort} on the host (on {@code hostAddress}, or on every host address when it is null)
 * are forwarded to {@code guestPort} at the NIC's address.
 *
 * <p>JSON: {@code {"protocol": "tcp", "host_address": "127.0.0.1", "host_port": 8080, "guest_port": 80}}
 * ({@code host_address} omitted when null). Text: {@code tcp:8080:80}, {@code udp:127.0.0.1:5353:53}.
 *
 * @param protocol {@code tcp} or {@code udp}
 * @param hostAddress the host address the port is published on, or null for every address of the host
 * @param hostPort the host port, 1–65535
 * @param guestPort the guest port, 1–65535
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record PortPublication(@JsonProperty("protocol") String protocol,
        @JsonProperty("host_address") Ipv4Address hostAddress, @JsonProperty("host_port") int hostPort,
        @JsonProperty("guest_port") int guestPort) {

    /**
     * Validates the publication.
     *
     * @param protocol {@code tcp} or {@code udp}
     * @param hostAddress the host address the port is published on, or null for every address of the host
     * @param hostPort the host port, 1–65535
     * @param guestPort the guest port, 1–65535
     * @throws InvalidNetworkSpecException if the protocol is not tcp or udp, or a port is out of 1–65535
     */
    public PortPublication {
        if (!"tcp".equals(protocol) && !"udp".equals(protocol)) {
            throw new InvalidNetworkSpecException("invalid protocol \"" + protocol + "\" of a port publication:"
                    + " accepted are tcp and udp");
        }
        requirePort("host", hostPort);
        requirePort("guest", guestPort);
    }

    /**
     * Returns a publication of {@code hostPort} on every host address to {@code guestPort}.
     *
     * @param protocol {@code tcp} or {@code udp}
     * @param hostPort the host port
     * @param guestPort the guest port
     * @return the publication
     * @throws InvalidNetworkSpecException as the constructor does
     */
    public static PortPublication of(String protocol, int hostPort, int guestPort) {
        return new PortPublication(protocol, null, hostPort, guestPort);
    }

    /**
     * Parses {@code PROTO:HOSTPORT:GUESTPORT} or {@code PROTO:HOSTADDRESS:HOSTPORT:GUESTPORT}.
     *
     * @param text the text, e.g. {@code tcp:8080:80}
     * @return the publication
     * @throws InvalidNetworkSpecException if the text is not of that form or a part is invalid
     */
    public static PortPublication parse(String text) {
        String[] parts = text == null ? new String[0] : text.split(":", -1);
        if (parts.length != 3 && parts.length != 4) {
            throw new InvalidNetworkSpecException("invalid port publication \"" + text + "\": accepted are"
                    + " PROTO:HOSTPORT:GUESTPORT and PROTO:HOSTADDRESS:HOSTPORT:GUESTPORT, e.g. tcp:8080:80");
        }
        Ipv4Address address = parts.length == 4 ? Ipv4Address.parse(parts[1]) : null;
        int hostPort = port(text, parts[parts.length - 2]);
        int guestPort = port(text, parts[parts.length - 1]);
        return new PortPublication(parts[0].toLowerCase(Locale.ROOT), address, hostPort, guestPort);
    }

    /**
     * Tells whether this and {@code other} claim the same host port: same protocol and port, on addresses that
     * overlap (equal, or either is every address).
     *
     * @param other another publication
     * @return true when both cannot be published at once
     */
    public boolean conflictsWith(PortPublication other) {
        return protocol.equals(other.protocol) && hostPort == other.hostPort
                && (hostAddress == null || other.hostAddress == null || hostAddress.equals(other.hostAddress));
    }

    /**
     * Returns the canonical text form, as {@link #parse} reads it.
     *
     * @return e.g. {@code tcp:8080:80}
     */
    @JsonIgnore
    public String text() {
        return protocol + ":" + (hostAddress == null ? "" : hostAddress + ":") + hostPort + ":" + guestPort;
    }

    @Override
    public String toString() {
        return text();
    }

    private static int port(String text, String part) {
        try {
            return Integer.parseInt(part);
        } catch (NumberFormatException e) {
            throw new InvalidNetworkSpecException("invalid port \"" + part + "\" in port publication \"" + text
                    + "\": accepted are 1-65535");
        }
    }

    private static void requirePort(String which, int port) {
        if (port < 1 || port > 65535) {
            throw new InvalidNetworkSpecException("invalid " + which + " port " + port
                    + " of a port publication: accepted are 1-65535");
        }
    }
}
