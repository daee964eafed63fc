package dev.tapwire.network.cli;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonUnwrapped;
import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.DeviceOperationException.Reason;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.Placement;
import dev.tapwire.network.RegistryCorruptedException;
import dev.tapwire.network.bridge.DisplayText;
import dev.tapwire.network.bridge.HostPort;
import dev.tapwire.network.bridge.NetworkRealizer;
import dev.tapwire.network.bridge.Realization;
import dev.tapwire.network.registry.FileNetworkRegistry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code tapwire network ...}: the registry of named networks. */
@Command(name = "network", description = "Create, list, inspect and remove named networks; join and leave them.")
final class NetworkCommand {

    @ParentCommand
    Tapwire root;

    @Command(name = "create", description = "Create a network (auto-allocated /24 unless --subnet is given).")
    int create(@Parameters(paramLabel = "NAME") String name,
            @Option(names = "--subnet", paramLabel = "CIDR", description = "Explicit subnet, e.g. 10.50.0.0/24.")
            String subnet) {
        NetworkRecord created = subnet == null ? root.registry().create(name)
                : root.registry().create(name, Ipv4Subnet.parse(subnet));
        if (root.json) {
            root.printJson(created); // one object, as join prints its member
        } else {
            print(List.of(created));
        }
        return 0;
    }

    @Command(name = "ls", description = "List networks.")
    int ls() {
        print(root.registry().list());
        return 0;
    }

    /**
     * What {@code network inspect --json} prints: the record's fields, the members' placements on live hosts (the
     * library's {@link Placement} form) and, when realized here, {@code realized}.
     */
    record Inspection(@JsonUnwrapped NetworkRecord network,
            @JsonInclude(JsonInclude.Include.NON_EMPTY) List<Placement> placements,
            @JsonInclude(JsonInclude.Include.NON_NULL) Realized realized) {
    }

    /** How a network is realized on this host. */
    record Realized(String bridge, boolean bridgeUp, boolean nat, boolean portSecurity, boolean isolated,
            List<String> hostPorts, int mtu, boolean overlay, Integer dnsmasqPid, List<String> problems) {
    }

    @Command(name = "inspect", description = "Show one network, its members and whether and how it is realized on"
            + " this host (bridge, dnsmasq, NAT, problems).")
    int inspect(@Parameters(paramLabel = "NAME") String name) {
        NetworkRecord network = root.registry().get(name);
        Optional<NetworkRealizer.Status> status = NetworkRealizer.anyUnder(root.stateDir())
                ? new NetworkRealizer(root.stateDir(), root.registry()).inspect(name) : Optional.empty();
        Realized realized = status.map(s -> new Realized(s.realization().bridge(), s.bridgeUp(), s.realization().nat(),
                s.realization().portSecurity(), s.realization().isolated(),
                s.realization().hostPorts().stream().map(HostPort::toString).toList(), s.realization().mtu(),
                s.realization().overlay(), s.dnsmasqPid().isPresent() ? s.dnsmasqPid().getAsInt() : null,
                s.problems())).orElse(null);
        List<Placement> placements = root.registry().placements().placements(name);
        if (root.json) {
            root.printJson(new Inspection(network, placements, realized));
            return 0;
        }
        Map<String, String> hosts = placements.stream()
                .collect(Collectors.toMap(Placement::workspace, Placement::host, (a, b) -> a));
        print(List.of(network));
        if (!network.members().isEmpty()) {
            root.out.println();
            Table members = new Table("WORKSPACE", "IP", "MAC", "DNS", "HOST");
            for (Member m : network.members()) { // names escaped: bidi, zero-width and control characters as \\uXXXX
                members.row(DisplayText.escape(m.workspace()), m.ip(), MacAddress.forMember(name, m.workspace()),
                        NetworkRealizer.hasDnsName(m.workspace()) ? m.workspace() + "." + name : "(not a DNS label)",
                        DisplayText.escape(hosts.getOrDefault(m.workspace(), "-")));
            }
            members.print(root.out);
        }
        root.out.println();
        if (realized == null) {
            root.out.println("realized: no (tapwire network up " + name + ")");
        } else {
            root.out.println("realized: bridge " + realized.bridge() + (realized.bridgeUp() ? " (up)" : " (NOT up)")
                    + ", dnsmasq " + (realized.dnsmasqPid() == null ? "NOT running" : "pid " + realized.dnsmasqPid())
                    + ", nat " + (realized.nat() ? "on" : "off") + ", port security " + (realized.portSecurity() ? "on"
                            : "off") + ", guest ports " + (realized.isolated() ? "isolated" : "not isolated")
                    + ", host ports " + (realized.hostPorts().isEmpty() ? "none" : String.join(",",
                            realized.hostPorts())) + ", MTU " + realized.mtu()
                    + (realized.overlay() ? ", across hosts (overlay)" : ""));
            realized.problems().forEach(p -> root.out.println("problem: " + p));
        }
        return 0;
    }

