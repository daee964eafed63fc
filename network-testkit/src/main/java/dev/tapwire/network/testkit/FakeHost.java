package dev.tapwire.network.testkit;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The fake kernel an {@link InMemoryNetworkProvider} creates TAPs on: which TAPs exist, whose they are and
 * which bridge holds them, plus failure injection for testing a manager's error paths.
 */
public final class FakeHost {

    /**
     * A TAP on the fake host.
     *
     * @param name the TAP name
     * @param vmId the VM it was made for
     * @param bridge the bridge it is attached to
     * @param multiQueue whether it was created multi-queue
     */
    public record Tap(String name, String vmId, String bridge, boolean multiQueue) {
    }

    /**
     * What a guest port may send, as the bridge backend's port security filters it.
     *
     * @param tap the TAP name
     * @param filtered whether port security is on for the NIC (off: anything but rogue DHCP servers and routers)
     * @param mac the only source MAC allowed, when filtered
     * @param ip the only IPv4 source allowed, when filtered and the address is known (a named network's, or the
     *     one the manager gave); empty for MAC and ARP checks only
     */
    public record GuestPort(String tap, boolean filtered, Optional<MacAddress> mac, Optional<Ipv4Address> ip) {
    }

    private final Map<String, Tap> taps = new ConcurrentHashMap<>();
    private final Map<String, GuestPort> ports = new ConcurrentHashMap<>();
    private final Map<String, DeviceOperationException> failures = new ConcurrentHashMap<>();
    private final ReentrantLock gcLock = new ReentrantLock();
    private final Map<String, String> workspaces = new ConcurrentHashMap<>(); // VM → workspace on named networks

    /** Creates an empty host. */
    public FakeHost() {
    }

    /**
     * Returns the TAPs that exist, by name.
     *
     * @return a sorted snapshot
     */
    public Map<String, Tap> taps() {
        return new TreeMap<>(taps);
    }

    /**
     * Looks one TAP up.
     *
     * @param name the TAP name
     * @return the TAP, or empty when it does not exist
     */
    public Optional<Tap> tap(String name) {
        return Optional.ofNullable(taps.get(name));
    }

    /**
     * Makes the next creation of {@code tap} fail with {@code failure} (once).
     *
     * @param tap the TAP name
     * @param failure what to throw
     */
    public void failNextCreate(String tap, DeviceOperationException failure) {
        failures.put(tap, failure);
    }

    /**
     * Adds a TAP as if something outside tapwire had made it (a leftover).
     *
     * @param tap the TAP
     */
    public void put(Tap tap) {
        taps.put(tap.name(), tap);
    }

    /**
     * Removes a TAP.
     *
     * @param name the TAP name
     */
    public void remove(String name) {
        taps.remove(name);
        ports.remove(name);
    }

    /**
     * Returns what a TAP's guest may send, as its configure set it.
     *
     * @param tap the TAP name
     * @return the port's settings, or empty when the TAP does not exist
     */
    public Optional<GuestPort> guestPort(String tap) {
        return Optional.ofNullable(ports.get(tap));
    }

    /** Sets what a TAP's guest may send. */
    void putGuestPort(GuestPort port) {
        ports.put(port.tap(), port);
    }

    /** Records the workspace a VM joined its named networks as, or forgets it (empty). */
    void recordWorkspace(String vmId, Optional<String> workspace) {
        workspace.ifPresentOrElse(w -> workspaces.put(vmId, w), () -> workspaces.remove(vmId));
    }

    /**
     * Returns the live VM that holds {@code workspace} on the network whose bridge is {@code bridge}: one with a TAP
     * there and that workspace recorded.
     */
    Optional<String> holderOf(String bridge, String workspace) {
        return taps.values().stream().filter(t -> t.bridge().equals(bridge)).map(Tap::vmId).distinct()
                .filter(vm -> workspace.equals(workspaces.get(vm))).sorted().findFirst();
    }

    Optional<DeviceOperationException> failure(String tap) {
        return Optional.ofNullable(failures.remove(tap));
    }

    ReentrantLock gcLock() {
        return gcLock;
    }
}
