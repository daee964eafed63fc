package dev.tapwire.network;

import java.util.HexFormat;

/**
 * Rules for network names: a DNS-label-like token of 1–63 characters {@code a-z}, {@code 0-9} and
 * {@code -}, neither starting nor ending with {@code -}.
 */
public final class NetworkNames {

    /** The longest name accepted. */
    public static final int MAX_LENGTH = 63;

    private NetworkNames() {
    }

    /**
     * Tells whether {@code name} is a valid network name.
     *
     * @param name the candidate, may be null
     * @return true when it is 1–63 characters of {@code a-z0-9-} not starting or ending with {@code -}
     */
    public static boolean isValid(String name) {
        if (name == null || name.isEmpty() || name.length() > MAX_LENGTH) {
            return false;
        }
        if (name.charAt(0) == '-' || name.charAt(name.length() - 1) == '-') {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')) {
                return false;
            }
        }
        return true;
    }

    /**
     * Returns {@code name} when valid.
     *
     * @param name the candidate
     * @return the same name
     * @throws InvalidNetworkSpecException naming the rule when the name is not valid
     */
    public static String requireValid(String name) {
        if (!isValid(name)) {
            throw new InvalidNetworkSpecException("invalid network name " + Ipv4Address.quote(name)
                    + ": expected 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'");
        }
        return name;
    }

    /**
     * Returns the name of the bridge that realizes a network on a host: {@code tw-<name>} when that fits the
     * kernel's 15 bytes, else {@code tw_} and 12 hex digits of the name's SHA-256 ({@code _} never occurs in a
     * network name, so the two forms cannot meet). Every backend that realizes named networks on bridges, and
     * the in-memory fake, names them so.
     *
     * @param network the network name
     * @return the bridge name
     * @throws InvalidNetworkSpecException if the name is not a valid network name
     */
    public static String bridgeName(String network) {
        requireValid(network);
        if (3 + network.length() <= 15) {
            return "tw-" + network;
        }
        return "tw_" + HexFormat.of().formatHex(Sha256.of(network), 0, 6);
    }
}
