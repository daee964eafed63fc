package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.bridge.linux.Interfaces;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.NetworkNamespace;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The public face of the Linux layer — {@link HostLinks} and {@link TapEndpoint} — on real TAPs and a bridge. */
@IsolatedNetns
class HostLinksTest {

    @TempDir
    Path root;

    BridgeNetworkProvider provider;

    @BeforeEach
    void bridge() {
        NetworkNamespace.createBridge("br0");
        provider = new BridgeNetworkProvider(ProviderSettings.of(root).with("bridge", "br0"));
    }

    @Test
    void tapwireTapsAreListedWithTheirVmBridgeStateAndQueues() {
        List<NicConfig> multi = provider.configure("vm-hl01", 2, VmSpec.of(4), List.of());
        NicConfig single = provider.configure("fc-hl01", 1, VmSpec.of(1).withMultiQueue(false), List.of()).get(0);

        Map<String, HostLink> taps = HostLinks.tapwireTaps().stream()
                .collect(Collectors.toMap(HostLink::name, Function.identity()));
        assertThat(taps).containsOnlyKeys(multi.get(0).tap(), multi.get(1).tap(), single.tap());
        assertThat(taps.get(multi.get(1).tap())).satisfies(t -> {
            assertThat(t.vmId()).contains("vm-hl01");
            assertThat(t.master()).contains("br0");
            assertThat(t.up()).isTrue();
            assertThat(t.tap()).isTrue();
            assertThat(t.multiQueue()).isTrue();
            assertThat(t.kind()).isEqualTo("tun");
            assertThat(t.alias()).isEqualTo("tapwire:vm-hl01");
        });
        assertThat(taps.get(single.tap()).multiQueue()).isFalse();
        assertThat(taps.get(single.tap()).vmId()).contains("fc-hl01");

        Map<String, HostLink> all = HostLinks.list().stream().collect(Collectors.toMap(HostLink::name, l -> l));
        assertThat(all).containsKeys("lo", "br0", single.tap());
        assertThat(all.get("br0").kind()).isEqualTo("bridge");
        assertThat(all.get("br0").vmId()).isEmpty();
        assertThat(all.get("br0").master()).isEmpty();
        assertThat(all.get("lo").isTapwireTap()).isFalse();

        provider.delete(List.of("vm-hl01"));
        assertThat(HostLinks.tapwireTaps()).extracting(HostLink::name).containsExactly(single.tap());
    }

    @Test
    void aTapEndpointCarriesFramesAsTheGuestsNic() {
        try (Interfaces interfaces = Interfaces.open()) {
            interfaces.setIpv4("br0", Ipv4Address.parse("10.44.1.1"), 24);
        }
        NicConfig nic = provider.configure("hl0ep001", 1, VmSpec.of(1), List.of()).get(0);
        byte[] request = Frames.arp(Frames.BROADCAST, nic.mac(), 1, nic.mac(), Ipv4Address.parse("10.44.1.2"),
                dev.tapwire.network.MacAddress.of(new byte[6]), Ipv4Address.parse("10.44.1.1"));
        try (TapEndpoint guest = TapEndpoint.attach(nic.tap(), false)) {
            Optional<byte[]> reply = Optional.empty();
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (reply.isEmpty() && System.nanoTime() < deadline) { // the port forwards once the carrier is seen
                guest.write(request);
                reply = guest.read(Duration.ofMillis(300)).filter(f -> f.length >= 42 && f[12] == 0x08 && f[13] == 0x06
                        && f[21] == 2);
            }
            assertThat(reply).as("the bridge's ARP reply, read at the guest's end").isPresent();
            assertThat(Arrays.copyOfRange(reply.get(), 0, 6)).isEqualTo(nic.mac().toBytes());
            assertThat(Arrays.copyOfRange(reply.get(), 28, 32)).containsExactly(10, 44, 1, 1);

            assertThatThrownBy(() -> guest.read(Duration.ofMillis(-1))).isInstanceOf(InvalidNetworkSpecException.class)
                    .hasMessageContaining("must not be negative");
        }
        assertThatThrownBy(() -> TapEndpoint.attach(nic.tap(), true)).as("a single-queue TAP attached multi-queue")
                .isInstanceOf(DeviceOperationException.class).hasMessageContaining("EINVAL");
        assertThatThrownBy(() -> TapEndpoint.attach("no/such", false)).isInstanceOf(InvalidNetworkSpecException.class);
    }
}
