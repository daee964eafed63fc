package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.bridge.linux.Nftables;
import dev.tapwire.network.registry.FileNetworkRegistry;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.QemuGuest;
import dev.tapwire.network.testkit.TemporaryRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proof with a real VMM: QEMU guests on TAPs tapwire made on named networks take their registry addresses
 * by DHCP, resolve each other by name, ping each other and the gateway; a guest on another network cannot
 * reach them although the host forwards IPv4; a member that leaves stops resolving.
 */
@IsolatedNetns
class GuestProofTest {

    private static final Duration BOOT = Duration.ofSeconds(120);

    @TempDir
    Path root;

    /** The guest image, built before the test enters its namespace (apt-get download needs the host's network). */
    private static Path image;

    private final List<QemuGuest> guests = new ArrayList<>();
    private BridgeNetworkProvider provider;

    @BeforeAll
    static void buildImage() throws Exception {
        image = Guests.imageOrSkip();
    }

    @AfterEach
    void stop() {
        Guests.tearDown(guests, provider, List.of("alpha", "beta", "gamma"));
    }

    @Test
    void guestsOnANetworkLeaseResolveAndPingEachOtherAndNothingElse(@TemporaryRegistry FileNetworkRegistry registry)
            throws Exception {
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
        registry.create("team", Ipv4Subnet.parse("10.81.0.0/24"));
        registry.create("other", Ipv4Subnet.parse("10.82.0.0/24"));
        provider = new BridgeNetworkProvider(ProviderSettings.of(root).withRegistry(registry));
        Files.writeString(Path.of("/proc/sys/net/ipv4/ip_forward"), "1\n"); // this namespace's: the host forwards

        NicConfig alpha = nic("alpha", "team");
        NicConfig beta = nic("beta", "team");
        NicConfig gamma = nic("gamma", "other");
        // all three send one DHCP client identifier, as cloned images do: leases go by MAC all the same
        String clientId = "01deadbeef0001";
        QemuGuest a = boot("alpha", image, alpha, clientId);
        QemuGuest b = boot("beta", image, beta, clientId);
        QemuGuest c = boot("gamma", image, gamma, clientId);

        for (var pair : List.of(new Object[] {a, alpha}, new Object[] {b, beta}, new Object[] {c, gamma})) {
            QemuGuest g = (QemuGuest) pair[0];
            NicConfig nic = (NicConfig) pair[1];
            Matcher lease = g.await("TAPWIRE-LEASE ip=(\\S+)/(\\d+) router=(\\S+) dns=(\\S+).* search=(\\S*)", BOOT);
            assertThat(lease.group(1)).isEqualTo(nic.network().ip().toString());
            assertThat(lease.group(2)).isEqualTo("24");
            assertThat(lease.group(3)).isEqualTo(nic.network().gateway().toString());
            assertThat(lease.group(4)).isEqualTo(nic.network().gateway().toString());
            assertThat(lease.group(5)).isEqualTo(nic.bridgeDev().equals("tw-team") ? "team" : "other");
            g.await("TAPWIRE-READY", BOOT);
        }

        String betaIp = beta.network().ip().toString();
        assertThat(a.resolve("beta")).containsExactly(betaIp); // a single label, through the DHCP search domain
        assertThat(a.resolve("beta.team")).containsExactly(betaIp);
        assertThat(a.ping(betaIp, 2)).isPositive();
        assertThat(a.ping("beta", 1)).as("by name").isPositive();
        assertThat(a.ping("10.81.0.1", 1)).isPositive();
        assertThat(b.resolve("alpha.team")).containsExactly(alpha.network().ip().toString());

        // isolation: gamma reaches its own gateway but not team, although the namespace forwards IPv4...
        assertThat(c.ping("10.82.0.1", 1)).isPositive();
        assertThat(c.ping(alpha.network().ip().toString(), 2)).isZero();
        assertThat(c.ping("10.81.0.1", 1)).isZero();
        // ...because of tapwire's rules: flushed (a firewall reload), team is reachable; verify restores them
        Nftables.run("flush ruleset");
        assertThat(c.ping(alpha.network().ip().toString(), 3)).isPositive();
        provider.verify("gamma");
        assertThat(c.ping(alpha.network().ip().toString(), 2)).isZero();

        // NAT: an "outside" host that has no route back to any tapwire network answers team only once team's
        // traffic leaving the host is masqueraded; other (no NAT) stays unanswered
        String outside = "twout" + ProcessHandle.current().pid();
        try {
            exec("ip", "netns", "add", outside);
            exec("ip", "link", "add", "twuplink", "type", "veth", "peer", "name", "eth0", "netns", outside);
            exec("ip", "addr", "add", "10.99.0.1/24", "dev", "twuplink");
            exec("ip", "link", "set", "twuplink", "up");
            exec("ip", "netns", "exec", outside, "ip", "addr", "add", "10.99.0.2/24", "dev", "eth0");
            exec("ip", "netns", "exec", outside, "ip", "link", "set", "eth0", "up");
            assertThat(a.ping("10.99.0.2", 1)).as("no NAT: no way back").isZero();
            provider.realizer().orElseThrow().realize("team", true);
            assertThat(a.ping("10.99.0.2", 2)).as("team masqueraded").isPositive();
            assertThat(c.ping("10.99.0.2", 1)).as("other is not").isZero();
        } finally {
            new ProcessBuilder("ip", "netns", "del", outside).start().waitFor();
        }

        // a member that leaves — through another registry instance, as another process would — stops resolving
        try (RegistryWatch following = provider.realizer().orElseThrow().follow()) {
            NetworkRegistry elsewhere = FileNetworkRegistry.open(registry.indexFile().getParent().getParent());
            elsewhere.leave("team", "beta");
            long left = System.nanoTime();
            while (!a.resolve("beta").isEmpty()) {
                assertThat(Duration.ofNanos(System.nanoTime() - left)).as("beta still resolves")
                        .isLessThan(Duration.ofSeconds(2));
                Thread.sleep(100);
            }
            assertThat(a.resolve("beta.team")).isEmpty();
            assertThat(a.resolve("alpha")).containsExactly(alpha.network().ip().toString());
        }
    }

