package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.bridge.PortSecurity.Entry;
import dev.tapwire.network.bridge.linux.Nftables;
import dev.tapwire.network.registry.FileNetworkRegistry;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.QemuGuest;
import dev.tapwire.network.testkit.TemporaryRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real guests behind the provider's port security (on by default): QEMU guests whose TAPs the provider admitted
 * strictly still lease their registry addresses (DHCP from 0.0.0.0 and its ARP), resolve each other by name and
 * ping by name and the gateway — and a guest that takes an address that is not its own reaches nobody from it,
 * until its NIC is configured again with port security off.
 */
@IsolatedNetns
class PortSecurityGuestTest {

    private static final Duration BOOT = Duration.ofSeconds(120);

    @TempDir
    Path root;

    private static Path image;

    private final List<QemuGuest> guests = new ArrayList<>();
    private BridgeNetworkProvider provider;

    @BeforeAll
    static void buildImage() throws Exception {
        image = Guests.imageOrSkip(Nftables.unavailabilityCause());
    }

    @AfterEach
    void stop() {
        Guests.tearDown(guests, provider, List.of("alpha", "beta"));
    }

    @Test
    void guestsBehindPortSecurityLeaseResolveAndPingByNameButNotFromAnAddressNotTheirOwn(
            @TemporaryRegistry FileNetworkRegistry registry) throws Exception {
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
        registry.create("team", Ipv4Subnet.parse("10.81.0.0/24"));
        provider = new BridgeNetworkProvider(ProviderSettings.of(root).withRegistry(registry));
        NicConfig alpha = nic("alpha");
        NicConfig beta = nic("beta");
        PortSecurity security = new PortSecurity(NetworkRealizer.ownerTag(root));
        Map<String, Entry> both = Map.of(alpha.tap(), Entry.strict(alpha.mac(), alpha.network().ip()), beta.tap(),
                Entry.strict(beta.mac(), beta.network().ip()));
        assertThat(security.admitted()).as("configure admitted both").isEqualTo(both);

        QemuGuest a = boot("alpha", alpha);
        QemuGuest b = boot("beta", beta);
        for (QemuGuest g : List.of(a, b)) {
            NicConfig nic = g == a ? alpha : beta;
            Matcher lease = g.await("TAPWIRE-LEASE ip=(\\S+)/(\\d+) router=(\\S+)", BOOT);
            assertThat(lease.group(1)).isEqualTo(nic.network().ip().toString());
            assertThat(lease.group(3)).isEqualTo(nic.network().gateway().toString());
            g.await("TAPWIRE-READY", BOOT);
        }
        String alphaIp = alpha.network().ip().toString();
        assertThat(b.resolve("alpha")).containsExactly(alphaIp);
        assertThat(b.ping("alpha", 2)).as("by name").isPositive();
        assertThat(a.ping("beta", 1)).as("by name").isPositive();
        assertThat(a.ping("10.81.0.1", 1)).as("the gateway").isPositive();

        // beta takes a neighbour's free address as a second one: nothing from it gets through, its own still does
        b.run("ip addr add 10.81.0.99/24 dev eth0", Duration.ofSeconds(10));
        assertThat(b.ping("-I 10.81.0.99 " + alphaIp, 2)).isZero();
        assertThat(b.ping("-I 10.81.0.99 10.81.0.1", 1)).isZero();
        assertThat(b.ping("-I " + beta.network().ip() + " " + alphaIp, 1)).isPositive();
        provider.verify("beta");
        assertThat(security.verify(both, true)).isEmpty();

        // the per-NIC switch, on the running guest: configured again with port security off, the address works
        provider.configure("beta", 1, VmSpec.of(1).withNetworks(List.of("team")).withoutPortSecurity(0), List.of(beta));
        assertThat(security.admitted()).containsEntry(beta.tap(), Entry.open());
        assertThat(b.ping("-I 10.81.0.99 " + alphaIp, 2)).as("port security off for beta's NIC").isPositive();
    }

    private NicConfig nic(String vm) {
        return provider.configure(vm, 1, VmSpec.of(1).withNetworks(List.of("team")), List.of()).get(0);
    }

    private QemuGuest boot(String name, NicConfig nic) throws Exception {
        QemuGuest g = QemuGuest.boot(name, image, nic, null);
        guests.add(g);
        return g;
    }
}
