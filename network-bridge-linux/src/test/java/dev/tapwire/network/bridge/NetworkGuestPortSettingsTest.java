package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.bridge.linux.Interfaces;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.bridge.linux.TapQueue;
import dev.tapwire.network.bridge.linux.Tun;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.TemporaryRegistry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The per-network guest-port settings ({@code network up --isolate / --no-port-security}) reach the guests of a
 * realized named network end to end, from the attacker's side: two VMs on {@code team}, raw frames from one TAP
 * queue, what the other receives. Changing isolation by realizing again acts on the VMs already there; a change of
 * port security reaches each VM at its next configure (a recovery with its saved configs does it).
 */
@IsolatedNetns
class NetworkGuestPortSettingsTest {

    private static final int PORT = 5000;
    private static final Ipv4Address ALL = Ipv4Address.parse("255.255.255.255");

    @TempDir
    Path root;

    private NetworkRealizer realizer;
    private BridgeNetworkProvider provider;
    private final List<AutoCloseable> closing = new ArrayList<>();
    private NicConfig victim;
    private NicConfig attacker;
    private FrameProbe probe;

    @BeforeEach
    void network(@TemporaryRegistry NetworkRegistry registry) {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        registry.create("team", Ipv4Subnet.parse("10.77.0.0/24"));
        provider = new BridgeNetworkProvider(ProviderSettings.of(root).withRegistry(registry));
        realizer = provider.realizer().orElseThrow();
        realizer.realize("team", NetworkRealizer.Options.defaults().withIsolated(true));
        VmSpec onTeam = VmSpec.of(1).withMultiQueue(false).withNetworks(List.of("team"));
        victim = provider.configure("victim01", 1, onTeam.withWorkspace("victim"), List.of()).get(0);
        attacker = provider.configure("attack01", 1, onTeam.withWorkspace("attacker"), List.of()).get(0);
        TapQueue victimQueue = Tun.attach(victim.tap(), false);
        closing.add(victimQueue);
        TapQueue attackerQueue = Tun.attach(attacker.tap(), false);
        closing.add(attackerQueue);
        probe = new FrameProbe(attackerQueue, victimQueue);
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
        provider.delete(List.of("victim01", "attack01"));
        realizer.unrealize("team");
        provider.close();
    }

    private Function<byte[], byte[]> toVictim(MacAddress source) {
        return m -> Frames.udp4(victim.mac(), source, attacker.network().ip(), victim.network().ip(), PORT, PORT, m);
    }

    private boolean bothIsolated() {
        try (Rtnetlink netlink = Rtnetlink.open(); Interfaces interfaces = Interfaces.open()) {
            return netlink.isolatedPorts().containsAll(List.of(interfaces.index(victim.tap()),
                    interfaces.index(attacker.tap())));
        }
    }

    @Test
    void anIsolatedNetworksGuestsCannotReachEachOtherUntilItIsRealizedWithoutIsolation() {
        assertThat(bothIsolated()).as("configure isolates the ports of an isolated network").isTrue();
        probe.isDropped(toVictim(attacker.mac()), probe.atVictim());

        realizer.realize("team", NetworkRealizer.Options.defaults().withIsolated(false));

        assertThat(bothIsolated()).as("the VMs already on the bridge follow the new setting").isFalse();
        probe.arrives(toVictim(attacker.mac()), probe.atVictim());
        provider.verify("attack01");
        probe.arrives(toVictim(attacker.mac()), probe.atVictim()); // verify keeps the network's setting
    }

    @Test
    void aNetworkRealizedWithoutPortSecurityLetsAGuestsSpoofedFramesThroughAndWithItDropsThem() {
        realizer.realize("team", NetworkRealizer.Options.defaults()); // not isolated, port security on
        MacAddress foreign = MacAddress.parse("02:00:00:00:00:66");
        Function<byte[], byte[]> spoofedMac = m -> Frames.udp4(Frames.BROADCAST, foreign, attacker.network().ip(),
                ALL, PORT, PORT, m);
        probe.arrives(toVictim(attacker.mac()), probe.atVictim());
        probe.isDropped(spoofedMac, probe.atVictim());

        realizer.realize("team", NetworkRealizer.Options.defaults().withPortSecurity(false));
        probe.isDropped(spoofedMac, probe.atVictim()); // a VM's entry is what its configure admitted...
        provider.configure("attack01", 1, VmSpec.of(1).withMultiQueue(false).withNetworks(List.of("team"))
                .withWorkspace("attacker"), List.of(attacker)); // ...until its next configure (saved configs)

        probe.arrives(spoofedMac, probe.atVictim());
    }
}