    @Command(name = "up", description = "Realize a network on this host (needs root): its bridge with the gateway,"
            + " dnsmasq serving its members' leases and names, isolation from other networks and from the host (guests"
            + " reach only DHCP, DNS and ICMP on their gateway, and the --allow-host-port ports); idempotent. Each up"
            + " sets every option: one left out is off (port security: on).")
    int up(@Parameters(paramLabel = "NAME") String name,
            @Option(names = "--nat", description = "Masquerade its traffic leaving the host (enables IPv4"
                    + " forwarding; the previous value comes back with the last NAT network).") boolean nat,
            @Option(names = "--no-port-security", description = "Let its guests send with any MAC and address (port"
                    + " security is on by default).") boolean noPortSecurity,
            @Option(names = "--isolate", description = "Isolate its guest ports from each other: they reach the"
                    + " gateway, never each other.") boolean isolate,
            @Option(names = "--allow-host-port", paramLabel = "PORT/PROTO", split = ",", description = "A host port"
                    + " its guests may reach on their gateway, e.g. 8080/tcp or 53/udp; repeatable or comma-separated.")
            List<String> hostPorts,
            @Option(names = "--mtu", defaultValue = "1500", description = "The MTU of its bridge, its guests' TAPs"
                    + " and their DHCP leases (option 26), 68-65535 (default: ${DEFAULT-VALUE}).") int mtu) {
        List<HostPort> ports = hostPorts == null ? List.of() : hostPorts.stream().map(HostPort::parse).toList();
        Realization r = new NetworkRealizer(root.stateDir(), root.registry()).realize(name,
                NetworkRealizer.Options.defaults().withNat(nat).withPortSecurity(!noPortSecurity).withIsolated(isolate)
                        .withHostPorts(ports).withMtu(mtu));
        if (root.json) {
            root.printJson(r);
        } else {
            root.out.println("network " + name + " is up on bridge " + r.bridge() + " (gateway " + r.gateway() + "/"
                    + r.subnet().prefixLength() + ", nat " + (r.nat() ? "on" : "off") + ", port security "
                    + (r.portSecurity() ? "on" : "off") + (r.isolated() ? ", guest ports isolated" : "")
                    + (r.hostPorts().isEmpty() ? "" : ", host ports " + r.hostPorts().stream().map(HostPort::toString)
                            .collect(java.util.stream.Collectors.joining(","))) + (r.mtu() == 1500 ? ""
                            : ", MTU " + r.mtu()) + ")");
        }
        return 0;
    }

    @Command(name = "down", description = "Remove a network's realization on this host: dnsmasq, bridge, rules"
            + " (refused while VMs' TAPs are on its bridge). The registry keeps the network.")
    int down(@Parameters(paramLabel = "NAME") String name) {
        boolean removed = new NetworkRealizer(root.stateDir(), root.registry()).unrealize(name);
        if (root.json) {
            root.printJson(new Unrealized(name, removed));
        } else {
            root.out.println(removed ? "network " + name + " is down" : "network " + name + " was not realized here");
        }
        return 0;
    }

    /** What {@code network down --json} prints: whether a realization was there to remove. */
    record Unrealized(String network, boolean removed) {
    }

    /** One line of {@code network hosts}, as {@code --json} prints it: an address and its names. */
    record HostsEntry(Ipv4Address ip, List<String> names) {
    }

    @Command(name = "hosts", description = "Print /etc/hosts lines for a network's members: address,"
            + " workspace.network, workspace.")
    int hosts(@Parameters(paramLabel = "NAME") String name) {
        String lines = new NetworkRealizer(root.stateDir(), root.registry()).hostsLines(name);
        if (root.json) {
            root.printJson(lines.lines().map(l -> l.strip().split("\\s+"))
                    .map(f -> new HostsEntry(Ipv4Address.parse(f[0]), List.of(f).subList(1, f.length))).toList());
        } else {
            root.out.print(lines);
        }
        return 0;
    }

