package dev.tapwire.network.bridge;

import dev.tapwire.network.registry.FileNetworkRegistry;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Path;

/** A second process for the tests: realizes a network of a file registry, then prints its bridge. */
public final class RealizeMain {

    private RealizeMain() {
    }

    /**
     * Realizes {@code args[2]} from the file registry under {@code args[1]} with root directory {@code args[0]},
     * waiting until {@code args[3]} (epoch millis) so that several processes start together — or, with
     * {@code args[3]} = {@code cue}, printing {@code ready} once everything but the realize itself is loaded and
     * realizing when a line arrives on standard input (so a test can kill it at a chosen point of the realize).
     *
     * @param args root directory, registry state directory, network, start instant or {@code cue}
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        FileNetworkRegistry registry = FileNetworkRegistry.open(Path.of(args[1]));
        NetworkRealizer realizer = new NetworkRealizer(Path.of(args[0]), registry);
        if (args[3].equals("cue")) {
            NetworkRealizer.unavailabilityCause(); // loads libnftables, probes dnsmasq
            registry.get(args[2]);
            realizer.inspect(args[2]);
            System.out.println("ready");
            System.out.flush();
            new BufferedReader(new InputStreamReader(System.in)).readLine();
        } else {
            long start = Long.parseLong(args[3]);
            while (System.currentTimeMillis() < start) {
                Thread.onSpinWait();
            }
        }
        System.out.println(realizer.realize(args[2], false).bridge());
    }
}
