package dev.tapwire.network.bridge;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.bridge.linux.Namespaces;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Hosts as network namespaces for overlay tests: an underlay namespace holding a bridge (fixed MAC), one veth per
 * "host" namespace into it with an address of 198.51.100.0/24, and per host a tapwire-like network bridge
 * {@code tw-team} (gateway address and MAC the same on every host) with one "guest" namespace on it through a veth
 * (MAC, address, MTU and default route set as DHCP would). Namespaces are named {@code tw-overlay-<random>-…} and
 * deleted on {@link #close}; nothing is made in the root namespace.
 */
final class OverlayHosts implements AutoCloseable {

    static final String NETWORK = "team";
    static final String BRIDGE = "tw-team";
    static final Ipv4Address GATEWAY = Ipv4Address.parse("10.44.1.1");
    static final MacAddress GATEWAY_MAC = MacAddress.parse("02:00:00:00:01:01");
    static final int UNDERLAY_MTU = 1400;

    /** One host: its namespace, underlay address, and its guest's namespace, MAC and address. */
    record Host(int number, String ns, Ipv4Address underlay, String guestNs, MacAddress guestMac, Ipv4Address guestIp) {
    }

    private final String prefix = "tw-overlay-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    private final List<String> namespaces = new ArrayList<>();
    private final List<Host> hosts = new ArrayList<>();

    /**
     * Builds the underlay and {@code count} hosts with one guest each.
     *
     * @param count how many hosts
     */
    OverlayHosts(int count) {
        try {
            String u = add("u");
            ip(u, "link", "add", "ul0", "type", "bridge");
            ip(u, "link", "set", "ul0", "address", "02:00:00:00:ff:01", "mtu", String.valueOf(UNDERLAY_MTU), "up");
            for (int i = 1; i <= count; i++) {
                String h = add("h" + i);
                String g = add("g" + i);
                Ipv4Address underlay = Ipv4Address.parse("198.51.100." + i);
                ip(u, "link", "add", "uh" + i, "mtu", String.valueOf(UNDERLAY_MTU), "type", "veth", "peer", "name",
                        "eth0", "netns", h);
                ip(u, "link", "set", "uh" + i, "master", "ul0", "up");
                ip(h, "link", "set", "eth0", "mtu", String.valueOf(UNDERLAY_MTU), "up");
                ip(h, "addr", "add", underlay + "/24", "dev", "eth0");
                ip(h, "link", "add", BRIDGE, "type", "bridge");
                ip(h, "link", "set", BRIDGE, "address", GATEWAY_MAC.toString(), "mtu",
                        String.valueOf(UNDERLAY_MTU - Overlay.IPV4_OVERHEAD), "up");
                ip(h, "addr", "add", GATEWAY + "/24", "dev", BRIDGE);
                MacAddress mac = MacAddress.parse(String.format("02:00:00:00:00:%02x", i + 1));
                Ipv4Address guestIp = Ipv4Address.parse("10.44.1." + (i + 1));
                int mtu = UNDERLAY_MTU - Overlay.IPV4_OVERHEAD;
                ip(h, "link", "add", "gp" + i, "mtu", String.valueOf(mtu), "type", "veth", "peer", "name", "eth0",
                        "netns", g);
                ip(h, "link", "set", "gp" + i, "master", BRIDGE, "up");
                ip(g, "link", "set", "eth0", "address", mac.toString(), "mtu", String.valueOf(mtu), "up");
                ip(g, "addr", "add", guestIp + "/24", "dev", "eth0");
                ip(g, "route", "add", "default", "via", GATEWAY.toString());
                hosts.add(new Host(i, h, underlay, g, mac, guestIp));
            }
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    Host host(int number) {
        return hosts.get(number - 1);
    }

    /** The other hosts' guests, as host {@code number}'s overlay must reach them. */
    List<Overlay.Remote> remotesOf(int number) {
        return hosts.stream().filter(h -> h.number() != number)
                .map(h -> new Overlay.Remote(h.guestMac(), h.guestIp(), h.underlay())).toList();
    }

    /** The namespace's full name for a short one ({@code h1}, {@code g2}, {@code u}). */
    String ns(String shortName) {
        return prefix + "-" + shortName;
    }

    private String add(String shortName) {
        String name = ns(shortName);
        command("ip", "netns", "add", name);
        namespaces.add(name);
        ip(name, "link", "set", "lo", "up");
        return name;
    }

    /** Runs {@code ip -n NS ARGS…}, failing on a non-zero exit; returns its output. */
    static String ip(String ns, String... args) {
        List<String> command = new ArrayList<>(List.of("ip", "-n", ns));
        command.addAll(List.of(args));
        return command(command.toArray(String[]::new));
    }

    /** Runs a command inside a namespace ({@code ip netns exec}), failing on a non-zero exit; returns its output. */
    static String exec(String ns, String... args) {
        List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        command.addAll(List.of(args));
        return command(command.toArray(String[]::new));
    }

    static String command(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(20, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new AssertionError(String.join(" ", command) + " failed: " + out);
            }
            return out;
        } catch (IOException e) {
            throw new AssertionError(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Runs the task on a fresh platform thread inside the namespace and waits for it. */
    static <T> T in(String ns, Callable<T> task) throws Exception {
        FutureTask<T> future = new FutureTask<>(() -> {
            Namespaces.enterNetworkNamespace(Path.of("/run/netns", ns));
            return task.call();
        });
        Thread thread = new Thread(future, "overlay-" + ns);
        thread.start();
        try {
            return future.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception ex) {
                throw ex;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw e;
        } finally {
            thread.join();
        }
    }

    /** Deletes every namespace (their devices go with them). Idempotent. */
    @Override
    public void close() {
        for (String ns : namespaces) {
            try {
                command("ip", "netns", "del", ns);
            } catch (AssertionError e) {
                // gone already
            }
        }
        namespaces.clear();
    }
}
