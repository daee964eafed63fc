package dev.tapwire.network;

import dev.tapwire.network.gc.GcOrchestrator;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A backend that realizes VM NICs on the host, one VM at a time; obtained through
 * {@link NetworkProviders#create}.
 *
 * <p>A provider may keep work running while it is open — the bridge backend, given a registry, follows it so that
 * DNS and DHCP on this host reflect every change to the registry, whichever process makes it. Close it when done
 * (try-with-resources); closing stops that work and leaves every device and address in place.
 */
public interface NetworkProvider extends AutoCloseable {

    /**
     * Returns the provider type this instance was made for, e.g. {@code bridge}.
     *
     * @return the type name
     */
    String type();

    /**
     * Checks that the VM's network is in place (at least NIC 0 exists and is attached as configured).
     *
     * @param vmId the VM's ID
     * @throws DeviceOperationException if the VM's NIC is missing or not set up as this provider made it
     * @throws InvalidNetworkSpecException if the VM ID is malformed
     */
    void verify(String vmId);

    /**
     * Creates the host side of {@code nics} NICs for a VM, or re-creates them after a host reboot.
     *
     * <p>When {@code existing} holds configs (recovery), the same TAP names and MACs are used again.
     * Either every NIC is made or, on failure, those made by this call are removed before it throws.
     *
     * @param vmId the VM's ID
     * @param nics how many NICs, at least 1
     * @param vm what the provider needs to know of the VM
     * @param existing the configs the VM had before, empty for a new VM
     * @return one config per NIC, in NIC order
     * @throws InvalidNetworkSpecException if the VM ID, NIC count or existing configs are invalid
     * @throws DeviceOperationException if a device cannot be created, e.g. its name is taken (EBUSY)
     */
    List<NicConfig> configure(String vmId, int nics, VmSpec vm, List<NicConfig> existing);

    /**
     * Configures many VMs at once — typically every VM of a host after a reboot, from their saved configs.
     * A backend may do it faster than one {@link #configure} per VM (the bridge backend creates every TAP
     * first and sets all of them up in one netlink batch, and on failure removes exactly the TAPs it made).
     * This default configures one VM after another; on failure it deletes the new VMs (those without existing
     * configs) it configured, while recovered VMs keep what they have, which a retry adopts.
     *
     * @param requests the VMs, each at most once
     * @return each VM's configs, in request order
     * @throws InvalidNetworkSpecException if a request is invalid or names a VM twice; nothing is made then
     * @throws DeviceOperationException if a device cannot be created, e.g. its name is taken (EBUSY)
     */
    default List<List<NicConfig>> configureAll(List<ConfigureRequest> requests) {
        ConfigureRequest.requireDistinct(requests);
        List<List<NicConfig>> done = new ArrayList<>(requests.size());
        try {
            for (ConfigureRequest r : requests) {
                done.add(configure(r.vmId(), r.nics(), r.vm(), r.existing()));
            }
        } catch (RuntimeException e) {
            List<String> made = requests.subList(0, done.size()).stream().filter(r -> r.existing().isEmpty())
                    .map(ConfigureRequest::vmId).toList();
            try {
                delete(made);
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        return List.copyOf(done);
    }

    /**
     * Removes the host side of every NIC of the given VMs; unknown VMs are a no-op success.
     *
     * @param vmIds the VMs to clean
     * @return the IDs that were cleaned (including those that had nothing left)
     * @throws DeviceOperationException if devices exist but cannot be removed
     */
    Set<String> delete(Collection<String> vmIds);

    /**
     * Returns what the provider records of a VM's NICs.
     *
     * @param vmId the VM's ID
     * @return the VM's NICs, or empty when the provider keeps no record of it
     */
    Optional<VmNetworks> inspect(String vmId);

    /**
     * Returns what the provider records of every VM.
     *
     * @return the records, never null
     */
    List<VmNetworks> list();

    /**
     * Registers this provider's garbage-collection module with {@code orchestrator}.
     *
     * @param orchestrator the orchestrator to register with
     */
    void registerGc(GcOrchestrator orchestrator);

    /**
     * Stops what the provider runs in the background (the bridge backend's following of its registry); the TAPs,
     * networks and addresses it made stay. Idempotent. This default does nothing.
     *
     * @throws NetworkException never by this default; a backend throws it only if it cannot stop its work
     */
    @Override
    default void close() {
    }
}
