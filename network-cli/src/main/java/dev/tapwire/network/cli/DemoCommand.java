package dev.tapwire.network.cli;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.bridge.BridgeNetworkProvider;
import dev.tapwire.network.bridge.linux.Interfaces;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Namespaces;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.bridge.linux.TapQueue;
import dev.tapwire.network.bridge.linux.Tun;
import dev.tapwire.network.registry.FileNetworkRegistry;
import dev.tapwire.network.spi.ProviderSettings;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

/**
 * {@code tapwire demo}: a tour that works for anyone. In a temporary state directory it makes two named
 * networks and joins workspaces; with root it then builds, in a private network namespace, a bridge that
 * holds the first network's gateway, gives each workspace a TAP, proves a frame crosses (an ARP request
 * written into a TAP gets the kernel's reply), shows the links and tears everything down.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Show tapwire at work in a temporary state directory (and, as root, a private network namespace).")
final class DemoCommand implements Callable<Integer> {

    private static final String BRIDGE = "twdemo0";

    @ParentCommand
    Tapwire root;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = root.out;
        Path state = Files.createTempDirectory("tapwire-demo-");
        try {
            FileNetworkRegistry registry = FileNetworkRegistry.open(state);
            out.println("== named networks (state: " + state + ")");
            NetworkRecord frontend = registry.create("frontend");
            registry.create("backend");
            Map<String, Ipv4Address> addresses = new java.util.LinkedHashMap<>();
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

            Optional<String> skip = linuxUnavailable();
            if (skip.isPresent()) {
                out.println("== Linux realization: skipped — " + skip.get());
                return 0;
            }
            Namespaces.callInNewNetworkNamespace(() -> {
                realize(out, state, frontend, addresses);
                return null;
            });
            return 0;
        } finally {
            deleteRecursively(state);
        }
    }

    private static Optional<String> linuxUnavailable() {
        return BridgeNetworkProvider.unavailabilityCause().or(Namespaces::unavailabilityCause)
                .map(cause -> cause + "; run as root to see TAPs on a bridge");
    }

    private void realize(PrintWriter out, Path state, NetworkRecord network, Map<String, Ipv4Address> addresses) {
        out.println("== Linux realization in a private network namespace");
        try (Interfaces interfaces = Interfaces.open()) {
            interfaces.createBridge(BRIDGE);
            interfaces.setIpv4(BRIDGE, network.gateway(), network.subnet().prefixLength());
            interfaces.setUp(BRIDGE, true);
        }
        out.println("bridge " + BRIDGE + " holds gateway " + network.gateway() + "/" + network.subnet().prefixLength());
        BridgeNetworkProvider provider = new BridgeNetworkProvider(ProviderSettings.of(state).with("bridge", BRIDGE));
        Map<String, NicConfig> nics = new java.util.LinkedHashMap<>();
        long start = System.nanoTime();
        for (String ws : addresses.keySet()) {
            nics.put(ws, provider.configure(ws, 1, VmSpec.of(1), List.of()).get(0));
        }
        out.printf("made %d TAPs in %.1f ms%n", nics.size(), (System.nanoTime() - start) / 1e6);

        String ws = addresses.keySet().iterator().next();
        NicConfig nic = nics.get(ws);
        try (TapQueue vmm = Tun.attach(nic.tap(), false)) {
            Optional<byte[]> reply = arp(vmm, nic.mac().toBytes(), addresses.get(ws), network.gateway());
            if (reply.isEmpty()) {
                throw new IllegalStateException("no ARP reply from " + network.gateway() + " through " + nic.tap());
            }
            byte[] mac = Arrays.copyOfRange(reply.get(), 22, 28);
            out.println("frame crossed: " + ws + " (" + addresses.get(ws) + ", " + nic.mac() + ") asked who has "
                    + network.gateway() + " through " + nic.tap() + "; the kernel answered "
                    + dev.tapwire.network.MacAddress.of(mac));
        }
        out.println();
        try (Rtnetlink netlink = Rtnetlink.open()) {
            List<Link> links = netlink.links();
            Map<Integer, String> names = links.stream().collect(Collectors.toMap(Link::index, Link::name));
            Table table = new Table("LINK", "KIND", "MASTER", "STATE", "MTU", "ALIAS");
            links.forEach(l -> table.row(l.name(), l.kind().isEmpty() ? "-" : l.kind(),
                    names.getOrDefault(l.masterIndex(), "-"), l.isUp() ? "up" : "down", l.mtu(),
                    l.alias().isEmpty() ? "-" : l.alias()));
            table.print(out);
        }
        start = System.nanoTime();
        provider.delete(List.copyOf(addresses.keySet()));
        out.printf("%nremoved %d TAPs in one batch in %.1f ms; the namespace goes with this thread%n", nics.size(),
                (System.nanoTime() - start) / 1e6);
    }

    private static Optional<byte[]> arp(TapQueue vmm, byte[] mac, Ipv4Address from, Ipv4Address to) {
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
            vmm.writeFrame(f); // a guest retries too: the port forwards once the carrier is seen
            long retry = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300);
            while (System.nanoTime() < retry) {
                Optional<byte[]> frame = vmm.readFrame(100);
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