    @Test
    void aVmmRunningAsTheTapsOwnerAttachesAndAnotherUserCannot(@TemporaryRegistry FileNetworkRegistry registry)
            throws Exception {
        HostRequirements.assume(Files.isExecutable(Path.of("/usr/bin/setpriv"))
                && Files.isExecutable(Path.of("/usr/bin/unshare")), "needs util-linux setpriv and unshare");
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
        // QEMU drops root here: give it a copy of the image that any user may read
        Path readable = Files.createTempDirectory(root, "image-");
        Files.setPosixFilePermissions(readable, PosixFilePermissions.fromString("rwxr-xr-x"));
        for (String f : List.of("vmlinuz", "initrd.img")) {
            Files.copy(image.resolve(f), readable.resolve(f));
            Files.setPosixFilePermissions(readable.resolve(f), PosixFilePermissions.fromString("rw-r--r--"));
        }
        registry.create("team", Ipv4Subnet.parse("10.81.0.0/24"));
        provider = new BridgeNetworkProvider(ProviderSettings.of(root).with("owner", "4242").withRegistry(registry));
        NicConfig nic = nic("alpha", "team");

        QemuGuest stranger = QemuGuest.bootAs("stranger", readable, nic, 4243);
        guests.add(stranger);
        assertThat(stranger.awaitExit(Duration.ofSeconds(60))).isNotZero();
        assertThat(stranger.console()).contains(nic.tap()).contains("Operation not permitted");

        QemuGuest owner = QemuGuest.bootAs("owner", readable, nic, 4242);
        guests.add(owner);
        assertThat(owner.await("TAPWIRE-LEASE ip=(\\S+)/", BOOT).group(1)).isEqualTo(nic.network().ip().toString());
    }

    private static void exec(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(String.join(" ", command) + ": " + out).isZero();
    }

    private NicConfig nic(String vm, String network) {
        return provider.configure(vm, 1, VmSpec.of(1).withNetworks(List.of(network)), List.of()).get(0);
    }

    private QemuGuest boot(String name, Path image, NicConfig nic, String clientId) throws Exception {
        QemuGuest g = QemuGuest.boot(name, image, nic, clientId);
        guests.add(g);
        return g;
    }
}
