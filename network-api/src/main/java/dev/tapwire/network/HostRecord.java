package dev.tapwire.network;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Objects;

/**
 * A host of a fleet as the {@link PlacementRegistry} knows it: its name, unique among the live hosts, and its tunnel
 * endpoint, the underlay address other hosts send its members' overlay traffic to.
 *
 * <p>JSON: {@code {"name": "host-a", "underlay": "198.51.100.1"}}.
 *
 * @param name the host's name: 1–253 characters of {@code a-z A-Z 0-9 . - _}, not starting with {@code .} or {@code -}
 * @param underlay the host's tunnel endpoint (VTEP) address
 */
public record HostRecord(@JsonProperty("name") String name, @JsonProperty("underlay") Ipv4Address underlay) {

    /**
     * Validates the record.
     *
     * @param name the host's name: 1–253 characters of {@code a-z A-Z 0-9 . - _}, not starting with {@code .}
     *     or {@code -}
     * @param underlay the host's tunnel endpoint (VTEP) address
     * @throws InvalidNetworkSpecException if the name is not a valid host name or the underlay is missing
     */
    public HostRecord {
        if (!isValidName(name)) {
            throw new InvalidNetworkSpecException("invalid host name \"" + name + "\": accepted are 1-253 characters"
                    + " of a-z, A-Z, 0-9, '.', '-' and '_', not starting with '.' or '-'");
        }
        if (underlay == null) {
            throw new InvalidNetworkSpecException("host " + name + " needs an underlay (tunnel endpoint) address");
        }
    }

    /**
     * Tells whether {@code name} is a valid host name for a placement registry; never throws.
     *
     * @param name the candidate, may be null
     * @return true when a {@link HostRecord} accepts it
     */
    public static boolean isValidName(String name) {
        if (name == null || name.isEmpty() || name.length() > 253 || name.charAt(0) == '.' || name.charAt(0) == '-') {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '-' || c == '_';
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    @Override
    public String toString() {
        return name + "@" + Objects.toString(underlay);
    }
}
