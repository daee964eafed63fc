package dev.tapwire.network.spi;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.TapNames;
import dev.tapwire.network.TapNaming;
import java.util.Collection;
import java.util.List;

/**
 * NIC indexes of a VM as its TAP names carry them, for backends that attach and detach single NICs: which index a
 * TAP is, which is the first free one, and the error of a configure that asks for fewer NICs than the VM has. Every
 * backend that uses it refuses and numbers alike.
 */
public final class NicIndexes {

    private NicIndexes() {
    }

    /**
     * Returns the NIC index whose TAP name, under {@code naming}, is {@code tap}.
     *
     * @param vmId the VM
     * @param naming the provider's TAP naming
     * @param tap a TAP name of the VM
     * @return the index, 0 to {@link TapNames#MAX_NICS} - 1
     * @throws InvalidNetworkSpecException if no NIC of the VM has that TAP name
     */
    public static int indexOf(String vmId, TapNaming naming, String tap) {
        for (int i = 0; i < TapNames.MAX_NICS; i++) {
            if (naming.tapName(vmId, i).equals(tap)) {
                return i;
            }
        }
        throw new InvalidNetworkSpecException("TAP " + tap + " is not the TAP of a NIC of VM " + vmId
                + " (tapwire names them " + naming.tapName(vmId, 0) + ", " + naming.tapName(vmId, 1) + ", ...)");
    }

    /**
     * Returns the lowest NIC index whose TAP is not among {@code taps}: where an attached NIC goes.
     *
     * @param vmId the VM
     * @param naming the provider's TAP naming
     * @param taps the TAP names the VM has
     * @return the index
     * @throws InvalidNetworkSpecException if the VM has {@link TapNames#MAX_NICS} NICs already
     */
    public static int firstFree(String vmId, TapNaming naming, Collection<String> taps) {
        for (int i = 0; i < TapNames.MAX_NICS; i++) {
            if (!taps.contains(naming.tapName(vmId, i))) {
                return i;
            }
        }
        throw new InvalidNetworkSpecException("VM " + vmId + " has " + TapNames.MAX_NICS + " NICs, the most a VM may"
                + " have; detach one first");
    }

    /**
     * Returns the error of a configure of {@code nics} NICs for a VM that has more here: a configure never removes a
     * NIC, so it is refused, naming the TAPs to detach.
     *
     * @param vmId the VM
     * @param nics the NIC count asked for
     * @param beyond the VM's TAPs that are not among its first {@code nics}
     * @return the exception to throw
     */
    public static InvalidNetworkSpecException beyond(String vmId, int nics, List<String> beyond) {
        return new InvalidNetworkSpecException("VM " + vmId + " has NIC(s) " + beyond + " here beyond the " + nics
                + " NIC(s) this configure asks for, and a configure never removes a NIC: detach them first"
                + " (NetworkProvider.detach), or configure all of the VM's NICs with their saved configs");
    }
}
