package dev.tapwire.network.bridge;

import java.util.Objects;
import java.util.Optional;

/**
 * One network interface of the calling thread's network namespace, as the kernel reports it (an rtnetlink link
 * dump; never {@code /sys}, which shows the namespace sysfs was mounted in). {@link HostLinks} lists them.
 *
 * @param name the interface name
 * @param kind the link kind ({@code tun}, {@code bridge}, {@code veth}, …), or empty for none (e.g. {@code lo})
 * @param master the name of the bridge it is a port of, or empty
 * @param up whether it is administratively up
 * @param mtu its MTU
 * @param alias its alias ({@code ip link set … alias}), or empty; tapwire marks what it made with one
 * @param tap whether it is a TAP device (layer 2)
 * @param multiQueue whether it is a multi-queue TAP ({@code IFF_MULTI_QUEUE})
 * @param vmId the VM ID of a TAP tapwire made (its alias {@code tapwire:<vm id>}), or empty for any other link
 */
public record HostLink(String name, String kind, Optional<String> master, boolean up, int mtu, String alias,
        boolean tap, boolean multiQueue, Optional<String> vmId) {

    /**
     * Checks the fields.
     *
     * @param name the interface name
     * @param kind the link kind, or empty
     * @param master the bridge it is a port of, or empty
     * @param up whether it is administratively up
     * @param mtu its MTU
     * @param alias its alias, or empty
     * @param tap whether it is a TAP device
     * @param multiQueue whether it is a multi-queue TAP
     * @param vmId the VM ID of a TAP tapwire made, or empty
     * @throws NullPointerException if any field is null
     */
    public HostLink {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(master, "master");
        Objects.requireNonNull(alias, "alias");
        Objects.requireNonNull(vmId, "vmId");
    }

    /**
     * Tells whether this is a TAP tapwire made for some VM.
     *
     * @return true when {@link #vmId()} is present
     */
    public boolean isTapwireTap() {
        return vmId.isPresent();
    }
}
