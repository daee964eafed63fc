package dev.tapwire.network;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/**
 * An IPv4 subnet in CIDR form, such as {@code 10.44.1.0/24}; host bits are always masked off.
 *
 * <p>{@code parse("10.44.1.7/24")} gives {@code 10.44.1.0/24}, as the Go reference does. For /31 and
 * /32 the host range follows RFC 3021: every address of the subnet is a host. In JSON a subnet is its
 * string form.
 *
 * @param networkAddress the first address of the subnet (host bits zero)
 * @param prefixLength the number of network bits, 0-32
 */
public record Ipv4Subnet(Ipv4Address networkAddress, int prefixLength) {

    /**
     * Validates the prefix and masks the host bits of {@code networkAddress}.
     *
     * @param networkAddress the first address of the subnet (host bits zero)
     * @param prefixLength the number of network bits, 0-32
     * @throws InvalidNetworkSpecException if the address is null or the prefix is outside 0-32
     */
    public Ipv4Subnet {
        if (networkAddress == null) {
            throw new InvalidNetworkSpecException("subnet address must not be null");
        }
        if (prefixLength < 0 || prefixLength > 32) {
            throw new InvalidNetworkSpecException("invalid prefix length /" + prefixLength + ": expected /0 to /32");
        }
        networkAddress = new Ipv4Address(networkAddress.bits() & mask(prefixLength));
    }

    /**
     * Parses CIDR notation {@code a.b.c.d/n}, masking the host bits.
     *
     * @param text the text to parse, such as {@code 10.44.1.0/24}
     * @return the subnet
     * @throws InvalidNetworkSpecException if the text is null, has no prefix, an out-of-range prefix,
     *     is IPv6, or its address is not a strict dotted quad
     */
    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    public static Ipv4Subnet parse(String text) {
        String problem = problem(text);
        if (problem != null) {
            throw new InvalidNetworkSpecException("invalid IPv4 subnet " + Ipv4Address.quote(text) + ": " + problem
                    + "; expected CIDR notation such as 10.44.1.0/24");
        }
        int slash = text.indexOf('/');
        return new Ipv4Subnet(Ipv4Address.parse(text.substring(0, slash)),
                Integer.parseInt(text.substring(slash + 1)));
    }

    /**
     * Tells whether {@link #parse} accepts {@code text}.
     *
     * @param text the text to test, may be null
     * @return true when it is valid CIDR notation
     */
    public static boolean isValid(String text) {
        return problem(text) == null;
    }

    private static String problem(String text) {
        if (text == null) {
            return "it is null";
        }
        if (text.indexOf(':') >= 0) {
            return "IPv6 is not supported";
        }
        int slash = text.indexOf('/');
        if (slash < 0) {
            return "the prefix length is missing";
        }
        if (!Ipv4Address.isValid(text.substring(0, slash))) {
            return "the address is not a dotted quad";
        }
        String prefix = text.substring(slash + 1);
        if (prefix.isEmpty() || prefix.length() > 2 || !prefix.chars().allMatch(c -> c >= '0' && c <= '9')
                || (prefix.length() == 2 && prefix.charAt(0) == '0')) {
            return "the prefix length is not a number 0-32";
        }
        if (Integer.parseInt(prefix) > 32) {
            return "the prefix length /" + prefix + " is larger than /32";
        }
        return null;
    }

    /**
     * Returns the netmask with {@code prefixLength} leading one bits.
     *
     * @param prefixLength 0-32
     * @return the mask as an int
     */
    static int mask(int prefixLength) {
        return prefixLength == 0 ? 0 : -1 << (32 - prefixLength);
    }

    /**
     * Returns the netmask as an address, e.g. {@code 255.255.255.0} for /24.
     *
     * @return the netmask
     */
    public Ipv4Address netmask() {
        return new Ipv4Address(mask(prefixLength));
    }

    /**
     * Returns the last address of the subnet (the broadcast address for /30 and shorter).
     *
     * @return the last address
     */
    public Ipv4Address broadcastAddress() {
        return new Ipv4Address(networkAddress.bits() | ~mask(prefixLength));
    }

    /**
     * Returns the first usable host: the network address plus one, or the network address itself for
     * /31 and /32.
     *
     * @return the first host
     */
    public Ipv4Address firstHost() {
        return prefixLength >= 31 ? networkAddress : networkAddress.next();
    }

    /**
     * Returns the last usable host: the broadcast address minus one, or the last address for /31 and /32.
     *
     * @return the last host
     */
    public Ipv4Address lastHost() {
        Ipv4Address last = broadcastAddress();
        return prefixLength >= 31 ? last : last.plus(-1);
    }

    /**
     * Returns how many usable hosts the subnet has: {@code 2^(32-n) - 2}, or 2 for /31 and 1 for /32.
     *
     * @return the host count
     */
    public long hostCount() {
        long size = size();
        return prefixLength >= 31 ? size : size - 2;
    }

    /**
     * Returns how many addresses the subnet spans, {@code 2^(32-n)}.
     *
     * @return the number of addresses
     */
    public long size() {
        return 1L << (32 - prefixLength);
    }

    /**
     * Tells whether {@code address} lies inside this subnet.
     *
     * @param address the address to test
     * @return true when the masked address equals the network address
     * @throws NullPointerException if {@code address} is null
     */
    public boolean contains(Ipv4Address address) {
        return (address.bits() & mask(prefixLength)) == networkAddress.bits();
    }

    /**
     * Tells whether this subnet and {@code other} share at least one address.
     *
     * @param other the other subnet
     * @return true when one contains the other's network address
     * @throws NullPointerException if {@code other} is null
     */
    public boolean overlaps(Ipv4Subnet other) {
        return contains(other.networkAddress) || other.contains(networkAddress);
    }

    /** Returns the canonical CIDR form, e.g. {@code 10.44.1.0/24}. */
    @JsonValue
    @Override
    public String toString() {
        return networkAddress + "/" + prefixLength;
    }
}
