package dev.tapwire.network.bridge;

import dev.tapwire.network.InvalidNetworkSpecException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A host port that a network's guests may reach on their gateway address, such as {@code 8080/tcp}: guests reach
 * the host only for DHCP, DNS and ICMP unless their network's allow-list names a port.
 *
 * @param port the port, 1-65535
 * @param protocol {@code tcp} or {@code udp}
 */
public record HostPort(int port, String protocol) implements Comparable<HostPort> {

    private static final Pattern FORM = Pattern.compile("([0-9]{1,5})/(tcp|udp)");

    /**
     * Validates the port.
     *
     * @param port the port, 1-65535
     * @param protocol {@code tcp} or {@code udp}
     * @throws InvalidNetworkSpecException if the port is not 1-65535 or the protocol is not tcp or udp
     */
    public HostPort {
        if (port < 1 || port > 65_535 || !("tcp".equals(protocol) || "udp".equals(protocol))) {
            throw new InvalidNetworkSpecException("a host port is PORT/tcp or PORT/udp with PORT 1-65535; got " + port
                    + "/" + protocol);
        }
    }

    /**
     * Parses {@code PORT/tcp} or {@code PORT/udp}.
     *
     * @param text the text, e.g. {@code 22/tcp}
     * @return the host port
     * @throws InvalidNetworkSpecException if the text is not of that form
     */
    public static HostPort parse(String text) {
        Matcher m = text == null ? null : FORM.matcher(text.strip().toLowerCase(Locale.ROOT));
        if (m == null || !m.matches()) {
            throw new InvalidNetworkSpecException("a host port is PORT/tcp or PORT/udp, e.g. 8080/tcp; got "
                    + (text == null ? "null" : "\"" + text + "\""));
        }
        return new HostPort(Integer.parseInt(m.group(1)), m.group(2));
    }

    /**
     * Orders by port, then protocol.
     *
     * @param other the other port
     * @return as {@link Comparable#compareTo}
     */
    @Override
    public int compareTo(HostPort other) {
        int byPort = Integer.compare(port, other.port);
        return byPort != 0 ? byPort : protocol.compareTo(other.protocol);
    }

    /**
     * Returns {@code PORT/protocol}, the form {@link #parse} reads.
     *
     * @return the text
     */
    @Override
    public String toString() {
        return port + "/" + protocol;
    }
}
