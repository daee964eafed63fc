package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.NetworkProvider;
import dev.tapwire.network.NetworkProviders;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.registry.FileNetworkRegistry;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bridge provider made with a registry follows it while open: whatever order a manager deletes and leaves in,
 * and whichever process changes the registry, this host's DNS follows within 2 s with no further call. Real
 * dnsmasq in a private namespace.
 */
@IsolatedNetns
class ProviderFollowsRegistryTest {

    private static final String GATEWAY = "10.77.0.1";

    @TempDir
    Path root;

    Path stateDir;
    NetworkRegistry registry;
    BridgeNetworkProvider provider;

    @BeforeEach
    void setUp() throws Exception {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x")); // dnsmasq runs as nobody
        stateDir = root.resolve("state");
        registry = FileNetworkRegistry.open(stateDir);
        registry.create("team", Ipv4Subnet.parse("10.77.0.0/24"));
        provider = (BridgeNetworkProvider) NetworkProviders.create("bridge", ProviderSettings.of(root)
                .withRegistry(registry));
    }

    @AfterEach
    void tearDown() {
        try (NetworkProvider done = provider) {
            done.delete(provider.taps().stream().map(l -> BridgeTaps.vmIdOf(l).orElseThrow()).distinct().toList());
        }
        NetworkRealizer realizer = new NetworkRealizer(root, registry);
        realizer.list().forEach(r -> realizer.unrealize(r.network()));
    }

    private void configure(String vmId, String workspace) throws Exception {
        provider.configure(vmId, 1, VmSpec.of(1).withNetworks(List.of("team")).withWorkspace(workspace), List.of());
        assertThat(Dns.queryA(GATEWAY, workspace + ".team")).hasSize(1);
    }

    /** Waits at most 2 s for {@code name} to stop resolving; returns whether it did. */
    private static boolean goneWithin2s(String name) throws Exception {
        long deadline = System.nanoTime() + 2_000_000_000L;
        while (System.nanoTime() < deadline) {
            try {
                if (Dns.queryA(GATEWAY, name).isEmpty()) {
                    return true;
                }
            } catch (IllegalStateException | java.io.IOException noAnswerYet) {
                // a dnsmasq being restarted answers nothing for a moment
            }
            Thread.sleep(50);
        }
        return false;
    }

    @Test
    void deletingTheVmAndThenLeavingAsTheReadmeShowsTakesTheNameAwayWithNoFurtherCall() throws Exception {
        configure("vm-1", "web");
        configure("vm-2", "api");

        provider.delete(List.of("vm-1"));
        registry.leaveAll("web");

        assertThat(goneWithin2s("web.team")).as("web.team resolves 2 s after web left").isTrue();
        assertThat(goneWithin2s("web")).isTrue();
        assertThat(Dns.queryA(GATEWAY, "api.team")).containsExactly("10.77.0.3");

        registry.leaveAll("api"); // the other order: leave first, then delete
        provider.delete(List.of("vm-2"));
        assertThat(goneWithin2s("api.team")).isTrue();
    }

    @Test
    void aLeaveThroughAnotherRegistryOrAnotherProcessReachesDnsWithin2s() throws Exception {
        configure("vm-1", "web");
        configure("vm-2", "api");

        FileNetworkRegistry.open(stateDir).leave("team", "web");
        assertThat(goneWithin2s("web.team")).as("a leave through another registry instance").isTrue();

        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process leave = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                LeaveMain.class.getName(), stateDir.toString(), "api").redirectErrorStream(true).start();
        String out = new String(leave.getInputStream().readAllBytes());
        assertThat(leave.waitFor()).as(out).isZero();
        assertThat(goneWithin2s("api.team")).as("a leave by another process").isTrue();
    }

    @Test
    void closingStopsTheFollowingAndKeepsTheDevices() throws Exception {
        configure("vm-1", "web");
        long following = syncThreads(); // ours, and those of providers other tests of this JVM left open

        provider.close();
        provider.close(); // idempotent

        assertThat(syncThreads()).isEqualTo(following - 1);
        provider.verify("vm-1");
        assertThat(Dns.queryA(GATEWAY, "web.team")).containsExactly("10.77.0.2");
    }

    private static long syncThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().equals("tapwire-realizer-follow")).count();
    }
}
