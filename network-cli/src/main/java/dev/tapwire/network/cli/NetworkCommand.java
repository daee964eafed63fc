package dev.tapwire.network.cli;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.registry.FileNetworkRegistry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code tapwire network ...}: the registry of named networks. */
@Command(name = "network", description = "Create, list, inspect and remove named networks; join and leave them.",
        mixinStandardHelpOptions = true)
final class NetworkCommand {

    @ParentCommand
    Tapwire root;

    @Command(name = "create", description = "Create a network (auto-allocated /24 unless --subnet is given).")
    int create(@Parameters(paramLabel = "NAME") String name,
            @Option(names = "--subnet", paramLabel = "CIDR", description = "Explicit subnet, e.g. 10.50.0.0/24.")
            String subnet) {
        NetworkRecord created = subnet == null ? root.registry().create(name)
                : root.registry().create(name, Ipv4Subnet.parse(subnet));
        print(List.of(created));
        return 0;
    }

    @Command(name = "ls", description = "List networks.")
    int ls() {
        print(root.registry().list());
        return 0;
    }

    @Command(name = "inspect", description = "Show one network and its members.")
    int inspect(@Parameters(paramLabel = "NAME") String name) {
        NetworkRecord network = root.registry().get(name);
        if (root.json) {
            root.printJson(network);
            return 0;
        }
        print(List.of(network));
        if (!network.members().isEmpty()) {
            root.out.println();
            Table members = new Table("WORKSPACE", "IP");
            for (Member m : network.members()) {
                members.row(m.workspace(), m.ip());
            }
            members.print(root.out);
        }
        return 0;
    }

    @Command(name = "rm", description = "Remove a network (refused while it has members, unless --force).")
    int rm(@Parameters(paramLabel = "NAME") String name,
            @Option(names = "--force", description = "Remove even while workspaces are members.") boolean force) {
        root.registry().remove(name, force);
        return 0;
    }

    @Command(name = "join", description = "Join a workspace to a network and print its address.")
    int join(@Parameters(paramLabel = "NAME") String name, @Parameters(paramLabel = "WORKSPACE") String workspace) {
        Ipv4Address ip = root.registry().join(name, workspace);
        if (root.json) {
            root.printJson(new Member(workspace.strip(), ip));
        } else {
            root.out.println(ip);
        }
        return 0;
    }

    @Command(name = "leave", description = "Remove a workspace from a network (no-op when it is not a member).")
    int leave(@Parameters(paramLabel = "NAME") String name, @Parameters(paramLabel = "WORKSPACE") String workspace) {
        root.registry().leave(name, workspace);
        return 0;
    }

    @Command(name = "leave-all", description = "Remove a workspace from every network.")
    int leaveAll(@Parameters(paramLabel = "WORKSPACE") String workspace) {
        root.registry().leaveAll(workspace);
        return 0;
    }

    @Command(name = "export", description = "Print the whole index in the format of index.json (the Go reference's"
            + " bytes), from whichever registry is in use.")
    int export() {
        root.out.print(new String(FileNetworkRegistry.formatIndex(root.registry().readIndex()), StandardCharsets.UTF_8));
        return 0;
    }

    @Command(name = "import", description = "Replace the whole index of the registry in use with FILE (as export"
            + " prints it, or an index.json); the index is validated before anything is written.")
    int importIndex(@Parameters(paramLabel = "FILE") Path file) throws IOException {
        NetworkIndex index = FileNetworkRegistry.parseIndex(Files.readAllBytes(file), file);
        root.registry().writeIndex(index);
        if (!root.json) {
            root.out.println("imported " + index.networks().size() + " network(s) from " + file);
        }
        return 0;
    }

    private void print(List<NetworkRecord> networks) {
        if (root.json) {
            root.printJson(networks);
            return;
        }
        Table table = new Table("NAME", "SUBNET", "GATEWAY", "MEMBERS", "CREATED");
        for (NetworkRecord n : networks) {
            table.row(n.name(), n.subnet(), n.gateway(), n.members().size(), n.createdAtText());
        }
        table.print(root.out);
    }
}
