package dev.tapwire.network;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/**
 * What one NIC of a VM is to be, as {@link NetworkProvider#attach} takes it: on a named network (the VM joins it) or
 * on the provider's bridge (no named network), with the address it joins with or uses, and whether its port is
 * secured. The MTU is the network's (or the bridge's): a NIC does not choose it.
 *
 * <p>JSON: {@code {"network": "team", "address": "10.44.1.20", "port_security": false}}, {@code network} and
 * {@code address} omitted when null, {@code port_security} true unless given.
 *
 * @param network the named network, or null for a NIC on the provider's bridge
 * @param address on a named network the static address it joins with (a free host of the subnet, or the one the
 *     workspace holds); on no named network the address the NIC uses, so its port allows IPv4 and ARP only from it;
 *     null for the lowest free address (named network) or MAC checks only (no named network)
 * @param portSecurity whether the NIC's port is filtered (its own MAC and address only); see
 *     {@link VmSpec#withoutPortSecurity}
 */
@JsonPropertyOrder({"network", "address", "port_security"})
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record NicSpec(@JsonProperty("network") String network, @JsonProperty("address") Ipv4Address address,
        @JsonProperty("port_security") Boolean portSecurity) {

    /**
     * Validates the spec; a missing {@code port_security} reads as true.
     *
     * @param network the named network, or null for a NIC on the provider's bridge
     * @param address on a named network the static address it joins with (a free host of the subnet, or the one the
     *     workspace holds); on no named network the address the NIC uses, so its port allows IPv4 and ARP only from it;
     *     null for the lowest free address (named network) or MAC checks only (no named network)
     * @param portSecurity whether the NIC's port is filtered (its own MAC and address only); see
     *     {@link VmSpec#withoutPortSecurity}
     * @throws InvalidNetworkSpecException if the network name is not a valid network name (see {@link NetworkNames})
     */
    public NicSpec {
        if (network != null) {
            NetworkNames.requireValid(network);
        }
        portSecurity = portSecurity == null || portSecurity;
    }

    /**
     * Returns a NIC on the provider's bridge (no named network), port-secured, with no address given.
     *
     * @return the spec
     */
    public static NicSpec onBridge() {
        return new NicSpec(null, null, true);
    }

    /**
     * Returns a NIC on a named network, port-secured, joining with the lowest free address.
     *
     * @param network the network's name
     * @return the spec
     * @throws InvalidNetworkSpecException if the name is not a valid network name
     */
    public static NicSpec on(String network) {
        if (network == null) {
            throw new InvalidNetworkSpecException("a NIC's network must not be null; use NicSpec.onBridge() for a NIC"
                    + " on no named network");
        }
        return new NicSpec(network, null, true);
    }

    /**
     * Returns a copy with the NIC's address (see the {@code address} component).
     *
     * @param ip the address
     * @return the new spec
     * @throws InvalidNetworkSpecException if the address is null
     */
    public NicSpec withAddress(Ipv4Address ip) {
        if (ip == null) {
            throw new InvalidNetworkSpecException("a NIC's address must not be null");
        }
        return new NicSpec(network, ip, portSecurity);
    }

    /**
     * Returns a copy with port security off (see {@link VmSpec#withoutPortSecurity}).
     *
     * @return the new spec
     */
    public NicSpec withoutPortSecurity() {
        return new NicSpec(network, address, false);
    }

    /**
     * Returns the NIC {@code nic} of a VM as {@code vm} describes it: its network (if the spec names one for it),
     * address and port security.
     *
     * @param vm the VM's spec
     * @param nic the NIC index
     * @return the NIC's spec
     * @throws InvalidNetworkSpecException if the index is negative
     */
    public static NicSpec of(VmSpec vm, int nic) {
        if (nic < 0) {
            throw new InvalidNetworkSpecException("a NIC index is 0 or more; got " + nic);
        }
        return new NicSpec(nic < vm.networks().size() ? vm.networks().get(nic) : null, vm.address(nic).orElse(null),
                vm.portSecurity(nic));
    }

    /**
     * Returns the spec of a one-NIC VM with this NIC as NIC 0, and the CPU count, queue size, queue mode and
     * workspace of {@code vm}: what a backend configures when it attaches this NIC.
     *
     * @param vm the VM's spec, whose per-NIC settings are not read
     * @return the one-NIC spec
     */
    public VmSpec asOnlyNicOf(VmSpec vm) {
        VmSpec one = new VmSpec(vm.cpu(), vm.queueSize(), vm.multiQueue(), network == null ? java.util.List.of()
                : java.util.List.of(network), vm.workspace());
        if (address != null) {
            one = one.withAddress(0, address);
        }
        return portSecurity ? one : one.withoutPortSecurity(0);
    }

    /**
     * Returns the VM spec that describes these NICs, one {@code NicSpec} per NIC in NIC order, on top of the VM-wide
     * settings of {@code vm} (CPU count, queue size, queue mode, workspace): what
     * {@link NetworkProvider#configure(String, VmSpec, List, List)} hands to the NIC-count form.
     *
     * @param vm the VM-wide settings; its per-NIC settings (networks, addresses, port security) must be unset
     * @param nics the NICs, at least one
     * @return the spec
     * @throws InvalidNetworkSpecException if {@code vm} sets per-NIC settings too (two descriptions of one NIC), there
     *     is no NIC, a NIC is null, or a NIC on a named network follows one on none (a spec names the networks of the
     *     first NICs: configure those first, or attach the NIC later)
     */
    public static VmSpec specOf(VmSpec vm, java.util.List<NicSpec> nics) {
        if (!vm.networks().isEmpty() || !vm.unsecured().isEmpty() || !vm.addresses().isEmpty()) {
            throw new InvalidNetworkSpecException("the VM spec sets networks, addresses or port security of NICs, and"
                    + " so do the NIC specs: give each NIC's settings once, in its NicSpec");
        }
        if (nics == null || nics.isEmpty() || nics.stream().anyMatch(java.util.Objects::isNull)) {
            throw new InvalidNetworkSpecException("configure needs one NicSpec per NIC, at least one; got " + nics);
        }
        java.util.List<String> networks = new java.util.ArrayList<>();
        VmSpec spec = vm;
        for (int i = 0; i < nics.size(); i++) {
            NicSpec nic = nics.get(i);
            if (nic.onNamedNetwork()) {
                if (networks.size() != i) {
                    throw new InvalidNetworkSpecException("NIC " + i + " is on network " + nic.network() + " but NIC "
                            + networks.size() + " is on none: the NICs on named networks come first (attach this one"
                            + " after configuring the others, or reorder the NICs)");
                }
                networks.add(nic.network());
            }
            if (nic.address() != null) {
                spec = spec.withAddress(i, nic.address());
            }
            if (!nic.portSecurity()) {
                spec = spec.withoutPortSecurity(i);
            }
        }
        return spec.withNetworks(networks);
    }

    /**
     * Tells whether the NIC is on a named network.
     *
     * @return true when {@link #network} is set
     */
    public boolean onNamedNetwork() {
        return network != null;
    }
}
