package dev.tapwire.network;

import java.util.Locale;

/**
 * How a provider names a VM's TAPs; chosen with the provider option {@value #OPTION}.
 *
 * <p>Whatever the scheme, a TAP is tapwire's only when it carries the alias {@code tapwire:<vm id>}: the name
 * is for operators, the alias is the proof of ownership.
 */
public enum TapNaming {

    /**
     * {@code bt<first 8 characters of the VM ID>-<nic>}, as the cocoon manager names them (the default):
     * recognisable at a glance, but two IDs that share their first 8 characters ({@code workspace-1},
     * {@code workspace-2}) clash, and the second VM's configure fails with {@code EBUSY}.
     */
    PREFIX("prefix"),

    /**
     * {@code tw<10 base32 characters of the SHA-256 of the whole VM ID>-<nic>}: 50 bits of the whole ID, so a
     * clash among a million VMs has odds of about 1 in 2,000 (and is still an {@code EBUSY} error, never a
     * shared TAP).
     */
    HASHED("hashed");

    /** The provider option that selects the scheme: {@code tap-names=prefix} or {@code tap-names=hashed}. */
    public static final String OPTION = "tap-names";

    private static final char[] BASE32 = "abcdefghijklmnopqrstuvwxyz234567".toCharArray();
    private static final int HASH_CHARS = 10;

    private final String optionValue;

    TapNaming(String optionValue) {
        this.optionValue = optionValue;
    }

    /**
     * Returns the value of {@value #OPTION} that selects this scheme.
     *
     * @return {@code prefix} or {@code hashed}
     */
    public String optionValue() {
        return optionValue;
    }

    /**
     * Parses the value of the {@value #OPTION} option.
     *
     * @param value {@code prefix} or {@code hashed} (any case)
     * @return the scheme
     * @throws InvalidNetworkSpecException for any other value
     */
    public static TapNaming parse(String value) {
        for (TapNaming naming : values()) {
            if (naming.optionValue.equals(value == null ? null : value.toLowerCase(Locale.ROOT))) {
                return naming;
            }
        }
        throw new InvalidNetworkSpecException("unknown TAP naming " + Ipv4Address.quote(value) + " for option "
                + OPTION + ": expected prefix (bt<first 8 characters of the VM ID>-<nic>, the default) or hashed"
                + " (tw<hash of the whole VM ID>-<nic>)");
    }

    /**
     * Returns the TAP name of a VM's NIC under this scheme.
     *
     * @param vmId the VM ID
     * @param nic the NIC index, from 0
     * @return e.g. {@code bt1a2b3c4d-0} or {@code twq4ybm2k7xa-0}, at most 15 bytes
     * @throws InvalidNetworkSpecException if the VM ID is invalid or the index is out of range
     */
    public String tapName(String vmId, int nic) {
        TapNames.requireValidVmId(vmId);
        if (nic < 0 || nic >= TapNames.MAX_NICS) {
            throw new InvalidNetworkSpecException("NIC index " + nic + " is out of range: expected 0 to "
                    + (TapNames.MAX_NICS - 1));
        }
        return switch (this) {
            case PREFIX -> TapNames.PREFIX + TapNames.vmPrefix(vmId) + "-" + nic;
            case HASHED -> "tw" + hash(vmId) + "-" + nic;
        };
    }

    private static String hash(String vmId) {
        byte[] digest = Sha256.of(vmId);
        long bits = 0;
        for (int i = 0; i < 8; i++) {
            bits = bits << 8 | (digest[i] & 0xff);
        }
        char[] out = new char[HASH_CHARS];
        for (int i = 0; i < HASH_CHARS; i++) {
            out[i] = BASE32[(int) (bits >>> (64 - 5 * (i + 1))) & 31];
        }
        return new String(out);
    }
}
