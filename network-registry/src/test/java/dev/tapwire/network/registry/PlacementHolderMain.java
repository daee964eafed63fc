package dev.tapwire.network.registry;

import dev.tapwire.network.HostLease;
import dev.tapwire.network.HostRecord;
import dev.tapwire.network.Ipv4Address;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A child process for {@link FilePlacementsTest}: registers host {@code args[1]} on the state directory
 * {@code args[0]}, places {@code alpha} of {@code team}, prints {@code registered} and waits until it is killed
 * (never closing its lease, as a crashed agent would not).
 */
public final class PlacementHolderMain {

    private PlacementHolderMain() {
    }

    public static void main(String[] args) throws Exception {
        FileNetworkRegistry registry = FileNetworkRegistry.open(Path.of(args[0]));
        HostLease lease = registry.placements().register(new HostRecord(args[1], Ipv4Address.parse("127.0.0.1")),
                Duration.ofSeconds(2));
        lease.place("team", "alpha", dev.tapwire.network.MacAddress.parse("02:00:00:00:00:0a"));
        System.out.println("registered");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
