package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.bridge.linux.Interfaces;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.bridge.linux.Tun;
import dev.tapwire.network.testkit.IsolatedNetns;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/** The ioctl and rtnetlink layer on its own, in a private network namespace. */
@IsolatedNetns
class LinuxLayerTest {

    @Test
    void bridgesAreCreatedAttachedAndDeletedThroughIoctls() {
        try (Interfaces interfaces = Interfaces.open(); Rtnetlink netlink = Rtnetlink.open()) {
            interfaces.createBridge("brx");
            Tun.createPersistentTap("tapx", false, OptionalInt.empty(), OptionalInt.empty());
            assertThat(interfaces.driver("brx")).isEqualTo("bridge");
            assertThat(interfaces.driver("tapx")).isEqualTo("tun");

            interfaces.addBridgePort("brx", interfaces.index("tapx"));
            assertThat(netlink.link("tapx").orElseThrow().masterIndex()).isEqualTo(interfaces.index("brx"));
            interfaces.removeBridgePort("brx", interfaces.index("tapx"));
            assertThat(netlink.link("tapx").orElseThrow().masterIndex()).isZero();

            interfaces.setUp("tapx", true);
            assertThat(interfaces.flags("tapx") & 1).isEqualTo(1);
            interfaces.setUp("tapx", false);
            assertThat(interfaces.flags("tapx") & 1).isZero();

            interfaces.setMtu("tapx", 1280);
            interfaces.setTxQueueLength("tapx", 321);
            MacAddress mac = MacAddress.parse("02:11:22:33:44:55");
            interfaces.setMac("tapx", mac);
            assertThat(interfaces.mtu("tapx")).isEqualTo(1280);
            assertThat(interfaces.txQueueLength("tapx")).isEqualTo(321);
            assertThat(interfaces.mac("tapx")).isEqualTo(mac);
            Link link = netlink.link("tapx").orElseThrow();
            assertThat(link.mtu()).isEqualTo(1280);
            assertThat(link.txQueueLength()).isEqualTo(321);
            assertThat(link.mac()).isEqualTo(mac);

            interfaces.deleteBridge("brx");
            assertThat(netlink.link("brx")).isEmpty();
        }
    }

    @Test
    void failuresNameTheCallTheDeviceAndTheErrno() {
        try (Interfaces interfaces = Interfaces.open()) {
            assertThatThrownBy(() -> interfaces.index("ghost0"))
                    .isInstanceOfSatisfying(DeviceOperationException.class, e -> {
                        assertThat(e.errno()).isEqualTo(19);
                        assertThat(e.operation()).isEqualTo("SIOCGIFINDEX");
                        assertThat(e.device()).isEqualTo("ghost0");
                        assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.NO_SUCH_DEVICE);
                    })
                    .hasMessage("SIOCGIFINDEX(ghost0) failed: ENODEV (No such device)");
            interfaces.createBridge("bry");
            assertThatThrownBy(() -> interfaces.createBridge("bry"))
                    .isInstanceOfSatisfying(DeviceOperationException.class,
                            e -> assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.ALREADY_EXISTS));
        }
        Tun.createPersistentTap("tapy", false, OptionalInt.empty(), OptionalInt.empty());
        assertThatThrownBy(() -> Tun.createPersistentTap("tapy", false, OptionalInt.empty(), OptionalInt.empty()))
                .hasMessageStartingWith("TUNSETIFF(tapy) failed: EBUSY (Device or resource busy");
    }

    @Test
    void interfaceNamesAreValidatedInsteadOfSilentlyTruncated() {
        try (Interfaces interfaces = Interfaces.open()) {
            for (String bad : List.of("sixteen-chars-xx", "", "a/b", "a:b", "a b", "..")) {
                assertThatThrownBy(() -> interfaces.createBridge(bad)).isInstanceOf(InvalidNetworkSpecException.class);
            }
        }
        assertThatThrownBy(() -> Tun.createPersistentTap("sixteen-chars-xx", false, OptionalInt.empty(),
                OptionalInt.empty())).isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("at most 15");
    }

    @Test
    void aGroupOfLinksIsDeletedWithOneMessage() {
        List<Rtnetlink.Request> regroup = new ArrayList<>();
        try (Interfaces interfaces = Interfaces.open(); Rtnetlink netlink = Rtnetlink.open()) {
            for (int i = 0; i < 40; i++) {
                String name = "grp" + i;
                Tun.createPersistentTap(name, i % 2 == 0, OptionalInt.empty(), OptionalInt.empty());
                regroup.add(Rtnetlink.setGroup(interfaces.index(name), name, 4242));
            }
            Tun.createPersistentTap("bystander", false, OptionalInt.empty(), OptionalInt.empty());
            netlink.execute(regroup);
            assertThat(netlink.links()).filteredOn(l -> l.group() == 4242).hasSize(40);
            netlink.execute(List.of(Rtnetlink.deleteGroup(4242)));
            assertThat(netlink.links()).extracting(Link::name).noneMatch(n -> n.startsWith("grp")).contains("bystander");
        }
    }

    @Test
    void netlinkErrorsCarryTheKernelsExtendedAckText() {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            Tun.createPersistentTap("big0", false, OptionalInt.empty(), OptionalInt.empty());
            int index = netlink.link("big0").orElseThrow().index();
            assertThatThrownBy(() -> netlink.execute(List.of(Rtnetlink.bringUp(index, "big0", 1_000_000, null))))
                    .isInstanceOfSatisfying(DeviceOperationException.class, e -> assertThat(e.errno()).isEqualTo(22))
                    .hasMessageStartingWith("RTM_SETLINK mtu+alias+up(big0) failed: EINVAL (Invalid argument: ")
                    .hasMessageContaining("mtu");
        }
    }

    @Test
    void aPipelinedBatchReportsTheFirstFailureAfterReadingEveryAck() {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            Tun.createPersistentTap("okay0", false, OptionalInt.empty(), OptionalInt.empty());
            int okay = netlink.link("okay0").orElseThrow().index();
            assertThatThrownBy(() -> netlink.execute(List.of(Rtnetlink.setGroup(okay, "okay0", 7),
                    Rtnetlink.setGroup(99_999, "ghost", 7), Rtnetlink.setGroup(okay, "okay0", 8))))
                    .isInstanceOfSatisfying(DeviceOperationException.class, e -> assertThat(e.device()).isEqualTo("ghost"));
            assertThat(netlink.link("okay0").orElseThrow().group()).isEqualTo(8); // the rest still ran
            assertThat(netlink.links()).isNotEmpty(); // and the socket is still in step
        }
    }
}
