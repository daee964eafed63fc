package dev.tapwire.network;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A VM's network record: the spec it was configured with and its NIC configs — what a manager keeps to re-create the
 * VM's NICs after a host reboot ({@link NetworkProvider#recover}) and what the CLI's {@code tap create --record}
 * prints and {@code tap restore} reads.
 *
 * <p>JSON (snake_case, as {@link NicConfig}): {@code {"vm": "vm-1", "cpu": 2, "queue_size": 256, "single_queue":
 * false, "workspace": "web", "networks": ["team"], "no_port_security": [1], "addresses": {"1": "10.9.0.5"}, "nics":
 * [...]}}; {@code workspace} omitted when the VM ID is the workspace, {@code no_port_security} and {@code addresses}
 * when empty. A record without {@code queue_size} (written before it was recorded) reads as
 * {@value VmSpec#DEFAULT_QUEUE_SIZE}.
 *
 * @param vm the VM's ID
 * @param spec the spec the VM's NICs were configured with
 * @param nics its NIC configs, in NIC order; empty before the VM is configured
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonPropertyOrder({"vm", "cpu", "queue_size", "single_queue", "workspace", "networks", "no_port_security",
        "addresses", "nics"})
public record VmRecord(@JsonProperty("vm") String vm, @JsonIgnore VmSpec spec, @JsonProperty("nics") List<NicConfig> nics) {

    /**
     * Validates and copies.
     *
     * @param vm the VM's ID
     * @param spec the spec the VM's NICs were configured with
     * @param nics its NIC configs, in NIC order; empty before the VM is configured
     * @throws InvalidNetworkSpecException if the VM ID is invalid, the spec is null, or the spec names more networks
     *     than the record has NICs (a configured record)
     */
    public VmRecord {
        TapNames.requireValidVmId(vm);
        if (spec == null) {
            throw new InvalidNetworkSpecException("the record of VM " + vm + " needs its spec");
        }
        nics = nics == null ? List.of() : List.copyOf(nics);
        if (!nics.isEmpty() && spec.networks().size() > nics.size()) {
            throw new InvalidNetworkSpecException("the record of VM " + vm + " names " + spec.networks().size()
                    + " networks " + spec.networks() + " for " + nics.size() + " NIC(s): one network per NIC, in NIC"
                    + " order");
        }
    }

    /**
     * Reads the JSON form.
     *
     * @param vm the VM's ID
     * @param cpu its vCPUs
     * @param queueSize its virtio queue size, or null for {@value VmSpec#DEFAULT_QUEUE_SIZE}
     * @param singleQueue whether its VMM takes single-queue TAPs only
     * @param workspace the member name it joins its networks as, or null for the VM ID
     * @param networks its named networks, in NIC order
     * @param noPortSecurity the NICs whose port security is off
     * @param addresses the addresses given to NICs, by NIC index
     * @param nics its NIC configs
     * @return the record
     * @throws InvalidNetworkSpecException if a value is invalid
     */
    @JsonCreator
    public static VmRecord fromJson(@JsonProperty("vm") String vm, @JsonProperty("cpu") int cpu,
            @JsonProperty("queue_size") Integer queueSize, @JsonProperty("single_queue") boolean singleQueue,
            @JsonProperty("workspace") String workspace, @JsonProperty("networks") List<String> networks,
            @JsonProperty("no_port_security") List<Integer> noPortSecurity,
            @JsonProperty("addresses") Map<Integer, Ipv4Address> addresses,
            @JsonProperty("nics") List<NicConfig> nics) {
        VmSpec spec = new VmSpec(cpu, queueSize == null ? VmSpec.DEFAULT_QUEUE_SIZE : queueSize, !singleQueue,
                networks, workspace);
        if (noPortSecurity != null) {
            spec = spec.withoutPortSecurity(noPortSecurity.stream().mapToInt(Integer::intValue).toArray());
        }
        for (Map.Entry<Integer, Ipv4Address> a : new TreeMap<>(addresses == null ? Map.of() : addresses).entrySet()) {
            spec = spec.withAddress(a.getKey(), a.getValue());
        }
        return new VmRecord(vm, spec, nics);
    }

    /**
     * Returns the record of a VM not configured yet.
     *
     * @param vm the VM's ID
     * @param spec its spec
     * @return the record, with no NICs
     * @throws InvalidNetworkSpecException if the VM ID is invalid or the spec null
     */
    public static VmRecord of(String vm, VmSpec spec) {
        return new VmRecord(vm, spec, List.of());
    }

    /**
     * Returns a copy with these NIC configs, as a configure or recovery returned them.
     *
     * @param configured the NIC configs
     * @return the new record
     */
    public VmRecord withNics(List<NicConfig> configured) {
        return new VmRecord(vm, spec, configured);
    }

    /**
     * Returns a copy with a NIC that {@link NetworkProvider#attach} added, so that a recovery re-creates it: its config
     * at its place, and what {@code nic} says in the spec (its network, address, port security).
     *
     * @param nic what the NIC was attached as
     * @param config the config attach returned; its TAP is the VM's NIC {@code index}
     * @param index the NIC's index, as its TAP name says ({@link dev.tapwire.network.spi.NicIndexes#indexOf})
     * @return the new record
     * @throws InvalidNetworkSpecException if the index is not the record's next NIC (the lowest free index of a VM
     *     whose NICs are 0 to n - 1 is n), or the NIC is on a named network while an earlier NIC is on none (a spec
     *     names the networks of the first NICs)
     */
    public VmRecord withAttached(NicSpec nic, NicConfig config, int index) {
        if (index != nics.size()) {
            throw new InvalidNetworkSpecException("NIC " + index + " (" + config.tap() + ") of VM " + vm + " is not the"
                    + " next NIC of its record, which has " + nics.size() + ": record the NICs in NIC order");
        }
        VmSpec next = spec;
        if (nic.onNamedNetwork()) {
            if (spec.networks().size() != index) {
                throw new InvalidNetworkSpecException("NIC " + index + " of VM " + vm + " is on network "
                        + nic.network() + " while NIC " + spec.networks().size() + " is on none: a record names the"
                        + " networks of the first NICs, so this VM's record cannot hold it; attach NICs on named"
                        + " networks before those on none");
            }
            List<String> networks = new ArrayList<>(spec.networks());
            networks.add(nic.network());
            next = next.withNetworks(networks);
        }
        if (nic.address() != null) {
            next = next.withAddress(index, nic.address());
        }
        if (!nic.portSecurity()) {
            next = next.withoutPortSecurity(index);
        }
        List<NicConfig> all = new ArrayList<>(nics);
        all.add(config);
        return new VmRecord(vm, next, all);
    }

    /**
     * Returns the vCPU count of the spec, for the JSON form.
     *
     * @return the count
     */
    @JsonProperty("cpu")
    public int cpu() {
        return spec.cpu();
    }

    /**
     * Returns the virtio queue size of the spec, for the JSON form.
     *
     * @return the queue size
     */
    @JsonProperty("queue_size")
    public int queueSize() {
        return spec.queueSize();
    }

    /**
     * Tells whether the VMM takes single-queue TAPs only, for the JSON form.
     *
     * @return true for Firecracker and other single-queue VMMs
     */
    @JsonProperty("single_queue")
    public boolean singleQueue() {
        return !spec.multiQueue();
    }

    /**
     * Returns the workspace of the spec, for the JSON form.
     *
     * @return the workspace, or null when the VM ID is used
     */
    @JsonProperty("workspace")
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public String workspace() {
        return spec.workspace();
    }

    /**
     * Returns the named networks of the spec, for the JSON form.
     *
     * @return the networks, in NIC order
     */
    @JsonProperty("networks")
    public List<String> networks() {
        return spec.networks();
    }

    /**
     * Returns the NICs whose port security is off, for the JSON form.
     *
     * @return the NIC indexes, ascending
     */
    @JsonProperty("no_port_security")
    @JsonInclude(JsonInclude.Include.NON_EMPTY)
    public List<Integer> noPortSecurity() {
        return List.copyOf(spec.unsecured());
    }

    /**
     * Returns the addresses the spec gives NICs, for the JSON form.
     *
     * @return NIC index to address
     */
    @JsonProperty("addresses")
    @JsonInclude(JsonInclude.Include.NON_EMPTY)
    public Map<Integer, Ipv4Address> addresses() {
        return spec.addresses();
    }
}