    @Command(name = "rm", description = "Remove a network (refused while it has members, unless --force); its"
            + " realization on this host goes first (refused while VMs' TAPs are on its bridge).")
    int rm(@Parameters(paramLabel = "NAME") String name,
            @Option(names = "--force", description = "Remove even while workspaces are members.") boolean force) {
        NetworkRecord network = root.registry().get(name);
        if (!force && !network.members().isEmpty()) {
            root.registry().remove(name, false); // refused, naming the members: nothing is touched
        }
        if (NetworkRealizer.anyUnder(root.stateDir())) {
            // its bridge and dnsmasq would keep holding the gateway address the next network on this subnet needs
            NetworkRealizer realizer = new NetworkRealizer(root.stateDir(), root.registry());
            if (realizer.inspect(name).isPresent()) {
                try {
                    realizer.unrealize(name);
                } catch (DeviceOperationException e) {
                    throw DeviceOperationException.of("network rm", e.device(), Reason.BUSY, "network " + name
                            + " was not removed: it is realized on this host and " + e.getMessage());
                }
            }
        }
        root.registry().remove(name, force);
        root.syncRealized();
        if (root.json) {
            root.printJson(network); // what was removed, members and all
        }
        return 0;
    }

    @Command(name = "join", description = "Join a workspace to a network and print its address.")
    int join(@Parameters(paramLabel = "NAME") String name, @Parameters(paramLabel = "WORKSPACE") String workspace,
            @Option(names = "--ip", paramLabel = "ADDRESS", converter = AddressConverter.class,
                    description = "Join with this (static) address: a free host of the subnet, not its gateway."
                            + " Without it, the lowest free host.")
            Ipv4Address requested) {
        Ipv4Address ip = requested == null ? root.registry().join(name, workspace)
                : root.registry().join(name, workspace, requested);
        root.syncRealized();
        if (root.json) {
            root.printJson(new Member(workspace.strip(), ip));
        } else {
            root.out.println(ip);
        }
        return 0;
    }

    /** What {@code network leave} and {@code leave-all} print under {@code --json}: the networks it is not in now. */
    record Left(List<String> networks, String workspace) {
    }

    @Command(name = "leave", description = "Remove a workspace from a network (no-op when it is not a member).")
    int leave(@Parameters(paramLabel = "NAME") String name, @Parameters(paramLabel = "WORKSPACE") String workspace) {
        root.registry().leave(name, workspace);
        root.syncRealized();
        if (root.json) {
            root.printJson(new Left(List.of(name), workspace.strip()));
        }
        return 0;
    }

    @Command(name = "leave-all", description = "Remove a workspace from every network.")
    int leaveAll(@Parameters(paramLabel = "WORKSPACE") String workspace) {
        List<String> networks = root.registry().list().stream().filter(n -> n.member(workspace.strip()).isPresent())
                .map(NetworkRecord::name).toList();
        root.registry().leaveAll(workspace);
        root.syncRealized();
        if (root.json) {
            root.printJson(new Left(networks, workspace.strip()));
        }
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
        NetworkIndex index;
        try {
            index = FileNetworkRegistry.parseIndex(Files.readAllBytes(file), file);
        } catch (RegistryCorruptedException e) {
            throw new InvalidNetworkSpecException(notAnIndex(file, e) + "; the registry was not changed", e);
        }
        root.registry().writeIndex(index);
        root.syncRealized();
        if (root.json) {
            root.printJson(index);
        } else {
            root.out.println("imported " + index.networks().size() + " network(s) from " + file);
        }
        return 0;
    }

    /**
     * Says what is wrong with an import file. The registry's message is for its own index ("registry index F is
     * corrupt at …: …; it was left untouched — restore it from a backup"), which is not what FILE is: keep where
     * and what, drop the advice.
     */
    static String notAnIndex(Path file, RegistryCorruptedException e) {
        Matcher m = CORRUPT.matcher(e.getMessage());
        return file + " is not a valid index" + (m.matches() ? m.group(1) : ": " + e.getMessage());
    }

    private static final Pattern CORRUPT = Pattern.compile("registry index .+? is corrupt(.*?); it was left untouched.*",
            Pattern.DOTALL);

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

    /** Reads {@code --ip}: a malformed address is a usage error (status 2) that says what is accepted. */
    static final class AddressConverter implements ITypeConverter<Ipv4Address> {
        @Override
        public Ipv4Address convert(String value) {
            try {
                return Ipv4Address.parse(value);
            } catch (InvalidNetworkSpecException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }
}
