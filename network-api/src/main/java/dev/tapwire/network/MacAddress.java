package dev.tapwire.network;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Locale;

/**
 * A 48-bit Ethernet MAC address, written as lowercase {@code aa:bb:cc:dd:ee:ff}.
 *
 * <p>{@link #parse} accepts six colon-separated pairs of hex digits in either case. In JSON a MAC
 * is its string form.
 *
 * @param bits the 48 address bits in the low bits of a {@code long}
 */
public record MacAddress(long bits) {


    private static final SecureRandom RANDOM = new SecureRandom();
    private static final long MASK_48 = 0xFFFF_FFFF_FFFFL;

    /**
     * Validates that the value fits in 48 bits.
     *
     * @param bits the 48 address bits in the low bits of a {@code long}
     * @throws InvalidNetworkSpecException if {@code bits} has any of its upper 16 bits set
     */
    public MacAddress {
        if ((bits & ~MASK_48) != 0) {
            throw new InvalidNetworkSpecException("MAC address value " + Long.toHexString(bits) + " exceeds 48 bits");
        }
    }

    /**
     * Parses {@code aa:bb:cc:dd:ee:ff} (hex digits in either case).
     *
     * @param text the text to parse
     * @return the address
     * @throws InvalidNetworkSpecException if the text is null or not six colon-separated hex pairs
     */
    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    public static MacAddress parse(String text) {
        if (!isValid(text)) {
            throw new InvalidNetworkSpecException("invalid MAC address " + Ipv4Address.quote(text)
                    + ": expected six colon-separated hex pairs such as 02:00:5e:10:00:01");
        }
        long bits = 0;
        for (int i = 0; i < 6; i++) {
            bits = bits << 8 | HexFormat.fromHexDigits(text, i * 3, i * 3 + 2);
        }
        return new MacAddress(bits);
    }

    /**
     * Tells whether {@link #parse} accepts {@code text}.
     *
     * @param text the text to test, may be null
     * @return true when it is six colon-separated hex pairs
     */
    public static boolean isValid(String text) {
        if (text == null || text.length() != 17) {
            return false;
        }
        for (int i = 0; i < 17; i++) {
            char c = text.charAt(i);
            boolean ok = i % 3 == 2 ? c == ':' : Character.digit(c, 16) >= 0 && c < 128;
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    /**
     * Builds an address from six bytes.
     *
     * @param bytes exactly six bytes, most significant first
     * @return the address
     * @throws InvalidNetworkSpecException if {@code bytes} is null or not six bytes long
     */
    public static MacAddress of(byte[] bytes) {
        if (bytes == null || bytes.length != 6) {
            throw new InvalidNetworkSpecException("a MAC address needs exactly 6 bytes");
        }
        long bits = 0;
        for (byte b : bytes) {
            bits = bits << 8 | (b & 0xff);
        }
        return new MacAddress(bits);
    }

    /**
     * Returns a random locally administered unicast address (first octet {@code x2}, {@code x6},
     * {@code xa} or {@code xe}), as a VM NIC should have.
     *
     * @return a fresh random address
     */
    public static MacAddress random() {
        byte[] bytes = new byte[6];
        RANDOM.nextBytes(bytes);
        bytes[0] = (byte) ((bytes[0] & 0xfe) | 0x02);
        return of(bytes);
    }

    /**
     * Returns the guest MAC of a workspace's NIC on a named network: locally administered unicast, derived from
     * the network and member names by SHA-256, so a re-created VM gets the same MAC (and keeps its DHCP lease).
     * Two members of one network collide with a chance of about one in 2<sup>46</sup> per pair; the bridge
     * provider checks every network it attaches to.
     *
     * @param network the network name
     * @param workspace the member (workspace) name
     * @return the address
     * @throws InvalidNetworkSpecException if a name is null or blank
     */
    public static MacAddress forMember(String network, String workspace) {
        if (network == null || network.isBlank() || workspace == null || workspace.isBlank()) {
            throw new InvalidNetworkSpecException("a member MAC needs a network and a workspace name, got "
                    + network + " and " + workspace);
        }
        return derived("tapwire-mac\0" + network + "\0" + workspace);
    }

    /**
     * Returns the owner-independent MAC of a named network's gateway: locally administered unicast, derived from
     * the network name by SHA-256 (apart from every member MAC), so it is the same whenever it is derived again.
     * No member may hold it. The Linux realizer derives its bridge's MAC the same way with the state directory's
     * owner tag added, so that two state directories on one host never take each other's bridge.
     *
     * @param network the network name
     * @return the address
     * @throws InvalidNetworkSpecException if the name is null or blank
     */
    public static MacAddress forGateway(String network) {
        if (network == null || network.isBlank()) {
            throw new InvalidNetworkSpecException("a gateway MAC needs a network name, got " + network);
        }
        return derived("tapwire-gateway-mac\0" + network);
    }

    private static MacAddress derived(String seed) {
        byte[] hash = Sha256.of(seed);
        byte[] bytes = Arrays.copyOf(hash, 6);
        bytes[0] = (byte) ((bytes[0] & 0xfe) | 0x02);
        return of(bytes);
    }

    /**
     * Returns the six bytes, most significant first.
     *
     * @return a new 6-byte array
     */
    public byte[] toBytes() {
        byte[] bytes = new byte[6];
        for (int i = 0; i < 6; i++) {
            bytes[i] = (byte) (bits >>> (40 - 8 * i));
        }
        return bytes;
    }

    /**
     * Tells whether the locally administered bit (0x02 of the first octet) is set.
     *
     * @return true for a locally administered address
     */
    public boolean isLocallyAdministered() {
        return (bits >>> 40 & 0x02) != 0;
    }

    /**
     * Tells whether the address is unicast (the group bit 0x01 of the first octet is clear).
     *
     * @return true for a unicast address
     */
    public boolean isUnicast() {
        return (bits >>> 40 & 0x01) == 0;
    }

    /** Returns the canonical lowercase form {@code aa:bb:cc:dd:ee:ff}. */
    @JsonValue
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(17);
        HexFormat hex = HexFormat.of();
        for (int i = 0; i < 6; i++) {
            if (i > 0) {
                sb.append(':');
            }
            sb.append(hex.toHexDigits((byte) (bits >>> (40 - 8 * i))));
        }
        return sb.toString().toLowerCase(Locale.ROOT);
    }
}
