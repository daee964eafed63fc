package dev.tapwire.network.cli;

import dev.tapwire.network.NicConfig;
import dev.tapwire.network.TapNaming;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.bridge.BridgeNetworkProvider;
import dev.tapwire.network.bridge.BridgeTaps;
import dev.tapwire.network.bridge.NetworkRealizer;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.spi.ProviderSettings;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code tapwire tap ...}: TAP devices on a Linux bridge (needs CAP_NET_ADMIN). */
@Command(name = "tap", description = "Create, verify, list and remove the TAP devices of VMs.",
        mixinStandardHelpOptions = true)
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
                    + " for the VM before (e.g. before a host reboot), as JSON: recovery — the same TAP names and MACs,"
                    + " the VM's TAPs that still exist adopted. Give the same options as when it was created.")
            Path existingFile) {
        List<String> named = networks == null ? List.of() : networks;
        List<NicConfig> existing = existingFile == null ? List.of() : readConfigs(existingFile);
        int count = nics != null ? nics : Math.max(1, named.size());
        if (bridge == null && count > named.size()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--bridge is required for the "
                    + (count - named.size()) + " NIC(s) on no --network");
        }
        ProviderSettings settings = ProviderSettings.of(root.stateDir()).with(TapNaming.OPTION, tapNames);
        if (bridge != null) {
            settings = settings.with("bridge", bridge);
        }
        if (!named.isEmpty()) {
            settings = settings.withRegistry(root.registry());
        }
        if (owner != null) {
            settings = settings.with("owner", owner.toString());
        }
        if (group != null) {
            settings = settings.with("group", group.toString());
        }
        VmSpec vm = VmSpec.of(cpu).withMultiQueue(!singleQueue).withNetworks(named);
        if (workspace != null) {
            vm = vm.withWorkspace(workspace);
        }
        List<NicConfig> configs = new BridgeNetworkProvider(settings).configure(vmId, count, vm, existing);
        root.printJson(configs);
        return 0;
    }

    /** Reads the JSON array of NIC configs that {@code tap create} printed. */
    private List<NicConfig> readConfigs(Path file) {
        try {
            return List.of(Tapwire.JSON.readValue(file.toFile(), NicConfig[].class));
        } catch (IOException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--existing " + file + " is not the JSON"
                    + " array of NIC configs that tap create prints: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    @Command(name = "rm", description = "Remove every TAP of the given VMs (batched; unknown VMs are fine).")
    int rm(@Parameters(paramLabel = "VMID", arity = "1..*") List<String> vmIds) {
        BridgeTaps.cleanup(root.stateDir(), vmIds);
        root.syncRealized();
        return 0;
    }

    @Command(name = "verify", description = "Check that every TAP of a VM is as configured: a persistent TAP with"
            + " tapwire's alias, owned as given, up, on the bridge (any bridge unless --bridge is given).")
    int verify(@Parameters(paramLabel = "VMID") String vmId,
            @Option(names = "--bridge", paramLabel = "BR") String bridge,
            @Option(names = "--owner", paramLabel = "UID") Integer owner,
            @Option(names = "--group", paramLabel = "GID") Integer group,
            @Option(names = "--tap-names", paramLabel = "SCHEME", defaultValue = "prefix") String tapNames) {
        ProviderSettings settings = ProviderSettings.of(root.stateDir()).with(TapNaming.OPTION, tapNames);
        if (owner != null) {
            settings = settings.with("owner", owner.toString());
        }
        if (group != null) {
            settings = settings.with("group", group.toString());
        }
        String on;
        if (bridge != null) {
            settings = settings.with("bridge", bridge);
        }
        if (NetworkRealizer.anyUnder(root.stateDir())) { // named networks: check their realization too
            new BridgeNetworkProvider(settings.withRegistry(root.registry())).verify(vmId);
            on = bridge != null ? bridge : "their bridges";
        } else if (bridge != null) {
            new BridgeNetworkProvider(settings).verify(vmId);
            on = bridge;
        } else {
            on = BridgeNetworkProvider.verifyOnAnyBridge(settings, vmId);
        }
        if (!root.json) {
            root.out.println("ok: the TAPs of " + vmId + " (" + TapNaming.parse(tapNames).tapName(vmId, 0)
                    + ", ...) are as configured, on " + on);
        }
        return 0;
    }

    /** One row of {@code tap ls}. */
    record TapRow(String tap, String vmId, String bridge, String state, boolean multiQueue) {
    }

    @Command(name = "ls", description = "List the TAPs tapwire made, with VM, bridge and state.")
    int ls() {
        List<TapRow> rows = new ArrayList<>();
        try (Rtnetlink netlink = Rtnetlink.open()) {
            List<Link> links = netlink.links();
            Map<Integer, String> names = links.stream().collect(Collectors.toMap(Link::index, Link::name,
                    (a, b) -> a));
            for (Link link : links) {
                if (!BridgeTaps.isTapwireTap(link)) {
                    continue;
                }
                rows.add(new TapRow(link.name(), BridgeTaps.vmIdOf(link).orElseThrow(),
                        names.get(link.masterIndex()), link.isUp() ? "up" : "down",
                        link.tun().map(Link.TunInfo::multiQueue).orElse(false)));
            }
        }
        if (root.json) {
            root.printJson(rows);
            return 0;
        }
        Table table = new Table("TAP", "VM", "BRIDGE", "STATE", "QUEUES");
        rows.forEach(r -> table.row(r.tap(), r.vmId(), r.bridge(), r.state(),
                r.multiQueue() ? "multi" : "single"));
        table.print(root.out);
        return 0;
    }
}
