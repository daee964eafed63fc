package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.TemporaryRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A network's MTU in a private namespace: on its bridge, on the guest TAPs configured onto it, and in the DHCP
 * replies of its real dnsmasq (option 26, taken by busybox udhcpc on a veth that does not ask for it).
 */
@IsolatedNetns
class NetworkMtuTest {

    @TempDir
    Path root;

    @TempDir
    Path scripts;

    NetworkRegistry registry;
    BridgeNetworkProvider provider;
    NetworkRealizer realizer;

    @BeforeEach
    void setUp(@TemporaryRegistry NetworkRegistry registry) throws Exception {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
        this.registry = registry;
        registry.create("team", Ipv4Subnet.parse("10.77.0.0/24"));
        provider = new BridgeNetworkProvider(ProviderSettings.of(root).withRegistry(registry));
        realizer = provider.realizer().orElseThrow();
    }

    @AfterEach
    void tearDown() {
        try (BridgeNetworkProvider done = provider) {
            done.delete(done.taps().stream().map(l -> BridgeTaps.vmIdOf(l).orElseThrow()).distinct().toList());
            realizer.list().forEach(r -> realizer.unrealize(r.network()));
        }
    }

    private static int mtuOf(String name) {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            return netlink.link(name).map(Link::mtu).orElseThrow();
        }
    }

    @Test
    void theBridgeTheTapsAndTheDhcpRepliesCarryTheNetworksMtuAndFollowARealizeWithAnother() throws Exception {
        HostRequirements.assume(Files.isExecutable(Path.of("/bin/busybox")), "needs busybox (Debian package busybox-static)");
        Realization r = realizer.realize("team", NetworkRealizer.Options.defaults().withMtu(1400));
        assertThat(r.mtu()).isEqualTo(1400);
        assertThat(mtuOf("tw-team")).isEqualTo(1400);
        NicConfig nic = provider.configure("vm-1", 1, VmSpec.of(1).withNetworks(List.of("team"))
                .withWorkspace("web"), List.of()).get(0);
        assertThat(mtuOf(nic.tap())).as("the TAP takes the network's MTU").isEqualTo(1400);
        exec("ip", "link", "add", "twm0", "type", "veth", "peer", "name", "twm1");
        exec("ip", "link", "set", "twm0", "master", "tw-team", "up");
        assertThat(leasedMtu(nic.mac())).as("option 26, forced: the client did not ask").isEqualTo("1400");

        realizer.realize("team", NetworkRealizer.Options.defaults().withMtu(9000));
        assertThat(mtuOf("tw-team")).isEqualTo(9000);
        assertThat(mtuOf(nic.tap())).as("a TAP already on the bridge follows").isEqualTo(9000);
        assertThat(leasedMtu(nic.mac())).as("dnsmasq gives the new MTU at the next lease").isEqualTo("9000");
        assertThat(realizer.realize("team").mtu()).as("kept as recorded").isEqualTo(9000);
        assertThat(realizer.realize("team", true).mtu()).as("kept when NAT changes").isEqualTo(9000);
    }

    @Test
    void verifyReportsAndRepairsABridgeWhoseMtuDiffers() throws Exception {
        realizer.realize("team", NetworkRealizer.Options.defaults().withMtu(1400));
        NicConfig nic = provider.configure("vm-1", 1, VmSpec.of(1).withNetworks(List.of("team"))
                .withWorkspace("web"), List.of()).get(0);
        exec("ip", "link", "set", "tw-team", "mtu", "1500");
        exec("ip", "link", "set", nic.tap(), "mtu", "1500");

        assertThat(realizer.inspect("team").orElseThrow().problems())
                .contains("bridge tw-team of network team has MTU 1500, not the network's 1400");
        assertThat(mtuOf("tw-team")).as("inspect changes nothing").isEqualTo(1500);
        assertThat(realizer.verify("team").problems()).anyMatch(p -> p.startsWith("repaired: bridge tw-team of"
                + " network team has MTU 1500, not the network's 1400"));
        assertThat(mtuOf("tw-team")).isEqualTo(1400);
        assertThat(mtuOf(nic.tap())).isEqualTo(1400);
        assertThat(realizer.inspect("team").orElseThrow().problems()).noneMatch(p -> p.contains("MTU"));
    }

    @Test
    void aConfigureOnABridgeWhoseMtuWasChangedPutsTheNetworksMtuBackFirst() throws Exception {
        realizer.realize("team", NetworkRealizer.Options.defaults().withMtu(1400));
        exec("ip", "link", "set", "tw-team", "mtu", "1500");
        NicConfig nic = provider.configure("vm-1", 1, VmSpec.of(1).withNetworks(List.of("team"))
                .withWorkspace("web"), List.of()).get(0);
        assertThat(mtuOf("tw-team")).isEqualTo(1400);
        assertThat(mtuOf(nic.tap())).isEqualTo(1400);
    }

    @Test
    void anMtuOutsideWhatIpv4AndTheKernelTakeIsRefusedAndNothingIsRealized() {
        assertThatThrownBy(() -> NetworkRealizer.Options.defaults().withMtu(67))
                .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("MTU 67 is out of range")
                .hasMessageContaining("68–65535");
        assertThatThrownBy(() -> NetworkRealizer.Options.defaults().withMtu(65536))
                .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("MTU 65536 is out of range");
        assertThat(NetworkRealizer.Options.defaults().mtu()).isEqualTo(1500);
        assertThat(realizer.list()).isEmpty();
    }

    @Test
    void aRealizationRecordedWithoutAnMtuReadsAsTheDefault() throws Exception {
        realizer.realize("team", false);
        Path record;
        try (var files = Files.walk(root)) {
            record = files.filter(f -> f.endsWith("realization.properties")).findFirst().orElseThrow();
        }
        String text = Files.readString(record);
        assertThat(text).contains("mtu=1500\n");
        Files.writeString(record, text.replace("mtu=1500\n", ""));
        assertThat(realizer.list()).singleElement().extracting(Realization::mtu).isEqualTo(1500);
        assertThat(mtuOf("tw-team")).isEqualTo(1500);
    }

    /** Takes a lease with busybox udhcpc on twm1 as {@code mac}, without asking for option 26; returns its MTU. */
    private String leasedMtu(MacAddress mac) throws Exception {
        Path script = scripts.resolve("print-mtu.sh");
        Files.writeString(script, "#!/bin/sh\n[ \"$1\" = bound ] && echo \"LEASED-MTU=${mtu:-none}\"\nexit 0\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        exec("ip", "link", "set", "twm1", "down");
        exec("ip", "link", "set", "twm1", "address", mac.toString(), "up");
        String out = exec("busybox", "udhcpc", "-i", "twm1", "-f", "-q", "-n", "-B", "-t", "5", "-T", "1", "-s",
                script.toString());
        Matcher m = Pattern.compile("LEASED-MTU=(\\S+)").matcher(out);
        assertThat(m.find()).as(out).isTrue();
        return m.group(1);
    }

    private static String exec(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(String.join(" ", command) + ": " + out).isZero();
        return out;
    }
}
