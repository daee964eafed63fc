package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.NetworkNotFoundException;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.bridge.linux.Interfaces;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.bridge.linux.Tun;
import dev.tapwire.network.gc.ActiveVms;
import dev.tapwire.network.gc.GcOrchestrator;
import dev.tapwire.network.gc.GcReport;
import dev.tapwire.network.registry.FileNetworkRegistry;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The realizer's GC never takes a bridge from under an active VM, and an empty registry proves nothing; two
 * overlapping networks are never both realized.
 */
@IsolatedNetns
class GcAndOverlapTest {

    @TempDir
    Path root;
    @TempDir
    Path registryDir;
    @TempDir
    Path emptyDir;

    FileNetworkRegistry registry;
    NetworkRealizer realizer;

    @BeforeEach
    void network() {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        registry = FileNetworkRegistry.open(registryDir);
        registry.create("team", Ipv4Subnet.parse("10.77.0.0/24"));
        registry.create("keep", Ipv4Subnet.parse("10.78.0.0/24"));
        realizer = new NetworkRealizer(root, registry);
    }

    @AfterEach
    void down() {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            netlink.link("bvm1-0").ifPresent(l -> netlink.execute(List.of(Rtnetlink.deleteLink(l.index(), "bvm1-0"))));
        }
        NetworkRealizer any = new NetworkRealizer(root, registry);
        any.list().forEach(r -> any.unrealize(r.network()));
    }

    /** A TAP of VM {@code vm-1} on the network's bridge, as the bridge provider makes it. */
    private static void tapOfVmOn(String bridge) {
        Tun.createPersistentTap("bvm1-0", false, OptionalInt.empty(), OptionalInt.empty());
        try (Rtnetlink netlink = Rtnetlink.open(); Interfaces interfaces = Interfaces.open()) {
            int index = interfaces.index("bvm1-0");
            netlink.execute(List.of(Rtnetlink.setAlias(index, "bvm1-0", BridgeTaps.ALIAS_PREFIX + "vm-1"),
                    Rtnetlink.setMaster(index, "bvm1-0", interfaces.index(bridge))));
        }
    }

    private static boolean bridgeExists(String name) {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            return netlink.link(name).isPresent();
        }
    }

    @Test
    void anEmptyOrMissingRegistryReclaimsNothingEvenWithoutTaps() {
        realizer.realize("team", false);
        NetworkRealizer onEmpty = new NetworkRealizer(root, FileNetworkRegistry.open(emptyDir.resolve("unmounted")));
        assertThat(onEmpty.collectGarbage()).isEmpty();
        assertThat(onEmpty.syncAll()).containsExactly("team");
        GcOrchestrator gc = new GcOrchestrator();
        gc.register(onEmpty.gcModule());
        gc.register(ActiveVms.of(Set.of()));
        assertThat(gc.runOnce().collected().getOrDefault("named-networks", Set.of())).isEmpty();
        assertThat(bridgeExists("tw-team")).isTrue();
        assertThat(realizer.inspect("team").orElseThrow().problems()).isEmpty();
    }

    @Test
    void aBridgeCarryingTheTapOfAnActiveVmIsNeverReclaimedAndOneOfADeadVmIs() {
        realizer.realize("team", false);
        tapOfVmOn("tw-team");
        registry.remove("team", true); // "keep" stays: the registry is not empty

        assertThat(realizer.collectGarbage()).as("without an active-VM view every VM counts as active").isEmpty();
        GcOrchestrator alive = new GcOrchestrator();
        alive.register(realizer.gcModule());
        alive.register(ActiveVms.of(Set.of("vm-1")));
        GcReport report = alive.runOnce();
        assertThat(report.succeeded()).isTrue();
        assertThat(report.collected().getOrDefault("named-networks", Set.of())).isEmpty();
        assertThat(bridgeExists("tw-team")).isTrue();

        GcOrchestrator dead = new GcOrchestrator();
        dead.register(realizer.gcModule());
        dead.register(ActiveVms.of(Set.of("vm-2")));
        assertThat(dead.runOnce().collected().get("named-networks")).containsExactly("team");
        assertThat(bridgeExists("tw-team")).isFalse();
    }

    @Test
    void aNetworkOverlappingARealizedOneIsRefusedNamingBoth() {
        // the registry refuses overlapping networks, but a hand-edited index (or another registry) can hold them
        NetworkRecord wide = new NetworkRecord("wide", Ipv4Subnet.parse("10.44.0.0/23"),
                dev.tapwire.network.Ipv4Address.parse("10.44.0.1"), Instant.EPOCH, List.of());
        NetworkRecord narrow = new NetworkRecord("narrow", Ipv4Subnet.parse("10.44.1.0/24"),
                dev.tapwire.network.Ipv4Address.parse("10.44.1.1"), Instant.EPOCH, List.of());
        List<NetworkRecord> records = List.of(narrow, wide);
        NetworkRegistry overlapping = (NetworkRegistry) Proxy.newProxyInstance(NetworkRegistry.class.getClassLoader(),
                new Class<?>[] {NetworkRegistry.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "list" -> records;
                    case "find" -> records.stream().filter(r -> r.name().equals(args[0])).findFirst();
                    case "get" -> records.stream().filter(r -> r.name().equals(args[0])).findFirst()
                            .orElseThrow(() -> new NetworkNotFoundException("no " + args[0]));
                    default -> throw new UnsupportedOperationException(method.getName());
                });
        NetworkRealizer both = new NetworkRealizer(root, overlapping);
        both.realize("wide", false);
        assertThatThrownBy(() -> both.realize("narrow", false)).isInstanceOf(DeviceOperationException.class)
                .hasMessageContaining("network narrow (10.44.1.0/24) overlaps network wide (10.44.0.0/23)");
        assertThat(bridgeExists("tw-narrow")).isFalse();
        assertThat(both.list()).extracting(Realization::network).containsExactly("wide");
        both.unrealize("wide");
        assertThat(Optional.of(both.realize("narrow", false).bridge())).contains("tw-narrow");
        both.unrealize("narrow");
    }
}
