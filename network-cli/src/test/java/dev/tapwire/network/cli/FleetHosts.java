package dev.tapwire.network.cli;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.testkit.NetworkNamespace;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Hosts played by network namespaces: an underlay namespace holding a bridge (with a fixed MAC: a bridge's MAC
 * follows its ports, and one leaving would change it), and per host a namespace joined to it by a veth whose host
 * end, {@code eth0}, holds the host's underlay address {@code 198.51.100.1<n>/24} (a documentation range). Nothing
 * is made in the JVM's own namespace; closing removes it all.
 */
final class FleetHosts implements AutoCloseable {

    /** The MTU of every underlay link. */
    static final int UNDERLAY_MTU = 1500;

    private final NetworkNamespace underlay;
    private final List<NetworkNamespace> hosts = new ArrayList<>();

    private FleetHosts(NetworkNamespace underlay) {
        this.underlay = underlay;
    }

    /**
     * Makes the underlay and {@code count} hosts.
     *
     * @param count how many hosts
     * @return the hosts; close them to remove it all
     * @throws Exception if a namespace or link cannot be made
     */
    static FleetHosts create(int count) throws Exception {
        FleetHosts fleet = new FleetHosts(NetworkNamespace.create());
        try {
            fleet.underlay.run(() -> {
                exec("ip", "link", "add", "ul", "address", "02:00:5e:10:00:01", "type", "bridge");
                exec("ip", "link", "set", "ul", "up");
                return null;
            });
            for (int n = 1; n <= count; n++) {
                NetworkNamespace host = NetworkNamespace.create();
                fleet.hosts.add(host);
                String port = "uh" + n;
                fleet.underlay.run(() -> {
                    exec("ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns",
                            host.path().toString());
                    exec("ip", "link", "set", port, "master", "ul", "up");
                    return null;
                });
                String address = fleet.underlay(n) + "/24";
                host.run(() -> {
                    exec("ip", "addr", "add", address, "dev", "eth0");
                    exec("ip", "link", "set", "eth0", "up");
                    return null;
                });
            }
            return fleet;
        } catch (Exception | Error e) {
            fleet.close();
            throw e;
        }
    }

    /**
     * Returns host {@code n}'s namespace (1-based).
     *
     * @param n the host number
     * @return its namespace
     */
    NetworkNamespace host(int n) {
        return hosts.get(n - 1);
    }

    /**
     * Returns every host's namespace, in order.
     *
     * @return the namespaces
     */
    List<NetworkNamespace> hosts() {
        return List.copyOf(hosts);
    }

    /**
     * Returns host {@code n}'s underlay address.
     *
     * @param n the host number
     * @return {@code 198.51.100.1<n>}
     */
    Ipv4Address underlay(int n) {
        return Ipv4Address.parse("198.51.100.1" + n);
    }

    /**
     * Deletes every link of host {@code n}'s namespace but loopback (its underlay veth and whatever tapwire made
     * there), as a host that dies takes its links with it.
     *
     * @param n the host number
     * @throws Exception if a link cannot be deleted
     */
    void cutOff(int n) throws Exception {
        host(n).run(() -> {
            for (String line : exec("ip", "-o", "link", "show").split("\n")) {
                String[] f = line.split(":\\s+");
                if (f.length >= 2) {
                    String name = f[1].split("@")[0];
                    if (!name.equals("lo")) {
                        exec("ip", "link", "del", name);
                    }
                }
            }
            return null;
        });
    }

    @Override
    public void close() {
        hosts.forEach(NetworkNamespace::close);
        underlay.close();
    }

    /** Runs a command in the calling thread's namespace; returns its output or fails with it. */
    static String exec(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
        return out;
    }
}
