package dev.tapwire.network;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/**
 * An IPv4 address held as its 32 bits, written and parsed as a strict dotted quad ({@code 10.44.1.2}).
 *
 * <p>Parsing never performs a DNS lookup and accepts exactly four decimal octets of 0–255, without
 * signs, whitespace, leading zeros (which some parsers read as octal) or empty parts. In JSON an
 * address is its string form.
 *
 * @param bits the address as an unsigned 32-bit value stored in an {@code int}
 */
public record Ipv4Address(int bits) implements Comparable<Ipv4Address> {

    /**
     * Parses a strict dotted quad such as {@code 10.44.1.2}.
     *
     * @param text the text to parse
     * @return the address
     * @throws InvalidNetworkSpecException if {@code text} is null or not a strict dotted quad
     */
    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    public static Ipv4Address parse(String text) {
        long bits = parseBits(text);
        if (bits < 0) {
            throw new InvalidNetworkSpecException("invalid IPv4 address " + quote(text)
                    + ": expected a dotted quad of four decimal octets 0-255 such as 10.44.1.2");
        }
        return new Ipv4Address((int) bits);
    }

    /**
     * Tells whether {@code text} is a strict dotted quad that {@link #parse} accepts.
     *
     * @param text the text to test, may be null
     * @return true when {@link #parse} would succeed
     */
    public static boolean isValid(String text) {
        return parseBits(text) >= 0;
    }

    /**
     * Builds an address from four octets given most significant first.
     *
     * @param a first octet, 0-255
     * @param b second octet, 0-255
     * @param c third octet, 0-255
     * @param d fourth octet, 0-255
     * @return the address
     * @throws InvalidNetworkSpecException if an octet is outside 0-255
     */
    public static Ipv4Address of(int a, int b, int c, int d) {
        for (int octet : new int[] {a, b, c, d}) {
            if (octet < 0 || octet > 255) {
                throw new InvalidNetworkSpecException("invalid IPv4 octet " + octet + ": expected 0-255");
            }
        }
        return new Ipv4Address(a << 24 | b << 16 | c << 8 | d);
    }

    /**
     * Returns the address that follows this one, wrapping from {@code 255.255.255.255} to {@code 0.0.0.0}.
     *
     * @return the next address
     */
    public Ipv4Address next() {
        return new Ipv4Address(bits + 1);
    }

    /**
     * Returns the address {@code offset} positions after this one, modulo 2<sup>32</sup>.
     *
     * @param offset how far to move, may be negative
     * @return the moved address
     */
    public Ipv4Address plus(long offset) {
        return new Ipv4Address((int) (bits + offset));
    }

    /**
     * Returns the address as an unsigned value in {@code 0 .. 2^32-1}.
     *
     * @return the unsigned 32-bit value
     */
    public long toLong() {
        return Integer.toUnsignedLong(bits);
    }

    /**
     * Returns the four octets, most significant first, as a new array.
     *
     * @return a 4-byte array in network byte order
     */
    public byte[] toBytes() {
        return new byte[] {(byte) (bits >>> 24), (byte) (bits >>> 16), (byte) (bits >>> 8), (byte) bits};
    }

    /** Compares addresses as unsigned numbers, so {@code 10.0.0.1} sorts before {@code 192.168.0.1}. */
    @Override
    public int compareTo(Ipv4Address other) {
        return Integer.compareUnsigned(bits, other.bits);
    }

    /** Returns the canonical dotted quad, e.g. {@code 10.44.1.2}. */
    @JsonValue
    @Override
    public String toString() {
        return (bits >>> 24) + "." + ((bits >>> 16) & 0xff) + "." + ((bits >>> 8) & 0xff) + "." + (bits & 0xff);
    }

    /** Parses the unsigned bits, returning -1 on any error. */
    static long parseBits(String text) {
        if (text == null) {
            return -1;
        }
        int length = text.length();
        if (length < 7 || length > 15) {
            return -1;
        }
        long result = 0;
        int octets = 0;
        int i = 0;
        while (i <= length) {
            int start = i;
            int value = 0;
            while (i < length && text.charAt(i) != '.') {
                char c = text.charAt(i);
                if (c < '0' || c > '9') {
                    return -1;
                }
                value = value * 10 + (c - '0');
                i++;
            }
            int digits = i - start;
            if (digits == 0 || digits > 3 || value > 255 || (digits > 1 && text.charAt(start) == '0')) {
                return -1;
            }
            result = result << 8 | value;
            octets++;
            if (octets > 4) {
                return -1;
            }
            i++; // skip the dot (or step past the end)
        }
        return octets == 4 ? result : -1;
    }

    static String quote(String text) {
        return text == null ? "null" : '"' + text + '"';
    }
}
