package dev.tapwire.network.testkit;

import static dev.tapwire.network.testkit.NetworkAssertions.assertThat;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NetworkProviders;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.NicSpec;
import dev.tapwire.network.VmNetworks;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.spi.ProviderSettings;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InMemoryNetworkProviderTest {

    @TempDir
    Path root;

    private InMemoryNetworkProvider memory() {
        InMemoryNetworkProvider.hostOf(root).addBridge("br0");
        return new InMemoryNetworkProvider(ProviderSettings.of(root).with("bridge", "br0"));
    }

    @Test
    void tapsAreVisibleOnTheFakeHostWithTheirBridge() {
        InMemoryNetworkProvider.hostOf(root).addBridge("cni0");
        InMemoryNetworkProvider provider = new InMemoryNetworkProvider(ProviderSettings.of(root).with("bridge", "cni0"));
        List<NicConfig> nics = provider.configure("vm-00001", 2, VmSpec.of(4), List.of());
        assertThat(nics).areAllOnBridge("cni0").followTheNamingOf("vm-00001");
        assertThat(provider.host().taps()).containsOnlyKeys("btvm-00001-0", "btvm-00001-1");
        assertThat(provider.host().taps().get("btvm-00001-0").multiQueue()).isTrue();
        provider.delete(List.of("vm-00001"));
    }

    @Test
    void eachGuestPortReportsThePortSecurityItsSpecAsked() {
        InMemoryNetworkProvider.hostOf(root).addBridge("cni0");
        InMemoryNetworkProvider provider = new InMemoryNetworkProvider(ProviderSettings.of(root).with("bridge", "cni0"));
        Ipv4Address ip = Ipv4Address.parse("10.9.8.7");
        List<NicConfig> nics = provider.configure("vm-00002", 3, VmSpec.of(1).withAddress(1, ip).withoutPortSecurity(2),
                List.of());
        assertThat(provider.host().guestPort(nics.get(0).tap())).contains(new FakeHost.GuestPort(nics.get(0).tap(),
                true, Optional.of(nics.get(0).mac()), Optional.empty()));
        assertThat(provider.host().guestPort(nics.get(1).tap())).contains(new FakeHost.GuestPort(nics.get(1).tap(),
                true, Optional.of(nics.get(1).mac()), Optional.of(ip)));
        assertThat(provider.host().guestPort(nics.get(2).tap())).contains(new FakeHost.GuestPort(nics.get(2).tap(),
                false, Optional.empty(), Optional.empty()));
        provider.delete(List.of("vm-00002"));
        assertThat(provider.host().guestPort(nics.get(0).tap())).isEmpty();
    }

    @Test
    void providersOfOneRootDirectoryShareAHostAsProcessesShareAKernel() {
        InMemoryNetworkProvider a = memory();
        InMemoryNetworkProvider b = memory();
        List<NicConfig> made = a.configure("shared01", 1, VmSpec.of(1), List.of());
        assertThatThrownBy(() -> b.configure("shared01-x", 1, VmSpec.of(1), List.of()))
                .isInstanceOf(DeviceOperationException.class);
        assertThat(b.inspect("shared01")).as("records are the host's, as a state directory's")
                .hasValueSatisfying(r -> assertThat(r.nics()).isEqualTo(made));
        assertThat(b.list()).extracting(VmNetworks::vmId).containsExactly("shared01");
        b.delete(List.of("shared01"));
        assertThat(a.host().taps()).isEmpty();
        assertThat(a.inspect("shared01")).isEmpty();
    }

    @Test
    void anInjectedFailureAtNicTwoRollsBackTheNicsAlreadyMade() {
        InMemoryNetworkProvider provider = memory();
        provider.host().failNextCreate("btrollback-1",
                new DeviceOperationException("TUNSETIFF", "btrollback-1", 12, "ENOMEM", "Cannot allocate memory"));
        assertThatThrownBy(() -> provider.configure("rollback", 3, VmSpec.of(1), List.of()))
                .hasMessage("TUNSETIFF(btrollback-1) failed: ENOMEM (Cannot allocate memory)");
        assertThat(provider.host().taps()).isEmpty();
        assertThat(provider.inspect("rollback")).isEmpty();
        assertThat(provider.configure("rollback", 3, VmSpec.of(1), List.of())).hasNics(3);
        provider.delete(List.of("rollback"));
    }

    @Test
    void failNextFailsTheNextTapCreationByReasonAsTheKernelWouldAndRollsBack() {
        InMemoryNetworkProvider provider = memory();
        provider.configure("first001", 1, VmSpec.of(1), List.of());
        provider.host().failNext(DeviceOperationException.Reason.BUSY);
        assertThatThrownBy(() -> provider.configure("second01", 2, VmSpec.of(1), List.of()))
                .isInstanceOfSatisfying(DeviceOperationException.class, e -> {
                    assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.BUSY);
                    assertThat(e.errno()).isEqualTo(16);
                }).hasMessageStartingWith("TUNSETIFF(btsecond01-0) failed: EBUSY (Device or resource busy");
        assertThat(provider.host().taps()).containsOnlyKeys("btfirst001-0");
        provider.host().failNext(DeviceOperationException.Reason.PERMISSION_DENIED);
        assertThatThrownBy(() -> provider.attach("first001", VmSpec.of(1), NicSpec.onBridge()))
                .isInstanceOfSatisfying(DeviceOperationException.class,
                        e -> assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.PERMISSION_DENIED));
        assertThat(provider.host().taps()).as("the failed attach left nothing").containsOnlyKeys("btfirst001-0");
        assertThat(provider.configure("second01", 2, VmSpec.of(1), List.of())).as("once only").hasNics(2);
        provider.delete(List.of("first001", "second01"));
    }

    @Test
    void aNamedNetworksBridgeExistsOnceANicJoinsItAndABridgeRemovedFailsVerify() {
        InMemoryNetworkProvider provider = memory();
        provider.configure("gone0001", 1, VmSpec.of(1), List.of());
        provider.host().removeBridge("br0");
        assertThatThrownBy(() -> provider.verify("gone0001")).isInstanceOf(DeviceOperationException.class)
                .hasMessageContaining("not attached to bridge br0");
        provider.host().addBridge("br0");
        provider.verify("gone0001");
        provider.delete(List.of("gone0001"));
    }

    @Test
    void aLeftoverTapIsACollisionLikeOnARealHost() {
        InMemoryNetworkProvider provider = memory();
        provider.host().put(new FakeHost.Tap("btleft0ver-0", "someone-else", "br0", false));
        assertThatThrownBy(() -> provider.configure("left0ver", 1, VmSpec.of(1), List.of()))
                .isInstanceOfSatisfying(DeviceOperationException.class,
                        e -> assertThat(e.reason()).isEqualTo(DeviceOperationException.Reason.BUSY))
                .hasMessageStartingWith("TUNSETIFF(btleft0ver-0) failed: EBUSY (Device or resource busy");
        provider.host().remove("btleft0ver-0");
    }

    @Test
    void anUnknownOptionKeyIsRefusedWithTheKnownOnesAsTheBridgeBackendDoes() {
        assertThatThrownBy(() -> NetworkProviders.create("memory", ProviderSettings.of(root).with("tap-name", "hashed")))
                .isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessage("the memory provider has no option tap-name; its options are bridge, group, owner, tap-names");
        assertThatThrownBy(() -> new InMemoryNetworkProvider(ProviderSettings.of(root).with("bridge", "br0")
                .with("owner", "bob")))
                .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("owner=bob");
        InMemoryNetworkProvider.hostOf(root).addBridge("br0");
        assertThat(new InMemoryNetworkProvider(ProviderSettings.of(root).with("bridge", "br0").with("owner", "1000").with("group", "100")
                .with("tap-names", "hashed")).type()).isEqualTo("memory");
    }
}
