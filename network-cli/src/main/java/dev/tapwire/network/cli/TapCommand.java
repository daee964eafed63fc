package dev.tapwire.network.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tapwire.network.ConfigureRequest;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.NicSpec;
import dev.tapwire.network.TapNaming;
import dev.tapwire.network.VerifyReport;
import dev.tapwire.network.VmRecord;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.bridge.BridgeNetworkProvider;
import dev.tapwire.network.bridge.BridgeTaps;
import dev.tapwire.network.bridge.NetworkRealizer;
import dev.tapwire.network.spi.NicIndexes;
import dev.tapwire.network.spi.ProviderSettings;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code tapwire tap ...}: TAP devices on a Linux bridge (needs CAP_NET_ADMIN). */
@Command(name = "tap", description = "Create, verify, list and remove the TAP devices of VMs.")
final class TapCommand {

    @ParentCommand
    Tapwire root;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Command(name = "create", description = "Create the TAPs of a VM, on named networks (joining them) or on a"
            + " bridge, and print their NIC configs as JSON.")
    int create(@Parameters(paramLabel = "VMID") String vmId,
            @Option(names = "--network", paramLabel = "NAME", description = "The named network of the next NIC"
                    + " (repeatable, in NIC order): the VM joins it, its TAP goes on the network's bridge (realized on"
                    + " demand) and its config carries the guest's address.") List<String> networks,
            @Option(names = "--workspace", paramLabel = "NAME", description = "The member name the VM joins its"
                    + " networks as (default: the VM ID).") String workspace,
            @Option(names = "--bridge", paramLabel = "BR", description = "The bridge for NICs on no named network"
                    + " (needed only for those).") String bridge,
            @Option(names = "--nics", paramLabel = "N", description = "NIC count (default: the number of"
                    + " --network options, at least 1).") Integer nics,
            @Option(names = "--cpu", defaultValue = "1", paramLabel = "N") int cpu,
            @Option(names = "--single-queue", description = "For VMMs without multi-queue TAPs (Firecracker).")
            boolean singleQueue,
            @Option(names = "--owner", paramLabel = "UID", description = "The user that may attach (default: "
                    + "this user, unless --group is given). With --group too, only that user in that group may.")
            Integer owner,
            @Option(names = "--group", paramLabel = "GID", description = "The group whose members may attach.")
            Integer group,
            @Option(names = "--tap-names", paramLabel = "SCHEME", defaultValue = "prefix", description = "prefix "
                    + "(bt<first 8 characters of the VM ID>-<nic>) or hashed (tw<hash of the whole ID>-<nic>, for IDs"
                    + " that share their first 8 characters).") String tapNames,
            @Option(names = "--existing", paramLabel = "FILE", description = "The NIC configs this command printed"
                    + " for the VM before (e.g. before a host reboot), or the record --record printed: recovery — the"
                    + " same TAP names and MACs, the VM's TAPs that still exist adopted. Give the same options as when"
                    + " it was created.")
            Path existingFile,
            @Option(names = "--record", description = "Print the VM's record (its spec and NIC configs) instead of"
                    + " the bare NIC configs: what tap restore reads after a host reboot.") boolean record,
            @Option(names = "--no-port-security", paramLabel = "NIC", description = "Turn port security off for"
                    + " this NIC (repeatable; 0 is the first): its guest may send with any MAC and address; rogue DHCP"
                    + " server replies and router advertisements are still dropped on a named network.")
            List<Integer> unsecured,
            @Option(names = "--address", paramLabel = "NIC=IPV4", description = "A NIC's address (repeatable), e.g."
                    + " 0=10.44.1.20: for a NIC on a named network the static address it joins with (a free host, or"
                    + " the one it holds); for a NIC on no named network the address it uses, so its port allows IPv4"
                    + " and ARP only from it (without it, only the MAC is checked).") Map<Integer, String> addresses) {
        List<String> named = networks == null ? List.of() : networks;
        List<NicConfig> existing = existingFile == null ? List.of() : readConfigs(existingFile, vmId);
        int count = nics != null ? nics : Math.max(1, named.size());
        if (bridge == null && count > named.size()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--bridge is required for the "
                    + (count - named.size()) + " NIC(s) on no --network");
        }
        Map<Integer, Ipv4Address> given = new TreeMap<>();
        (addresses == null ? Map.<Integer, String>of() : addresses).forEach((nic, ip) -> given.put(nic,
                Ipv4Address.parse(ip)));
        VmRecord wanted = new VmRecord(vmId, spec(cpu, singleQueue, workspace, named, unsecured, given), existing);
        List<NicConfig> configs;
        try (BridgeNetworkProvider provider = new BridgeNetworkProvider(settings(bridge, owner, group, tapNames,
                !named.isEmpty()))) {
            configs = provider.configure(vmId, count, wanted.spec(), existing);
        }
        root.printJson(record ? wanted.withNics(configs) : configs);
        return 0;
    }

    /** The spec the options of tap create say, as its record keeps it. */
    private static VmSpec spec(int cpu, boolean singleQueue, String workspace, List<String> networks,
            List<Integer> unsecured, Map<Integer, Ipv4Address> addresses) {
        VmSpec spec = VmSpec.of(cpu).withMultiQueue(!singleQueue).withNetworks(networks).withoutPortSecurity(
                (unsecured == null ? List.<Integer>of() : unsecured).stream().mapToInt(Integer::intValue).toArray());
        for (Map.Entry<Integer, Ipv4Address> a : addresses.entrySet()) {
            spec = spec.withAddress(a.getKey(), a.getValue());
        }
        return workspace == null ? spec : spec.withWorkspace(workspace);
    }

    @Command(name = "attach", description = "Add one NIC to a configured VM (docker network connect): its TAP, on a"
            + " named network (joining it) or on a bridge, leaving the VM's other NICs as they are; print its NIC"
            + " config, or with --record the VM's record with the NIC added.")
    int attach(@Parameters(paramLabel = "VMID") String vmId,
            @Option(names = "--network", paramLabel = "NAME", description = "The named network of the new NIC.")
            String network,
            @Option(names = "--bridge", paramLabel = "BR", description = "The bridge of a NIC on no named network.")
            String bridge,
            @Option(names = "--address", paramLabel = "IPV4", description = "The NIC's address: on a named network the"
                    + " static address it joins with, on no named network the one it uses.") String address,
            @Option(names = "--no-port-security", description = "Turn port security off for the new NIC.")
            boolean unsecured,
            @Option(names = "--record", paramLabel = "FILE", description = "The VM's record (what tap create --record"
                    + " printed): the VM's spec comes from it, and the record with the new NIC is printed.")
            Path recordFile,
            @Option(names = "--cpu", defaultValue = "1", paramLabel = "N", description = "The VM's vCPUs, as when it"
                    + " was created (without --record).") int cpu,
            @Option(names = "--single-queue", description = "As when the VM was created (without --record).")
            boolean singleQueue,
            @Option(names = "--workspace", paramLabel = "NAME", description = "As when the VM was created (without"
                    + " --record).") String workspace,
            @Option(names = "--owner", paramLabel = "UID") Integer owner,
            @Option(names = "--group", paramLabel = "GID") Integer group,
            @Option(names = "--tap-names", paramLabel = "SCHEME", defaultValue = "prefix") String tapNames) {
        if ((network == null) == (bridge == null)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "give exactly one of --network NAME (a NIC"
                    + " on a named network) and --bridge BR (a NIC on no named network)");
        }
        Optional<VmRecord> saved = Optional.ofNullable(recordFile).map(this::readRecord);
        saved.filter(r -> !r.vm().equals(vmId)).ifPresent(r -> {
            throw new CommandLine.ParameterException(spec.commandLine(), "--record " + recordFile + " is the record"
                    + " of VM " + r.vm() + ", not of " + vmId);
        });
        VmSpec vm = saved.map(VmRecord::spec).orElseGet(() -> spec(cpu, singleQueue, workspace, List.of(), List.of(),
                Map.of()));
        NicSpec nic = network != null ? NicSpec.on(network) : NicSpec.onBridge();
        if (address != null) {
            nic = nic.withAddress(Ipv4Address.parse(address));
        }
        if (unsecured) {
            nic = nic.withoutPortSecurity();
        }
        NicConfig config;
        try (BridgeNetworkProvider provider = new BridgeNetworkProvider(settings(bridge, owner, group, tapNames,
                network != null || NetworkRealizer.anyUnder(root.stateDir())))) {
            config = provider.attach(vmId, vm, nic);
        }
        if (saved.isPresent()) {
            root.printJson(saved.get().withAttached(nic, config, NicIndexes.indexOf(vmId, TapNaming.parse(tapNames),
                    config.tap())));
        } else {
            root.printJson(config);
        }
        return 0;
    }

    @Command(name = "detach", description = "Remove one NIC of a VM (docker network disconnect): its TAP goes, a"
            + " named network it is on is left; the VM's other NICs stay as they are. NIC 0 cannot be detached.")
    int detach(@Parameters(paramLabel = "VMID") String vmId,
            @Parameters(paramLabel = "TAP", description = "The NIC's TAP, as its config says.") String tap,
            @Option(names = "--tap-names", paramLabel = "SCHEME", defaultValue = "prefix") String tapNames) {
        // the registry serves as the provider's reason to exist: a detach needs no bridge of its own
        try (BridgeNetworkProvider provider = new BridgeNetworkProvider(settings(null, null, null, tapNames, true))) {
            provider.detach(vmId, tap);
        }
        if (root.json) {
            root.printJson(Map.of("vm", vmId, "detached", tap));
        }
        return 0;
    }

    @Command(name = "restore", description = "Re-create the TAPs of many VMs after a host reboot, in one batch, from"
            + " the records tap create --record printed (same TAP names and MACs; TAPs that still exist are"
            + " adopted); print the records again. All or nothing for TAPs the call makes.")
    int restore(@Parameters(paramLabel = "FILE", arity = "1..*", description = "Files with one record or a JSON"
                    + " array of records.") List<Path> files,
            @Option(names = "--bridge", paramLabel = "BR", description = "The bridge for NICs on no named network.")
            String bridge,
            @Option(names = "--owner", paramLabel = "UID") Integer owner,
            @Option(names = "--group", paramLabel = "GID") Integer group,
            @Option(names = "--tap-names", paramLabel = "SCHEME", defaultValue = "prefix") String tapNames) {
        List<VmRecord> records = new ArrayList<>();
        for (Path file : files) {
            records.addAll(readRecords(file));
        }
        List<ConfigureRequest> requests = new ArrayList<>();
        for (VmRecord r : records) {
            if (r.nics().isEmpty()) {
                throw new CommandLine.ParameterException(spec.commandLine(), "the record of VM " + r.vm()
                        + " has no NIC configs; restore re-creates VMs that tap create configured");
            }
            if (bridge == null && r.nics().size() > r.networks().size()) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--bridge is required: VM " + r.vm()
                        + " has NICs on no named network");
            }
            requests.add(ConfigureRequest.recover(r.vm(), r.spec(), r.nics()));
        }
        boolean networks = records.stream().anyMatch(r -> !r.networks().isEmpty());
        List<List<NicConfig>> configs;
        try (BridgeNetworkProvider provider = new BridgeNetworkProvider(settings(bridge, owner, group, tapNames,
                networks))) {
            configs = provider.configureAll(requests);
        }
        List<VmRecord> restored = new ArrayList<>();
        for (int i = 0; i < records.size(); i++) {
            restored.add(records.get(i).withNics(configs.get(i)));
        }
        root.printJson(restored);
        return 0;
    }

    private ProviderSettings settings(String bridge, Integer owner, Integer group, String tapNames,
            boolean networks) {
        ProviderSettings settings = ProviderSettings.of(root.stateDir()).with(TapNaming.OPTION, tapNames);
        if (bridge != null) {
            settings = settings.with("bridge", bridge);
        }
        if (networks) {
            settings = settings.withRegistry(root.registry());
        }
        if (owner != null) {
            settings = settings.with("owner", owner.toString());
        }
        if (group != null) {
            settings = settings.with("group", group.toString());
        }
        return settings;
    }

    /** Reads one VM's record. */
    private VmRecord readRecord(Path file) {
        List<VmRecord> records = readRecords(file);
        if (records.size() != 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), file + " holds " + records.size()
                    + " records; give the record of one VM");
        }
        return records.get(0);
    }

    /** Reads one record, or a JSON array of them. */
    private List<VmRecord> readRecords(Path file) {
        try {
            JsonNode tree = Tapwire.JSON.readTree(file.toFile());
            if (tree != null && tree.isArray()) {
                return List.of(Tapwire.JSON.treeToValue(tree, VmRecord[].class));
            }
            if (tree != null && tree.isObject()) {
                return List.of(Tapwire.JSON.treeToValue(tree, VmRecord.class));
            }
            throw new CommandLine.ParameterException(spec.commandLine(), file + " holds no VM record: expected what"
                    + " tap create --record prints (a JSON object with vm, cpu and nics), or an array of them");
        } catch (IOException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), file + " is not a VM record as tap create"
                    + " --record prints it: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    /**
     * Reads a VM's saved configs for {@code --existing}: the JSON array of NIC configs that {@code tap create}
     * printed, or the record that {@code tap create --record} printed (its {@code nics}).
     */
    private List<NicConfig> readConfigs(Path file, String vmId) {
        JsonNode tree;
        try {
            tree = Tapwire.JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw existingError(file, "is not JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        try {
            if (tree != null && tree.isObject() && tree.has("nics")) {
                VmRecord record = Tapwire.JSON.treeToValue(tree, VmRecord.class);
                if (!vmId.equals(record.vm())) {
                    throw existingError(file, "is the record of VM " + record.vm() + ", not of " + vmId);
                }
                return record.nics();
            }
            if (tree != null && tree.isArray() && !tree.isEmpty() && tree.get(0).has("vm")) {
                throw existingError(file, "holds VM records, which tap restore reads; --existing takes one VM's NIC"
                        + " configs (what tap create prints) or its record (what tap create --record prints)");
            }
            if (tree != null && tree.isArray()) {
                return List.of(Tapwire.JSON.treeToValue(tree, NicConfig[].class));
            }
        } catch (IOException e) {
            throw existingError(file, "is neither the NIC configs nor the record of a VM: "
                    + e.getMessage().lines().findFirst().orElse(""));
        }
        throw existingError(file, "is neither the JSON array of NIC configs that tap create prints nor the record"
                + " (a JSON object with vm, cpu and nics) that tap create --record prints");
    }

    private CommandLine.ParameterException existingError(Path file, String what) {
        return new CommandLine.ParameterException(spec.commandLine(), "--existing " + file + " " + what);
    }

    @Command(name = "rm", description = "Remove every TAP of the given VMs (batched; unknown VMs are fine).")
    int rm(@Parameters(paramLabel = "VMID", arity = "1..*") List<String> vmIds) {
        Set<String> removed = BridgeTaps.cleanup(root.stateDir(), vmIds);
        root.syncRealized();
        if (root.json) {
            root.printJson(Map.of("removed", List.copyOf(removed)));
        }
        return 0;
    }

    @Command(name = "verify", description = "Check that every TAP of a VM is as configured: a persistent TAP with"
            + " tapwire's alias, owned as given, up, on the bridge (any bridge unless --bridge is given).")
    int verify(@Parameters(paramLabel = "VMID") String vmId,
            @Option(names = "--bridge", paramLabel = "BR") String bridge,
            @Option(names = "--owner", paramLabel = "UID") Integer owner,
            @Option(names = "--group", paramLabel = "GID") Integer group,
            @Option(names = "--tap-names", paramLabel = "SCHEME", defaultValue = "prefix") String tapNames) {
        boolean networks = NetworkRealizer.anyUnder(root.stateDir()); // named networks: check their realization too
        ProviderSettings settings = settings(bridge, owner, group, tapNames, networks);
        String on;
        VerifyReport report;
        if (networks || bridge != null) {
            try (BridgeNetworkProvider provider = new BridgeNetworkProvider(settings)) {
                report = provider.verify(vmId);
            }
            on = bridge != null ? bridge : "their bridges";
        } else {
            on = BridgeNetworkProvider.verifyOnAnyBridge(settings, vmId);
            report = new VerifyReport(vmId, rows().stream().filter(r -> r.vm().equals(vmId)).map(TapRow::tap)
                    .toList(), List.of());
        }
        if (root.json) {
            root.printJson(report);
            return 0;
        }
        report.repaired().forEach(r -> root.out.println("repaired: " + r));
        root.out.println("ok: the TAPs of " + vmId + " (" + TapNaming.parse(tapNames).tapName(vmId, 0)
                + ", ...) are as configured, on " + on);
        return 0;
    }

    /**
     * One row of {@code tap ls}; JSON in the library's names ({@code vm} as in {@code VmRecord} and {@code
     * VmNetworks}): {@code {"tap","vm","bridge","state","multi_queue"}}.
     */
    record TapRow(String tap, String vm, String bridge, String state, boolean multiQueue) {
    }

    @Command(name = "ls", description = "List the TAPs tapwire made, with VM, bridge and state.")
    int ls() {
        List<TapRow> rows = rows();
        if (root.json) {
            root.printJson(rows);
            return 0;
        }
        Table table = new Table("TAP", "VM", "BRIDGE", "STATE", "QUEUES");
        rows.forEach(r -> table.row(r.tap(), r.vm(), r.bridge(), r.state(),
                r.multiQueue() ? "multi" : "single"));
        table.print(root.out);
        return 0;
    }

    /** Every TAP tapwire made in this namespace, as tap ls shows it. */
    private static List<TapRow> rows() {
        return BridgeTaps.onHost().stream().map(t -> new TapRow(t.name(), t.vmId(), t.bridge(), t.up() ? "up" : "down",
                t.multiQueue())).toList();
    }
}
