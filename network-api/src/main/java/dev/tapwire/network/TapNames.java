package dev.tapwire.network;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;

/**
 * The TAP naming convention every tapwire provider shares: {@code bt<first 8 characters of the VM ID>-<nic>},
 * as the cocoon hypervisor manager names them, so operators recognise them.
 *
 * <p>VM IDs are 1–128 characters of {@code A-Z a-z 0-9 . _ -}, starting with a letter or digit: every
 * such prefix makes a legal Linux interface name (1–15 bytes, no {@code /}, {@code :} or whitespace).
 */
public final class TapNames {

    /** The prefix of every tapwire TAP name. */
    public static final String PREFIX = "bt";
    /** How many characters of the VM ID a TAP name carries. */
    public static final int VM_PREFIX_LENGTH = 8;
    /** The longest VM ID accepted. */
    public static final int MAX_VM_ID_LENGTH = 128;
    /** The most NICs one VM may have (the index must fit the 15-byte interface name). */
    public static final int MAX_NICS = 64;
    /** The longest Linux interface name, in bytes. */
    public static final int IFNAMSIZ_MAX = 15;

    private TapNames() {
    }

    /**
     * Checks a VM ID.
     *
     * @param vmId the VM ID
     * @return the same ID
     * @throws InvalidNetworkSpecException if it is null, blank, too long or has characters outside
     *     {@code A-Z a-z 0-9 . _ -}, or does not start with a letter or digit
     */
    public static String requireValidVmId(String vmId) {
        if (vmId == null || vmId.isBlank()) {
            throw new InvalidNetworkSpecException("VM ID must not be blank");
        }
        if (vmId.length() > MAX_VM_ID_LENGTH) {
            throw new InvalidNetworkSpecException("VM ID is " + vmId.length() + " characters long; at most "
                    + MAX_VM_ID_LENGTH + " are accepted");
        }
        for (int i = 0; i < vmId.length(); i++) {
            char c = vmId.charAt(i);
            boolean alnum = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9';
            if (!(alnum || (i > 0 && (c == '.' || c == '_' || c == '-')))) {
                throw new InvalidNetworkSpecException("VM ID \"" + vmId + "\" has an invalid character at position "
                        + i + ": expected A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or digit");
            }
        }
        return vmId;
    }

    /**
     * Checks a NIC count.
     *
     * @param nics the number of NICs
     * @return the same count
     * @throws InvalidNetworkSpecException if it is not in 1..{@value #MAX_NICS}
     */
    public static int requireValidNicCount(int nics) {
        if (nics < 1 || nics > MAX_NICS) {
            throw new InvalidNetworkSpecException("NIC count " + nics + " is out of range: expected 1 to " + MAX_NICS);
        }
        return nics;
    }

    /**
     * Checks the arguments of {@link NetworkProvider#configure} up front, as every provider must.
     *
     * @param vmId the VM ID
     * @param nics the NIC count
     * @param vm the VM spec
     * @param existing the configs to recover, or null
     * @return {@code existing}, or an empty list for null
     * @throws InvalidNetworkSpecException if the VM ID, NIC count or spec is invalid, or the existing configs
     *     do not match the NIC count or name other TAPs than the convention gives
     */
    public static List<NicConfig> requireValidConfigure(String vmId, int nics, VmSpec vm, List<NicConfig> existing) {
        return requireValidConfigure(vmId, nics, vm, existing, TapNaming.PREFIX);
    }

    /**
     * Checks the arguments of {@link NetworkProvider#configure} up front for a provider that names TAPs by
     * {@code naming}.
     *
     * @param vmId the VM ID
     * @param nics the NIC count
     * @param vm the VM spec
     * @param existing the configs to recover, or null
     * @param naming the provider's TAP naming scheme
     * @return {@code existing}, or an empty list for null
     * @throws InvalidNetworkSpecException if the VM ID, NIC count or spec is invalid, the spec names more networks
     *     than there are NICs or an invalid network name, or the existing configs do not match the NIC count or
     *     name other TAPs than the scheme gives
     */
    public static List<NicConfig> requireValidConfigure(String vmId, int nics, VmSpec vm, List<NicConfig> existing,
            TapNaming naming) {
        requireValidVmId(vmId);
        requireValidNicCount(nics);
        if (vm == null) {
            throw new InvalidNetworkSpecException("VM spec must not be null");
        }
        if (vm.networks().size() > nics) {
            throw new InvalidNetworkSpecException("VM " + vmId + " names " + vm.networks().size() + " networks "
                    + vm.networks() + " for " + nics + " NIC(s): one network per NIC, in NIC order");
        }
        for (String network : vm.networks()) {
            NetworkNames.requireValid(network);
        }
        List<NicConfig> previous = existing == null ? List.of() : existing;
        if (!previous.isEmpty() && previous.size() != nics) {
            throw new InvalidNetworkSpecException("VM " + vmId + " is recovered with " + previous.size()
                    + " existing NIC config(s) but " + nics + " NIC(s) were asked for");
        }
        for (int i = 0; i < previous.size(); i++) {
            String expected = naming.tapName(vmId, i);
            if (!expected.equals(previous.get(i).tap())) {
                throw new InvalidNetworkSpecException("existing NIC " + i + " of VM " + vmId + " names TAP "
                        + previous.get(i).tap() + ", but tapwire names it " + expected);
            }
        }
        return previous;
    }

