package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.registry.FileNetworkRegistry;
import java.time.Duration;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Nftables;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.NetworkNamespace;
import dev.tapwire.network.testkit.TemporaryRegistry;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Named networks made real in a private namespace: bridge, gateway, a real dnsmasq, real nftables rules. */
@IsolatedNetns
class NetworkRealizerTest {

    @TempDir
    Path root;

    NetworkRealizer realizer;

    @BeforeEach
    void available(@TemporaryRegistry NetworkRegistry registry) throws Exception {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        realizer = new NetworkRealizer(root, registry);
        registry.create("team", Ipv4Subnet.parse("10.77.0.0/24"));
        registry.create("other", Ipv4Subnet.parse("10.78.0.0/24"));
    }

    @AfterEach
    void stopServers() {
        for (Realization r : realizer.list()) { // never leave a dnsmasq running
            realizer.unrealize(r.network());
        }
        assertThat(NetworkRealizer.runtimeDir(root)).as("removed with the last realization").doesNotExist();
    }

    private String table() {
        return "inet tapwire_" + NetworkRealizer.ownerTag(root);
    }

    private static Optional<Link> link(String name) {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            return netlink.link(name);
        }
    }

    @Test
    void realizingMakesTheBridgeWithTheGatewayAndServesMembersByName() throws Exception {
        NetworkRegistry registry = realizer.registry();
        registry.join("team", "web");
        Realization r = realizer.realize("team", false);

        assertThat(r.bridge()).isEqualTo("tw-team");
        Link bridge = link("tw-team").orElseThrow();
        assertThat(bridge.isBridge()).isTrue();
        assertThat(bridge.isUp()).isTrue();
        assertThat(bridge.alias()).isEqualTo("tapwire-net:team");
        assertThat(bridge.mac()).as("the same gateway MAC whenever the bridge is made").isEqualTo(
                realizer.bridgeMac("team")).isNotEqualTo(new NetworkRealizer(root.resolve("x"), registry).bridgeMac(
                        "team"));
        try (Rtnetlink netlink = Rtnetlink.open()) {
            assertThat(netlink.ipv4Addresses()).contains(new Rtnetlink.Address(bridge.index(), "10.77.0.1", 24));
        }
        assertThat(Dns.queryA("10.77.0.1", "web")).containsExactly("10.77.0.2");
        assertThat(Dns.queryA("10.77.0.1", "web.team")).containsExactly("10.77.0.2");
        assertThat(Dns.queryA("10.77.0.1", "nobody.team")).isEmpty();
    }

    @Test
    void aMemberThatLeavesStopsResolvingAfterASyncAndARejoinResolvesToItsNewAddressOnly() throws Exception {
        NetworkRegistry registry = realizer.registry();
        registry.join("team", "a");
        registry.join("team", "web");
        realizer.realize("team", false);
        assertThat(Dns.queryA("10.77.0.1", "web")).containsExactly("10.77.0.3");

        registry.leave("team", "web");
        realizer.sync("team");
        assertThat(Dns.queryA("10.77.0.1", "web")).isEmpty();

        registry.leave("team", "a");
        registry.join("team", "web"); // now the lowest free address
        realizer.sync("team");
        assertThat(Dns.queryA("10.77.0.1", "web.team")).containsExactly("10.77.0.2");
        assertThat(Dns.queryA("10.77.0.1", "a")).isEmpty();
    }

    @Test
    void aLeaveNeverStopsDnsmasqAndNoQueryFailsThroughTwentyLeaveAndRejoinCycles() throws Exception {
        NetworkRegistry registry = realizer.registry();
        registry.join("team", "web");
        registry.join("team", "db");
        realizer.realize("team", false);
        int pid = realizer.inspect("team").orElseThrow().dnsmasqPid().orElseThrow();
        AtomicBoolean done = new AtomicBoolean();
        AtomicInteger answered = new AtomicInteger();
        List<String> failures = new CopyOnWriteArrayList<>();
        Thread resolver = new Thread(() -> { // a thread made here stays in the test's namespace
            while (!done.get()) {
                try {
                    List<String> a = Dns.queryOnce("10.77.0.1", "web.team", 500);
                    if (a.equals(List.of("10.77.0.2"))) {
                        answered.incrementAndGet();
                    } else {
                        failures.add("answer " + a);
                    }
                } catch (Exception e) {
                    failures.add(e.toString());
                }
            }
        });
        resolver.start();
        try {
            for (int cycle = 0; cycle < 20; cycle++) {
                registry.leave("team", "db");
                realizer.sync("team");
                awaitResolving("db.team", List.of());
                registry.join("team", "db");
                realizer.sync("team");
                awaitResolving("db.team", List.of("10.77.0.3"));
            }
        } finally {
            done.set(true);
            resolver.join();
        }
        assertThat(failures).as("queries that failed during the cycles").isEmpty();
        assertThat(answered.get()).isPositive();
        assertThat(realizer.inspect("team").orElseThrow().dnsmasqPid()).as("never restarted").hasValue(pid);
    }

    /** Waits, at most 2 s, until {@code name} resolves to exactly {@code addresses} (none: it does not resolve). */
    private static void awaitResolving(String name, List<String> addresses) throws Exception {
        long start = System.nanoTime();
        while (!Dns.queryA("10.77.0.1", name).equals(addresses)) {
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as(name + " should resolve to " + addresses)
                    .isLessThan(Duration.ofSeconds(2));
            Thread.sleep(10);
        }
    }

    @Test
    void aDepartedMembersAddressIsLeasedToTheNextMemberAtOnceAndNoDhcpHostnameBecomesAName() throws Exception {
        HostRequirements.assume(Files.isExecutable(Path.of("/bin/busybox")), "needs busybox (Debian package busybox-static)");
        NetworkRegistry registry = realizer.registry();
        registry.join("team", "web");
        realizer.realize("team", false);
        exec("ip", "link", "add", "twc0", "type", "veth", "peer", "name", "twc1");
        exec("ip", "link", "set", "twc0", "master", "tw-team", "up");

        assertThat(lease(MacAddress.forMember("team", "web"), "admin")).isEqualTo("10.77.0.2");
        assertThat(Dns.queryA("10.77.0.1", "admin")).as("a DHCP hostname is never a name").isEmpty();
        assertThat(Dns.queryA("10.77.0.1", "admin.team")).isEmpty();

        registry.leave("team", "web");
        registry.join("team", "my_ws"); // takes web's address; its name is no DNS label, so it has no hosts entry
        realizer.sync("team");
        assertThat(Dns.queryA("10.77.0.1", "web")).isEmpty();
        assertThat(lease(MacAddress.forMember("team", "my_ws"), "admin")).as("web's lease was released")
                .isEqualTo("10.77.0.2");
        assertThat(Dns.queryA("10.77.0.1", "admin")).as("nor for a member without a name of its own").isEmpty();
        assertThat(Dns.queryA("10.77.0.1", "admin.team")).isEmpty();
        assertThat(lease(MacAddress.forMember("team", "my_ws"), "web")).isEqualTo("10.77.0.2");
        assertThat(Dns.queryA("10.77.0.1", "web")).as("nor a departed member's name").isEmpty();
    }

    /** Takes a DHCP lease with busybox udhcpc on twc1 (the other end is on the bridge) as {@code mac}. */
    private static String lease(MacAddress mac, String hostname) throws Exception {
        exec("ip", "link", "set", "twc1", "down");
        exec("ip", "link", "set", "twc1", "address", mac.toString(), "up");
        String out = exec("busybox", "udhcpc", "-i", "twc1", "-f", "-q", "-n", "-B", "-t", "5", "-T", "1", "-s",
                "/bin/true", "-x", "hostname:" + hostname);
        Matcher m = Pattern.compile("lease of (\\S+) obtained").matcher(out);
        assertThat(m.find()).as(out).isTrue();
        return m.group(1);
    }

    private static String exec(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(String.join(" ", command) + ": " + out).isZero();
        return out;
    }

    @Test
    void namesThatDifferOnlyInCaseNameOneMemberTheOneWithTheLowestAddress() throws Exception {
        NetworkRegistry registry = realizer.registry();
        registry.join("team", "Beta");
        registry.join("team", "BETA");
        registry.join("team", "beta");
        realizer.realize("team", false);
        assertThat(Dns.queryA("10.77.0.1", "beta.team")).containsExactly("10.77.0.2");
        assertThat(Dns.queryA("10.77.0.1", "BETA")).containsExactly("10.77.0.2");
        assertThat(realizer.hostsLines("team")).isEqualTo("10.77.0.2 Beta.team Beta\n");

        registry.leave("team", "Beta");
        realizer.sync("team");
        assertThat(Dns.queryA("10.77.0.1", "beta")).as("the next holder").containsExactly("10.77.0.3");
    }

    @Test
    void followingConvergesWithinTwoSecondsOnChangesMadeThroughAnotherRegistryInstance() throws Exception {
        NetworkRegistry registry = realizer.registry();
        realizer.realize("team", false);
        NetworkRegistry elsewhere = FileNetworkRegistry.open(
                ((FileNetworkRegistry) registry).indexFile().getParent().getParent());
        try (RegistryWatch following = realizer.follow()) {
            elsewhere.join("team", "web");
            awaitResolving("web.team", List.of("10.77.0.2"));
            elsewhere.leave("team", "web"); // e.g. a manager's leaveAll after bridge.delete: no sync is called
            awaitResolving("web", List.of());
            awaitResolving("web.team", List.of());
        }
    }

    @Test
    void followersAreSharedPerRealizerAndStopWhenEveryHandleIsClosed() throws Exception {
        RegistryWatch first = realizer.follow();
        RegistryWatch second = realizer.follow();
        assertThat(followerThreads()).hasSize(1);
        first.close();
        first.close(); // idempotent: the other handle keeps it running
        assertThat(realizer.isFollowing()).isTrue();
        realizer.realize("team", false);
        realizer.registry().join("team", "web");
        awaitResolving("web.team", List.of("10.77.0.2"));
        second.close();
        assertThat(realizer.isFollowing()).isFalse();
        assertThat(followerThreads()).as("no thread is left behind").isEmpty();
        try (RegistryWatch again = realizer.follow()) {
            assertThat(followerThreads()).hasSize(1);
        }
        assertThat(followerThreads()).isEmpty();
    }

    @Test
    void aFollowerHandleDroppedWithoutClosingStopsTheThreadOnceCollected() throws Exception {
        realizer.follow(); // dropped: a manager that forgot to close its provider
        assertThat(followerThreads()).hasSize(1);
        long start = System.nanoTime();
        while (realizer.isFollowing()) {
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("the dropped handle is released")
                    .isLessThan(Duration.ofSeconds(20));
            System.gc();
            Thread.sleep(50);
        }
        while (!followerThreads().isEmpty()) {
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(30));
            Thread.sleep(10);
        }
    }

    @Test
    void aFollowerFromAnotherNetworkNamespaceIsRefused() throws Exception {
        try (RegistryWatch following = realizer.follow();
                NetworkNamespace other = NetworkNamespace.create()) {
            assertThatThrownBy(() -> other.run(realizer::follow)).isInstanceOf(RealizationException.class)
                    .hasMessageContaining("already follows the registry in network namespace");
        }
    }

    @Test
    void aFollowerWhoseWatchReportsNothingStillConvergesByItsPeriodicResync() throws Exception {
        NetworkRegistry deaf = (NetworkRegistry) Proxy.newProxyInstance(NetworkRegistry.class.getClassLoader(),
                new Class<?>[] {NetworkRegistry.class}, (proxy, method, args) -> method.getName().equals("watch")
                        ? (RegistryWatch) () -> { } : method.invoke(realizer.registry(), args));
        NetworkRealizer onDeaf = new NetworkRealizer(root, deaf);
        onDeaf.realize("team", false);
        try (RegistryWatch following = onDeaf.follow(Duration.ofMillis(300))) {
            realizer.registry().join("team", "web");
            awaitResolving("web.team", List.of("10.77.0.2"));
            realizer.registry().leave("team", "web");
            awaitResolving("web.team", List.of());
        }
    }

    @Test
    void aNetworkRemovedFromTheRegistryGivesUpItsSubnetToTheNextNetwork() throws Exception {
        NetworkRegistry registry = realizer.registry();
        registry.join("team", "web");
        realizer.realize("team", false);
        registry.remove("team", true); // as network rm --force, from any process, does
        registry.create("next", Ipv4Subnet.parse("10.77.0.0/24"));
        registry.join("next", "api");

        assertThat(realizer.realize("next", false).gateway()).hasToString("10.77.0.1");
        assertThat(Dns.queryA("10.77.0.1", "api.next")).containsExactly("10.77.0.2");
        assertThat(link("tw-team")).isEmpty();
        assertThat(realizer.list()).extracting(Realization::network).containsExactly("next");
    }

    private static List<Thread> followerThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals("tapwire-realizer-follow") && t.isAlive()).toList();
    }

    @Test
    void theRulesetIsolatesNetworksAndMasqueradesOnlyNatNetworksFromTheirOwnSubnet() {
        realizer.realize("team", true);
        realizer.realize("other", false);
        String table = Nftables.run("list table " + table());
        assertThat(table).contains("oifname @bridges drop")
                .contains("iifname \"tw-team\" ip saddr 10.77.0.0/24 accept")
                .contains("iifname \"tw-team\" ip saddr 10.77.0.0/24 oifname != @bridges masquerade")
                .doesNotContain("10.78.0.0/24");
        assertThat(realizer.inspect("team").orElseThrow().problems()).isEmpty();
    }

    @Test
    void aFlushedRulesetAndAKilledDnsmasqAreRepairedByVerify() throws Exception {
        realizer.realize("team", false);
        int pid = realizer.inspect("team").orElseThrow().dnsmasqPid().orElseThrow();
        Nftables.run("flush ruleset");
        Crash.sigkill(pid);
        assertThat(realizer.inspect("team").orElseThrow().problems()).anySatisfy(p -> assertThat(p).contains("missing"))
                .anySatisfy(p -> assertThat(p).contains("dnsmasq of network team is not running"));

        NetworkRealizer.Status status = realizer.verify("team");

        assertThat(status.problems()).allSatisfy(p -> assertThat(p).startsWith("repaired:")).hasSize(2);
        assertThat(status.dnsmasqPid()).isPresent().isNotEqualTo(OptionalInt.of(pid));
        assertThat(Nftables.run("list table " + table())).contains("tw-team");
        assertThat(realizer.inspect("team").orElseThrow().problems()).isEmpty();
    }

    @Test
    void aForeignDeviceWithTheBridgeNameIsNeverSharedAndNothingIsLeftBehind() {
        NetworkNamespace.createBridge("tw-team");
        assertThatThrownBy(() -> realizer.realize("team", false)).isInstanceOf(DeviceOperationException.class)
                .hasMessageContaining("tw-team exists but is not network team's bridge");
        assertThat(realizer.list()).isEmpty();
        assertThat(Files.exists(root.resolve("realized/team"))).isFalse();
        assertThat(link("tw-team").orElseThrow().alias()).isEmpty();
    }

    @Test
    void aBridgeLeftHalfMadeByARealizeThatDiedIsFinishedNotRefused() {
        try (Rtnetlink netlink = Rtnetlink.open()) { // what a realize killed right after creating the bridge leaves
            netlink.execute(List.of(Rtnetlink.createBridge("tw-team", realizer.bridgeMac("team"))));
        }
        int index = link("tw-team").orElseThrow().index();

        realizer.realize("team", false);
        Link bridge = link("tw-team").orElseThrow();
        assertThat(bridge.index()).isEqualTo(index);
        assertThat(bridge.alias()).isEqualTo("tapwire-net:team");
        assertThat(realizer.inspect("team").orElseThrow().problems()).isEmpty();

        realizer.realize("other", false);
        try (Rtnetlink netlink = Rtnetlink.open()) { // "other" as a realize that died before its alias leaves it
            Link other = link("tw-other").orElseThrow();
            netlink.execute(List.of(Rtnetlink.setAlias(other.index(), "tw-other", "")));
        }
        assertThat(link("tw-other").orElseThrow().alias()).isEmpty();
        realizer.registry().remove("other", false);
        assertThat(realizer.collectGarbage()).containsExactly("other");
        assertThat(link("tw-other")).as("the GC knows it by its record and its gateway MAC").isEmpty();

        realizer.unrealize("team");
        try (Rtnetlink netlink = Rtnetlink.open()) { // the gateway MAC of another network proves nothing
            netlink.execute(List.of(Rtnetlink.createBridge("tw-team", realizer.bridgeMac("other"))));
        }
        assertThatThrownBy(() -> realizer.realize("team", false)).isInstanceOf(DeviceOperationException.class)
                .hasMessageContaining("tw-team exists but is not network team's bridge");
    }

    @Test
    void unrealizeRemovesEverythingAndTheGcReclaimsNetworksGoneFromTheRegistry() {
        realizer.realize("team", false);
        realizer.realize("other", false);
        realizer.registry().remove("other", false);

        assertThat(realizer.collectGarbage()).containsExactly("other");
        assertThat(link("tw-other")).isEmpty();
        assertThat(realizer.list()).extracting(Realization::network).containsExactly("team");
        assertThat(Nftables.run("list table " + table())).doesNotContain("tw-other");

        assertThat(realizer.unrealize("team")).isTrue();
        assertThat(link("tw-team")).isEmpty();
        assertThatThrownBy(() -> Nftables.run("list table " + table())).hasMessageContaining("No such file");
    }

    @Test
    void aRealizationWhoseDnsmasqCannotStartIsRolledBackWhole() throws Exception {
        try (java.net.DatagramSocket squatter = new java.net.DatagramSocket(53)) { // port 53 taken on every address
            assertThatThrownBy(() -> realizer.realize("team", false)).isInstanceOf(DeviceOperationException.class)
                    .hasMessageContaining("dnsmasq for network team exited with status")
                    .hasMessageContaining("Address already in use");
        }
        assertThat(link("tw-team")).isEmpty();
        assertThat(realizer.list()).isEmpty();
        assertThat(Files.exists(root.resolve("realized/team"))).isFalse();
        assertThatThrownBy(() -> Nftables.run("list table " + table())).hasMessageContaining("No such file");
        assertThat(realizer.realize("team", false).bridge()).isEqualTo("tw-team"); // and it works once the port is free
    }

    @Test
    void aPrivateStateDirectoryRealizesBecauseDnsmasqsDataLivesUnderRun() throws Exception {
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(root))).as("JUnit's @TempDir")
                .isEqualTo("rwx------");
        realizer.registry().join("team", "web");
        realizer.realize("team", false);

        assertThat(Dns.queryA("10.77.0.1", "web.team")).containsExactly("10.77.0.2");
        Path runtime = NetworkRealizer.runtimeDir(root);
        assertThat(runtime.getParent()).isEqualTo(Path.of("/run/tapwire"));
        assertThat(runtime.getFileName().toString()).matches("[0-9a-f]{16}");
        assertThat(NetworkRealizer.runtimeDir(root.resolve("."))).as("stable").isEqualTo(runtime);
        assertThat(NetworkRealizer.runtimeDir(root.resolve("other"))).as("distinct").isNotEqualTo(runtime);
        assertThat(Files.readString(runtime.resolve("state-dir"))).isEqualTo(root.toAbsolutePath() + "\n");
        for (Path dir : List.of(runtime.getParent(), runtime, runtime.resolve("team"), runtime.resolve("team/hosts"))) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir))).as(dir.toString())
                    .isEqualTo("rwxr-xr-x");
        }
        assertThat(root.resolve("realized/team/realization.properties")).exists();
        assertThat(root.resolve("realized/team/hosts")).as("no dnsmasq data in the state directory").doesNotExist();
    }

    @Test
    void aLinkPlantedWhereDnsmasqsDataGoesIsRefusedAndNeverFollowed() throws Exception {
        Path runtime = NetworkRealizer.runtimeDir(root);
        Files.createDirectories(runtime.getParent());
        Path target = Files.createDirectory(root.resolve("elsewhere"));
        Files.createSymbolicLink(runtime, target);
        try {
            assertThatThrownBy(() -> realizer.realize("team", false)).isInstanceOf(RealizationException.class)
                    .isInstanceOf(dev.tapwire.network.NetworkException.class)
                    .hasMessageContaining(runtime + " exists and is a symbolic link")
                    .hasMessageContaining("never follows a link");
            try (var inTarget = Files.list(target)) {
                assertThat(inTarget).as("nothing written through the link").isEmpty();
            }
            assertThat(link("tw-team")).isEmpty();
            assertThat(realizer.list()).isEmpty();
        } finally {
            Files.delete(runtime);
        }
        assertThatThrownBy(() -> realizer.realize("missing", false))
                .isInstanceOf(dev.tapwire.network.NetworkNotFoundException.class);
        assertThat(link("tw-missing")).isEmpty();
    }

    @Test
    void longNetworkNamesGetAHashedBridgeNameWithinFifteenBytes() {
        String name = NetworkRealizer.bridgeName("a-network-with-a-long-name");
        assertThat(name).startsWith("tw_").hasSize(15);
        assertThat(NetworkRealizer.bridgeName("a-network-with-a-long-name")).isEqualTo(name);
        assertThat(NetworkRealizer.bridgeName("twelve-chars")).isEqualTo("tw-twelve-chars");
    }
}
