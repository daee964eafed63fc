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
 * <p>Thread safety: a provider is safe for use by many threads at once, and providers of one root directory (in
 * one process or several) may be used at once: the bridge backend serializes every change under its root
 * directory's GC lock (a file lock, so across processes too), the in-memory fake under its host's monitor. Calls act
 * in the network namespace of the calling thread (the bridge backend; see {@code NetworkNamespace} in the testkit),
 * so a call that must act in another namespace runs on a platform thread in it, never on a virtual thread.
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
     * Checks that the VM's network is in place (at least NIC 0 exists, and every NIC is attached as configured),
     * repairing what the provider derives and can restore, and says what it checked and repaired. A backend also logs
     * each repair as a warning, for operators.
     *
     * @param vmId the VM's ID
     * @return the TAPs checked and what was repaired
     * @throws DeviceOperationException if the VM's NIC is missing or not set up as this provider made it (what cannot
     *     be repaired)
     * @throws InvalidNetworkSpecException if the VM ID is malformed
     */
    VerifyReport verify(String vmId);

    /**
     * Creates the host side of {@code nics} NICs for a VM, or re-creates them after a host reboot.
     *
     * <p>When {@code existing} holds configs (recovery), the same TAP names and MACs are used again; their queue
     * count and size must be what {@code vm} gives (a recovery with another CPU count or queue size is refused, see
     * {@link ConfigureRequest#requireSameQueues}). A VM that has more NICs on this host than {@code nics} is refused:
     * {@link #detach} the extra ones first (a configure never removes a NIC). To add a NIC to a configured VM, use
     * {@link #attach}. Either every NIC is made or, on failure, those made by this call are removed before it throws.
     *
     * @param vmId the VM's ID
     * @param nics how many NICs, at least 1
     * @param vm what the provider needs to know of the VM
     * @param existing the configs the VM had before, empty for a new VM
     * @return one config per NIC, in NIC order
     * @throws InvalidNetworkSpecException if the VM ID, NIC count or existing configs are invalid, the existing
     *     configs have other queues than {@code vm} gives, or the VM has NICs beyond {@code nics} here
     * @throws DeviceOperationException if a device cannot be created, e.g. its name is taken (EBUSY)
     */
    List<NicConfig> configure(String vmId, int nics, VmSpec vm, List<NicConfig> existing);

    /**
     * Re-creates a VM's NICs from its record, typically after a host reboot: {@link #configure} with the record's spec
     * and its NIC configs as the existing ones (same TAP names and MACs, TAPs that still exist adopted). The record's
     * own spec is used, so the VM comes back with the queues it had.
     *
     * @param record the VM's record, with its NIC configs
     * @return the record with the NIC configs of the recovery
     * @throws InvalidNetworkSpecException if the record has no NIC configs, or as {@link #configure} does
     * @throws DeviceOperationException as {@link #configure} does
     */
    default VmRecord recover(VmRecord record) {
        if (record.nics().isEmpty()) {
            throw new InvalidNetworkSpecException("the record of VM " + record.vm() + " has no NIC configs to recover;"
                    + " configure the VM instead");
        }
        return record.withNics(configure(record.vm(), record.nics().size(), record.spec(), record.nics()));
    }

    /**
     * Adds one NIC to a configured (typically running) VM — Docker's {@code network connect}: its TAP is created and
     * set up as {@link #configure} sets up each of the VM's TAPs, and on a named network the VM's workspace joins it.
     * The VM's other NICs are not touched: no TAP of theirs is re-created or changed, no membership of theirs and no
     * port-security entry of theirs changes. The new NIC takes the lowest NIC index the VM has no TAP for (a detached
     * NIC's index is given again), so its TAP is named as that NIC of the VM. All or nothing: on failure the TAP is
     * removed and a network it joined is left.
     *
     * <p>Hand the returned config to the VMM (QEMU {@code netdev_add}/{@code device_add}, cloud-hypervisor
     * {@code add-net}) and add it, at its index, to the configs kept for the VM's recovery.
     *
     * @param vmId the VM's ID; it must have NIC 0 (be configured)
     * @param vm the VM's spec: its CPU count, queue size, queue mode and workspace are read, its per-NIC settings
     *     are not — {@code nic} says what the new NIC is
     * @param nic the new NIC: its named network (or none: the provider's bridge), address and port security
     * @return the new NIC's config
     * @throws InvalidNetworkSpecException if the VM ID is invalid, the VM is not configured, already has a NIC on
     *     that network, has {@link TapNames#MAX_NICS} NICs, or the NIC is on no named network and the provider has
     *     no bridge for such NICs
     * @throws NetworkNotFoundException if the network does not exist
     * @throws AddressInUseException if the static address is held by another member
     * @throws DeviceOperationException if the TAP cannot be created or set up
     */
    NicConfig attach(String vmId, VmSpec vm, NicSpec nic);

    /**
     * Removes one NIC of a VM — Docker's {@code network disconnect}: its TAP and its port-security entry go, the
     * other NICs are not touched. A NIC on a named network leaves it (the workspace's address there is freed and its
     * DNS name goes; a later attach joins again, with the lowest free address unless it asks for one). NIC 0 cannot
     * be detached: it is what makes the VM configured here; {@link #delete} the VM instead. Detach the NIC from the
     * VMM first ({@code device_del}).
     *
     * @param vmId the VM's ID
     * @param tap the TAP name of the NIC, as its config says
     * @throws InvalidNetworkSpecException if the VM ID is invalid or {@code tap} is the VM's NIC 0
     * @throws DeviceOperationException ({@code NO_SUCH_DEVICE}) if the VM has no NIC with that TAP, or if the TAP
     *     cannot be removed
     */
    void detach(String vmId, String tap);

    /**
     * Publishes host ports to ports of one NIC of a VM (Docker's {@code -p}): connections or datagrams to each host
     * port are forwarded to the guest port at the NIC's address — its address on its named network, or the one the
     * manager gave a NIC on no named network. Publishing what the NIC has already is a no-op. The publications go
     * with the NIC ({@link #detach}) and the VM ({@link #delete}), are listed by {@link #inspect}, and are reclaimed
     * by the GC with the VM. All or none: on failure nothing of this call is published.
     *
     * @param vmId the VM's ID
     * @param tap the NIC's TAP, as its config says
     * @param publications the host ports and guest ports
     * @return every publication of that NIC now
     * @throws AddressInUseException if a host port is published already (to any VM, naming it), or two of
     *     {@code publications} claim one host port
     * @throws InvalidNetworkSpecException if the VM ID is invalid, a publication is null, or the NIC has no known
     *     address (a NIC on no named network that was given none)
     * @throws DeviceOperationException ({@code NO_SUCH_DEVICE}) if the VM has no NIC with that TAP
     * @throws NetworkException if the host's publishing cannot be changed
     */
    List<PortPublication> publish(String vmId, String tap, List<PortPublication> publications);

    /**
     * Removes publications of a VM, matched by their host side (protocol, host address, host port; the guest port is
     * not compared); ones it does not have are fine.
     *
     * @param vmId the VM's ID
     * @param publications the publications to remove
     * @return the publications removed
     * @throws InvalidNetworkSpecException if the VM ID is invalid or a publication is null
     * @throws NetworkException if the host's publishing cannot be changed
     */
    List<PortPublication> unpublish(String vmId, List<PortPublication> publications);

    /**
     * Creates the host side of a VM's NICs described one by one — or re-creates them after a host reboot — as
     * {@link #configure(String, int, VmSpec, List)} does with the NIC count and the spec these NICs make ({@link
     * NicSpec#specOf}). The preferred form: each NIC says its network (or none), address and port security once.
     *
     * @param vmId the VM's ID
     * @param vm the VM-wide settings (CPU count, queue size, queue mode, workspace); no per-NIC settings
     * @param nics one description per NIC, in NIC order
     * @param existing the configs the VM had before, empty for a new VM
     * @return one config per NIC, in NIC order
     * @throws InvalidNetworkSpecException as {@link NicSpec#specOf} and the NIC-count form do
     * @throws DeviceOperationException as the NIC-count form does
     */
    default List<NicConfig> configure(String vmId, VmSpec vm, List<NicSpec> nics, List<NicConfig> existing) {
        return configure(vmId, nics == null ? 0 : nics.size(), NicSpec.specOf(vm, nics), existing);
    }

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
     * Returns the named networks this provider realizes on its host, for a manager that brings networks up with
     * options, takes them down or lists them — without casting to a backend.
     *
     * @return the realizations, or empty when the provider serves no named networks (it has no registry)
     */
    Optional<NetworkRealizations> networks();

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
