package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.NicSpec;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.NetworkNamespace;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Attach and detach touch one NIC only, as the kernel and the port-security table show. */
@IsolatedNetns
class AttachDetachTest {

    @TempDir
    Path root;

    private BridgeNetworkProvider provider;
    private PortSecurity security;

    @BeforeEach
    void bridge() {
        NetworkNamespace.createBridge("br0");
        provider = new BridgeNetworkProvider(ProviderSettings.of(root).with("bridge", "br0"));
        security = new PortSecurity(NetworkRealizer.ownerTag(root));
    }

    @Test
    void attachAndDetachLeaveTheOtherTapsTheirIfindexAndTheirPortSecurity() {
        VmSpec spec = VmSpec.of(2).withAddress(0, Ipv4Address.parse("10.9.0.10"));
        List<NicConfig> two = provider.configure("a77ac410", 2, spec, List.of());
        Map<String, Link> before = BridgeNetworkProviderTest.links();
        Map<String, PortSecurity.Entry> admittedBefore = security.admitted();
        assertThat(admittedBefore).containsOnlyKeys(two.get(0).tap(), two.get(1).tap());

        NicConfig third = provider.attach("a77ac410", spec, NicSpec.onBridge()
                .withAddress(Ipv4Address.parse("10.9.0.12")));

        Map<String, Link> after = BridgeNetworkProviderTest.links();
        for (NicConfig nic : two) {
            assertThat(after.get(nic.tap()).index()).as("%s was not re-created", nic.tap())
                    .isEqualTo(before.get(nic.tap()).index());
        }
        assertThat(after.get(third.tap()).masterIndex()).isEqualTo(after.get("br0").index());
        assertThat(after.get(third.tap()).tun().orElseThrow().multiQueue()).isTrue();
        assertThat(security.admitted()).containsAllEntriesOf(admittedBefore)
                .containsEntry(third.tap(), PortSecurity.Entry.of(third.mac(),
                        java.util.Optional.of(Ipv4Address.parse("10.9.0.12"))));
        assertThat(BridgeTaps.portsOf(root, "a77ac410")).as("the record keeps every NIC's entry")
                .isEqualTo(security.admitted());
        provider.verify("a77ac410");

        provider.detach("a77ac410", two.get(1).tap());

        Map<String, Link> detached = BridgeNetworkProviderTest.links();
        assertThat(detached).doesNotContainKey(two.get(1).tap());
        assertThat(detached.get(two.get(0).tap()).index()).isEqualTo(before.get(two.get(0).tap()).index());
        assertThat(detached.get(third.tap()).index()).isEqualTo(after.get(third.tap()).index());
        assertThat(security.admitted()).containsOnlyKeys(two.get(0).tap(), third.tap())
                .containsEntry(two.get(0).tap(), admittedBefore.get(two.get(0).tap()));
        assertThat(BridgeTaps.portsOf(root, "a77ac410")).isEqualTo(security.admitted());
        provider.verify("a77ac410");
        provider.delete(List.of("a77ac410"));
        assertThat(security.admitted()).isEmpty();
    }

    @Test
    void anAttachWithAnotherQueueModeThanTheVmsTapsIsRefused() {
        provider.configure("a77ac411", 1, VmSpec.of(2), List.of());
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> provider.attach("a77ac411",
                VmSpec.of(2).withMultiQueue(false), NicSpec.onBridge()))
                .isInstanceOf(dev.tapwire.network.InvalidNetworkSpecException.class)
                .hasMessageContaining("multi-queue");
        assertThat(BridgeNetworkProviderTest.links()).doesNotContainKey("bta77ac411-1");
        provider.delete(List.of("a77ac411"));
    }

    @Test
    void verifyReportsThePortSecurityItRepairedAndIsCleanOnceRepaired() {
        List<NicConfig> two = provider.configure("a77ac412", 2, VmSpec.of(1), List.of());
        assertThat(provider.verify("a77ac412").repaired()).isEmpty();
        security.revoke(List.of(two.get(1).tap())); // someone removed the element of NIC 1

        dev.tapwire.network.VerifyReport report = provider.verify("a77ac412");

        assertThat(report.taps()).containsExactly(two.get(0).tap(), two.get(1).tap());
        assertThat(report.clean()).isFalse();
        assertThat(report.repaired()).singleElement().asString().startsWith("port security: ")
                .contains(two.get(1).tap());
        assertThat(security.admitted()).containsKey(two.get(1).tap());
        assertThat(provider.verify("a77ac412").clean()).isTrue();
        provider.delete(List.of("a77ac412"));
    }
}
