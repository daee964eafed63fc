package dev.tapwire.network.cli;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.bridge.BridgeNetworkProvider;
import dev.tapwire.network.bridge.HostLinks;
import dev.tapwire.network.bridge.NetworkNamespaces;
import dev.tapwire.network.bridge.NetworkRealizer;
import dev.tapwire.network.bridge.TapEndpoint;
import dev.tapwire.network.guest.Guest;
import dev.tapwire.network.guest.GuestFailedException;
import dev.tapwire.network.guest.GuestImage;
import dev.tapwire.network.guest.GuestImageException;
import dev.tapwire.network.registry.FileNetworkRegistry;
import dev.tapwire.network.spi.ProviderSettings;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code tapwire demo}: a tour that works for anyone. In a temporary state directory it makes two named
 * networks and joins workspaces; with root it then realizes the first network in a private network namespace
 * (bridge with the gateway, dnsmasq serving leases and names, isolation rules), attaches a VM per workspace,
 * and — where QEMU is installed — boots two guests that lease their addresses and ping each other by name;
 * without QEMU it proves a frame crosses a TAP (an ARP request gets the kernel's reply). Then it tears
 * everything down: the TAPs, the network's dnsmasq, bridge and rules, the guests, the namespace and the temporary
 * directory, whatever failed on the way.
 *
 * <p>Under {@code --json} the tour's text is left out and one object with its facts is printed at the end
 * ({@link Tour}): the networks, why realization was skipped or what it made (bridge, dnsmasq, the VMs' NIC configs,
 * the frame or the guests' answers, the links), in the command's one JSON shape.
 *
 * <p>Exit status: 0 when the tour ran; 1 when a guest failed (its NIC driver, its DHCP lease, its boot), after
 * one line {@code tapwire: error: guest <name> failed: <why>} on stderr, the rest of the tour and the clean-up.
 * A guest image that cannot be built is not a failure: the tour shows a frame crossing a TAP instead and says
 * why it booted no guests.
 */
@Command(name = "demo",
        description = {"Show tapwire at work in a temporary state directory (and, as root, a private network namespace).",
            "Exit status 1 when a guest failed (one line on stderr says why), after the rest of the tour and the"
                + " clean-up."})
final class DemoCommand implements Callable<Integer> {

    @ParentCommand
    Tapwire root;

    @Spec
    CommandSpec spec;

    @Option(names = "--guest-image", paramLabel = "DIR", description = "Where the guest image (a Debian cloud"
            + " kernel and a busybox initramfs) is kept; it is built from Debian packages when missing or made from"
            + " another kernel package version (default: $XDG_CACHE_HOME/tapwire/guest or ~/.cache/tapwire/guest)."
            + " With QEMU installed, two guests boot on the network and ping each other by name.")
    Path guestImage;

    @Option(names = "--no-guests", description = "Do not boot guests even where QEMU is installed.")
    boolean noGuests;

    /** The guest image to boot, or null (then {@link #guestSkip} says why). */
    private GuestImage image;
    private String guestSkip;
    /** Set when a guest failed: the demo then exits with status 1. */
    private boolean guestFailed;
    /** What the realization part showed, for {@code --json}; null when it was skipped. */
    private Realized realized;

    /** What {@code demo --json} prints: the tour's facts. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Tour(String stateDir, List<NetworkRecord> networks, String skipped, Realized realized) {
    }

    /** The realization part of the tour: what was made in the private namespace and what crossed it. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Realized(String network, String bridge, Integer dnsmasqPid, List<String> hosts, Map<String, NicConfig> vms,
            String frameCrossed, String guestsSkipped, Map<String, String> leases, Map<String, List<String>> commands,
            List<LinkRow> links) {
    }

    /** One link of the namespace at the end of the tour. */
    record LinkRow(String name, String kind, String master, boolean up, int mtu, String alias) {
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = root.json ? new PrintWriter(Writer.nullWriter()) : root.out; // --json: facts, not text
        Path state = Files.createTempDirectory("tapwire-demo-");
        String skipped = null;
        List<NetworkRecord> networks = List.of();
        try {
            FileNetworkRegistry registry = FileNetworkRegistry.open(state);
            out.println("== named networks (state: " + state + ")");
            NetworkRecord frontend = registry.create("frontend");
            registry.create("backend");
            Map<String, Ipv4Address> addresses = new LinkedHashMap<>();
            for (String ws : List.of("web-1", "web-2", "api-1")) {
                addresses.put(ws, registry.join("frontend", ws));
            }
            registry.join("backend", "api-1");
            registry.join("backend", "db-1");
            Table table = new Table("NETWORK", "SUBNET", "GATEWAY", "WORKSPACE", "IP");
            for (NetworkRecord n : registry.list()) {
                n.members().forEach(m -> table.row(n.name(), n.subnet(), n.gateway(), m.workspace(), m.ip()));
            }
            table.print(out);
            out.println("index file: " + registry.indexFile() + " (" + Files.size(registry.indexFile()) + " bytes)");
            out.println();
            networks = registry.list();

            Optional<String> skip = linuxUnavailable();
            if (skip.isPresent()) {
                skipped = skip.get();
                out.println("== Linux realization: skipped — " + skipped);
                return 0;
            }
            prepareGuests();
            // dnsmasq drops root to nobody, which must reach the state directory
            Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwxr-xr-x"));
            NetworkNamespaces.callInNewNamespace(() -> {
                realize(out, state, registry, frontend, addresses);
                return null;
            });
            return guestFailed ? 1 : 0;
        } finally {
            deleteRecursively(state);
            if (root.json) {
                root.printJson(new Tour(state.toString(), networks, skipped, realized));
            }
        }
    }

    private static Optional<String> linuxUnavailable() {
        return BridgeNetworkProvider.unavailabilityCause().or(NetworkNamespaces::unavailabilityCause)
                .map(cause -> cause + "; run as root to see a named network realized")
                .or(NetworkRealizer::unavailabilityCause);
    }

    /** Finds or builds the guest image (before the private namespace: the build downloads from Debian). */
    private void prepareGuests() {
        Optional<String> missing = Guest.unavailabilityCause();
        if (noGuests || missing.isPresent()) {
            guestSkip = noGuests ? "guests not booted: --no-guests" : "no guests booted: " + missing.get();
            return;
        }
        Path dir = guestImage;
        if (dir == null) {
            String cache = root.env("XDG_CACHE_HOME");
            dir = cache != null && !cache.isBlank() ? Path.of(cache, "tapwire", "guest")
                    : Path.of(System.getProperty("user.home"), ".cache", "tapwire", "guest");
        }
        try {
            image = GuestImage.build(dir);
        } catch (GuestImageException e) {
            guestSkip = "no guests booted: " + e.getMessage();
        }
    }

    private void realize(PrintWriter out, Path state, FileNetworkRegistry registry, NetworkRecord network,
            Map<String, Ipv4Address> addresses) throws Exception {
        out.println("== network " + network.name() + " realized in a private network namespace");
        BridgeNetworkProvider provider = new BridgeNetworkProvider(ProviderSettings.of(state).withRegistry(registry));
        NetworkRealizer realizer = provider.realizer().orElseThrow();
        Map<String, NicConfig> nics = new LinkedHashMap<>();
        List<Guest> guests = new ArrayList<>();
        Map<String, String> leases = new LinkedHashMap<>();
        Map<String, List<String>> commands = new LinkedHashMap<>();
        String[] crossed = {null};
        try {
            long start = System.nanoTime();
            for (String ws : addresses.keySet()) { // the VM ID is the workspace here
                nics.put(ws, provider.configure(ws, 1, VmSpec.of(1).withMultiQueue(false)
                        .withNetworks(List.of(network.name())), List.of()).get(0));
            }
            out.printf("attached %d VMs in %.1f ms (the first realizes the network: bridge, dnsmasq, rules)%n",
                    nics.size(), (System.nanoTime() - start) / 1e6);
            NetworkRealizer.Status status = realizer.inspect(network.name()).orElseThrow();
            out.println("bridge " + status.realization().bridge() + " holds gateway " + network.gateway() + "/"
                    + network.subnet().prefixLength() + "; dnsmasq pid " + status.dnsmasqPid().orElse(-1)
                    + " serves leases and names:");
            out.print(realizer.hostsLines(network.name()).indent(2));
            Table table = new Table("VM", "TAP", "GUEST MAC", "GUEST NETWORK");
            nics.forEach((vm, nic) -> table.row(vm, nic.tap(), nic.mac(), nic.network().ip() + "/"
                    + nic.network().prefix() + " via " + nic.network().gateway()));
            table.print(out);

            String first = addresses.keySet().iterator().next();
            if (image == null) {
                crossed[0] = showFrameCrossing(out, network, first, addresses.get(first), nics.get(first));
                out.println("(" + guestSkip + ")");
            } else {
                bootTwoGuests(out, network, List.copyOf(nics.keySet()).subList(0, 2), nics, guests, leases, commands);
            }
            out.println();
            List<LinkRow> links = printLinks(out);
            realized = new Realized(network.name(), status.realization().bridge(),
                    status.dnsmasqPid().isPresent() ? status.dnsmasqPid().getAsInt() : null,
                    realizer.hostsLines(network.name()).lines().toList(), new LinkedHashMap<>(nics), crossed[0],
                    image == null ? guestSkip : null, leases.isEmpty() ? null : leases,
                    commands.isEmpty() ? null : commands, links);
        } finally {
            try {
                guests.forEach(Guest::close);
                tearDown(out, provider, realizer, network, nics);
            } finally {
                provider.close(); // stops following the registry
            }
        }
    }

    /**
     * Without guests: an ARP request written into a workspace's TAP gets the gateway's answer.
     *
     * @return what crossed, in one sentence
     */
    private static String showFrameCrossing(PrintWriter out, NetworkRecord network, String ws, Ipv4Address address,
            NicConfig nic) {
        try (TapEndpoint vmm = TapEndpoint.attach(nic.tap(), false)) {
            byte[] reply = arp(vmm, nic.mac().toBytes(), address, network.gateway()).orElseThrow(() ->
                    new IllegalStateException("no ARP reply from " + network.gateway() + " through " + nic.tap()));
            String crossed = ws + " (" + address + ", " + nic.mac() + ") asked who has " + network.gateway()
                    + " through " + nic.tap() + "; the kernel answered " + MacAddress.of(Arrays.copyOfRange(reply, 22, 28));
            out.println("frame crossed: " + crossed);
            return crossed;
        }
    }

    /**
     * With QEMU: two guests lease their addresses, and the first resolves and pings the second by name. A guest
     * that fails is reported in one line on stderr (the tour goes on; the demo then exits with status 1).
     */
    private void bootTwoGuests(PrintWriter out, NetworkRecord network, List<String> two, Map<String, NicConfig> nics,
            List<Guest> guests, Map<String, String> leases, Map<String, List<String>> commands) throws Exception {
        try {
            for (String vm : two) {
                guests.add(Guest.boot(vm, image, nics.get(vm), null));
            }
            for (Guest guest : guests) {
                String lease = guest.await("TAPWIRE-LEASE .*", Duration.ofMinutes(2)).group();
                leases.put(guest.name(), lease);
                out.println("guest " + guest.name() + " booted under QEMU and leased: " + lease);
                guest.await("TAPWIRE-READY", Duration.ofMinutes(2));
            }
            String peer = two.get(1);
            for (String command : List.of("nslookup " + peer + "." + network.name(), "ping -c 2 " + peer)) {
                out.println(two.get(0) + "$ " + command);
                List<String> answer = guests.get(0).run(command, Duration.ofSeconds(20));
                commands.put(command, answer);
                answer.forEach(l -> out.println("  " + l));
            }
        } catch (GuestFailedException e) {
            guestFailed = true;
            out.flush();
            root.printError(spec.commandLine().getErr(), "guest " + e.guest() + " " + e.reason());
        }
    }

    private static List<LinkRow> printLinks(PrintWriter out) {
        List<LinkRow> links = HostLinks.list().stream().map(l -> new LinkRow(l.name(), l.kind(), l.master().orElse(null),
                l.up(), l.mtu(), l.alias())).toList();
        Table table = new Table("LINK", "KIND", "MASTER", "STATE", "MTU", "ALIAS");
        links.forEach(l -> table.row(l.name(), l.kind().isEmpty() ? "-" : l.kind(), l.master() == null ? "-"
                : l.master(), l.up() ? "up" : "down", l.mtu(), l.alias().isEmpty() ? "-" : l.alias()));
        table.print(out);
        return links;
    }

    private static void tearDown(PrintWriter out, BridgeNetworkProvider provider, NetworkRealizer realizer,
            NetworkRecord network, Map<String, NicConfig> nics) {
        long t0 = System.nanoTime();
        provider.delete(List.copyOf(nics.keySet()));
        realizer.unrealize(network.name());
        out.printf("%nremoved %d TAPs in one batch, then the network's dnsmasq, bridge and rules, in %.1f ms%n",
                nics.size(), (System.nanoTime() - t0) / 1e6);
    }

    private static Optional<byte[]> arp(TapEndpoint vmm, byte[] mac, Ipv4Address from, Ipv4Address to) {
        byte[] f = new byte[42];
        Arrays.fill(f, 0, 6, (byte) 0xff);
        System.arraycopy(mac, 0, f, 6, 6);
        byte[] header = {0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1};
        System.arraycopy(header, 0, f, 12, header.length);
        System.arraycopy(mac, 0, f, 22, 6);
        System.arraycopy(from.toBytes(), 0, f, 28, 4);
        System.arraycopy(to.toBytes(), 0, f, 38, 4);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            vmm.write(f); // a guest retries too: the port forwards once the carrier is seen
            long retry = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300);
            while (System.nanoTime() < retry) {
                Optional<byte[]> frame = vmm.read(Duration.ofMillis(100));
                if (frame.isPresent() && frame.get().length >= 42 && frame.get()[12] == 0x08
                        && frame.get()[13] == 0x06 && frame.get()[21] == 2) {
                    return frame;
                }
            }
        }
        return Optional.empty();
    }

    private static void deleteRecursively(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