    /**
     * Returns the part of a VM ID that TAP names carry: its first 8 characters.
     *
     * @param vmId a valid VM ID
     * @return the prefix
     */
    public static String vmPrefix(String vmId) {
        return vmId.length() <= VM_PREFIX_LENGTH ? vmId : vmId.substring(0, VM_PREFIX_LENGTH);
    }

    /**
     * Returns the TAP name of a VM's NIC.
     *
     * @param vmId the VM ID
     * @param nic the NIC index, from 0
     * @return e.g. {@code bt1a2b3c4d-0}
     * @throws InvalidNetworkSpecException if the VM ID is invalid or the index is out of range
     */
    public static String tapName(String vmId, int nic) {
        return TapNaming.PREFIX.tapName(vmId, nic);
    }

    /**
     * Returns the VM prefix a tapwire TAP name carries.
     *
     * @param tapName an interface name
     * @return the VM prefix, or empty when the name does not follow the convention
     */
    public static Optional<String> vmPrefixOf(String tapName) {
        if (tapName == null || !tapName.startsWith(PREFIX)) {
            return Optional.empty();
        }
        int dash = tapName.lastIndexOf('-');
        if (dash <= PREFIX.length() || dash == tapName.length() - 1) {
            return Optional.empty();
        }
        for (int i = dash + 1; i < tapName.length(); i++) {
            if (!Character.isDigit(tapName.charAt(i))) {
                return Optional.empty();
            }
        }
        String prefix = tapName.substring(PREFIX.length(), dash);
        return prefix.length() <= VM_PREFIX_LENGTH ? Optional.of(prefix) : Optional.empty();
    }

    /**
     * Tells whether a TAP name belongs to the given VM by the naming convention.
     *
     * @param tapName the interface name
     * @param vmId the VM ID
     * @return true when the name is {@code bt<prefix of vmId>-<n>}
     */
    public static boolean belongsTo(String tapName, String vmId) {
        return vmPrefixOf(tapName).map(p -> p.equals(vmPrefix(vmId))).orElse(false);
    }

    /**
     * Returns the error every provider gives when a VM's TAP name is already taken ({@code EBUSY}): TAPs
     * are never shared, whether the holder is another VM whose ID gives the same name, a leftover or a device
     * tapwire did not make.
     *
     * @param operation the call that found the name taken, e.g. {@code TUNSETIFF}
     * @param tap the TAP name
     * @param vmId the VM that wanted it
     * @param naming the provider's naming scheme, to say how to avoid the clash
     * @param cause the kernel's failure, or null for a backend that is not native
     * @return the exception to throw
     */
    public static DeviceOperationException nameTaken(String operation, String tap, String vmId, TapNaming naming,
            Throwable cause) {
        String who = naming == TapNaming.PREFIX
                ? "another VM whose ID starts with \"" + vmPrefix(vmId) + "\" (VM IDs that share their first "
                        + VM_PREFIX_LENGTH + " characters need the provider option " + TapNaming.OPTION + "="
                        + TapNaming.HASHED.optionValue() + ", CLI --tap-names hashed)"
                : "another VM whose ID hashes alike";
        return DeviceOperationException.of(operation, tap, DeviceOperationException.Reason.BUSY, "TAP " + tap
                + " already exists — " + who + ", a leftover, or a device tapwire did not make; it is not shared"
                + " (delete it first if it is a leftover)", cause);
    }

    /**
     * Checks a Linux interface name: 1-15 bytes, no {@code /}, {@code :} or whitespace, not {@code .} or {@code ..}.
     *
     * @param name the name
     * @return the same name
     * @throws InvalidNetworkSpecException naming the rule it breaks
     */
    public static String requireValidInterfaceName(String name) {
        if (name == null || name.isEmpty()) {
            throw new InvalidNetworkSpecException("interface name must not be empty");
        }
        int bytes = name.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > IFNAMSIZ_MAX) {
            throw new InvalidNetworkSpecException("interface name \"" + name + "\" is " + bytes
                    + " bytes long; Linux accepts at most 15 (longer names are silently truncated by some ioctls)");
        }
        if (name.equals(".") || name.equals("..")) {
            throw new InvalidNetworkSpecException("interface name \"" + name + "\" is reserved");
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c == '/' || c == ':' || Character.isWhitespace(c) || Character.isISOControl(c)) {
                throw new InvalidNetworkSpecException("interface name \"" + name
                        + "\" contains '" + c + "'; '/', ':' and whitespace are not allowed");
            }
        }
        return name;
    }
}
