package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.registry.FileNetworkRegistry;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.QemuGuest;
import dev.tapwire.network.testkit.TemporaryRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A QEMU guest on a network realized with MTU 1400 takes that MTU from DHCP, and a 1400-byte packet is the largest
 * that crosses between it and the gateway unfragmented.
 */
@IsolatedNetns
class MtuGuestTest {

    private static final Duration BOOT = Duration.ofSeconds(120);

    @TempDir
    Path root;

    /** The guest image, built before the test enters its namespace (apt-get download needs the host's network). */
    private static Path image;

    private QemuGuest guest;
    private BridgeNetworkProvider provider;

    @BeforeAll
    static void buildImage() throws Exception {
        List<String> missing = new ArrayList<>();
        NetworkRealizer.unavailabilityCause().ifPresent(missing::add);
        QemuGuest.unavailabilityCause().ifPresent(missing::add);
        HostRequirements.assume(missing.isEmpty(), String.join("; ", missing));
        image = QemuGuest.image(Path.of("target/guest"));
    }

    @AfterEach
    void stop() {
        if (guest != null) {
            guest.close();
        }
        if (provider != null) {
            try (BridgeNetworkProvider done = provider) {
                done.delete(List.of("alpha"));
                NetworkRealizer realizer = done.realizer().orElseThrow();
                realizer.list().forEach(r -> realizer.unrealize(r.network()));
            }
        }
    }

    @Test
    void aGuestOnANetworkWithMtu1400EndsWithThatMtuAndItsFullSizePingsReachTheGateway(
            @TemporaryRegistry FileNetworkRegistry registry) throws Exception {
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
        registry.create("team", Ipv4Subnet.parse("10.83.0.0/24"));
        provider = new BridgeNetworkProvider(ProviderSettings.of(root).withRegistry(registry));
        provider.realizer().orElseThrow().realize("team", NetworkRealizer.Options.defaults().withMtu(1400));
        NicConfig nic = provider.configure("alpha", 1, VmSpec.of(1).withNetworks(List.of("team")), List.of()).get(0);

        guest = QemuGuest.boot("alpha", image, nic, null);
        assertThat(guest.await("TAPWIRE-LEASE ip=(\\S+)/.* mtu=(\\S*)", BOOT).group(2)).isEqualTo("1400");
        guest.await("TAPWIRE-READY", BOOT);
        assertThat(String.join("\n", guest.run("ip link show eth0", Duration.ofSeconds(10)))).contains("mtu 1400 ");
        // 1372 bytes of echo data + 8 ICMP + 20 IPv4 = 1400: one frame at the network's MTU, both ways
        assertThat(String.join("\n", guest.run("ping -c 1 -W 2 -s 1372 10.83.0.1", Duration.ofSeconds(10))))
                .contains("1 packets received");
        // and with DF from the gateway: 1372 bytes fit the network's MTU, 1373 do not (the path never fragments)
        assertThat(DfPing.reaches(nic.network().ip(), 1372)).as("1400-byte DF echo").isTrue();
        assertThat(DfPing.reaches(nic.network().ip(), 1373)).as("1401-byte DF echo").isFalse();
    }
}
