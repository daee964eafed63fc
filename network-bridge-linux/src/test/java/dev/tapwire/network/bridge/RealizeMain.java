package dev.tapwire.network.bridge;

import dev.tapwire.network.registry.FileNetworkRegistry;
import java.nio.file.Path;

/** A second process for the tests: realizes a network of a file registry, then prints its bridge. */
public final class RealizeMain {

    private RealizeMain() {
    }

    /**
     * Realizes {@code args[2]} from the file registry under {@code args[1]} with root directory {@code args[0]},
     * waiting until {@code args[3]} (epoch millis) so that several processes start together.
     *
     * @param args root directory, registry state directory, network, start instant
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        NetworkRealizer realizer = new NetworkRealizer(Path.of(args[0]), FileNetworkRegistry.open(Path.of(args[1])));
        long start = Long.parseLong(args[3]);
        while (System.currentTimeMillis() < start) {
            Thread.onSpinWait();
        }
        System.out.println(realizer.realize(args[2], false).bridge());
    }
}
