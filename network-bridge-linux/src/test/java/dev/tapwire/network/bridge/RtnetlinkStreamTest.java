package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.bridge.linux.Interfaces;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.bridge.linux.raw.Linux;
import dev.tapwire.network.testkit.IsolatedNetns;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link Rtnetlink#executeStream}: only the last request of a datagram is acked, yet a failure anywhere in the stream
 * is reported with its request's operation and errno, the requests around it are applied, and the socket stays in
 * step for the next call. In a private network namespace.
 */
@IsolatedNetns
class RtnetlinkStreamTest {

    @Test
    void aFailureInTheMiddleOfAStreamIsReportedAndTheSocketStaysInStep() {
        try (Rtnetlink netlink = Rtnetlink.open(); Interfaces interfaces = Interfaces.open()) {
            netlink.execute(List.of(Rtnetlink.createVxlan("vxs", 7, Ipv4Address.parse("198.51.100.1"), 4789, false,
                    true, true, 1450)));
            int vx = interfaces.index("vxs");
            interfaces.setUp("vxs", true);
            List<Rtnetlink.Request> stream = new ArrayList<>();
            for (int i = 0; i < 300; i++) { // several datagrams
                MacAddress mac = MacAddress.parse(String.format("02:00:00:00:%02x:%02x", i >> 8, i & 0xff));
                stream.add(Rtnetlink.replaceVxlanFdb(vx, "vxs", mac, Ipv4Address.parse("198.51.100.2")));
                if (i == 150) { // no such device: ENODEV, in the middle of the second datagram
                    stream.add(Rtnetlink.replaceNeighbour(999_999, "nosuch", Ipv4Address.parse("10.0.0.1"), mac));
                }
            }
            assertThatThrownBy(() -> netlink.executeStream(stream)).isInstanceOf(DeviceOperationException.class)
                    .hasMessageContaining("RTM_NEWNEIGH 10.0.0.1").hasMessageContaining("nosuch")
                    .hasMessageContaining("ENODEV");
            assertThat(netlink.isUsable()).isTrue();
            assertThat(netlink.neighbours(Linux.AF_BRIDGE, vx).stream().filter(n -> n.master() == 0)).hasSize(300);
            assertThat(netlink.link("vxs")).isPresent();
            netlink.executeStream(List.of(Rtnetlink.deleteVxlanFdb(vx, "vxs", MacAddress.parse("02:00:00:00:00:00")),
                    Rtnetlink.deleteVxlanFdb(vx, "vxs", MacAddress.parse("02:00:00:00:00:00")))); // ENOENT: fine
            assertThat(netlink.neighbours(Linux.AF_BRIDGE, vx).stream().filter(n -> n.master() == 0)).hasSize(299);
        }
    }
}
