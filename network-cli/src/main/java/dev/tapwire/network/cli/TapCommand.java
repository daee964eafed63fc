package dev.tapwire.network.cli;

import dev.tapwire.network.NicConfig;
import dev.tapwire.network.TapNaming;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.bridge.BridgeNetworkProvider;
import dev.tapwire.network.bridge.BridgeTaps;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.spi.ProviderSettings;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
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

    @Command(name = "create", description = "Create the TAPs of a VM on a bridge and print their NIC configs as JSON.")
    int create(@Parameters(paramLabel = "VMID") String vmId,
            @Option(names = "--bridge", required = true, paramLabel = "BR") String bridge,
            @Option(names = "--nics", defaultValue = "1", paramLabel = "N") int nics,
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
                    + " that share their first 8 characters).") String tapNames) {
        ProviderSettings settings = root.bridgeSettings(bridge).with(TapNaming.OPTION, tapNames);
        if (owner != null) {
            settings = settings.with("owner", owner.toString());
        }
        if (group != null) {
            settings = settings.with("group", group.toString());
        }
        List<NicConfig> configs = new BridgeNetworkProvider(settings)
                .configure(vmId, nics, VmSpec.of(cpu).withMultiQueue(!singleQueue), List.of());
        root.printJson(configs);
        return 0;
    }

    @Command(name = "rm", description = "Remove every TAP of the given VMs (batched; unknown VMs are fine).")
    int rm(@Parameters(paramLabel = "VMID", arity = "1..*") List<String> vmIds) {
        BridgeTaps.cleanup(root.stateDir(), vmIds);
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
            new BridgeNetworkProvider(settings.with("bridge", bridge)).verify(vmId);
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
