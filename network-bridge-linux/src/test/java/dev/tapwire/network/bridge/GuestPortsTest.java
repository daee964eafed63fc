package dev.tapwire.network.bridge;

import static dev.tapwire.network.bridge.FrameProbe.marked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.ConfigureRequest;
import dev.tapwire.network.GuestNetwork;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.bridge.PortSecurity.Entry;
import dev.tapwire.network.bridge.linux.BridgePorts;
import dev.tapwire.network.bridge.linux.Interfaces;
import dev.tapwire.network.bridge.linux.Nftables;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.bridge.linux.TapQueue;
import dev.tapwire.network.bridge.linux.Tun;
import dev.tapwire.network.gc.ActiveVms;
import dev.tapwire.network.gc.GcOrchestrator;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.NetworkNamespace;
import java.net.DatagramSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Port security as the provider applies it: a hostile guest writes raw frames to the queue of a TAP the provider
 * made; the victim's queue and the host show what got through. Each hostile frame first gets through with the
 * NIC's port security turned off ({@link VmSpec#withoutPortSecurity}: the switch works, and the frame is one the
 * rules must stop), then, after the same VMs are configured again with it on, a control frame with the NIC's own
 * MAC and address still arrives and the hostile one does not. Each test runs in its own network namespace.
 */
@IsolatedNetns
class GuestPortsTest {

    private static final String BRIDGE = "br0";
    private static final String VICTIM_VM = "victim01";
    private static final String ATTACKER_VM = "attacker";
    private static final MacAddress VICTIM_MAC = MacAddress.parse("02:00:00:00:00:0a");
    private static final MacAddress ATTACKER_MAC = MacAddress.parse("02:00:00:00:00:0b");
    private static final MacAddress FOREIGN_MAC = MacAddress.parse("02:00:00:00:00:66");
    private static final Ipv4Address GATEWAY = Ipv4Address.parse("10.44.1.1");
    private static final Ipv4Address VICTIM_IP = Ipv4Address.parse("10.44.1.10");
    private static final Ipv4Address ATTACKER_IP = Ipv4Address.parse("10.44.1.11");
    private static final Ipv4Address FOREIGN_IP = Ipv4Address.parse("10.44.1.99");
    private static final Ipv4Address ALL = Ipv4Address.parse("255.255.255.255");
    private static final MacAddress NOBODY = MacAddress.parse("00:00:00:00:00:00");
    private static final int PORT = 5000;

    @TempDir
    Path root;

    private BridgeNetworkProvider provider;
    private PortSecurity security;
    private final List<AutoCloseable> closing = new ArrayList<>();
    private List<NicConfig> victimNics;
    private List<NicConfig> attackerNics;
    private FrameProbe probe;

    @BeforeEach
    void network() {
        HostRequirements.assume(Nftables.unavailabilityCause());
        NetworkNamespace.createBridge(BRIDGE);
        try (Interfaces interfaces = Interfaces.open()) {
            interfaces.setIpv4(BRIDGE, GATEWAY, 24);
        }
        provider = new BridgeNetworkProvider(ProviderSettings.of(root).with("bridge", BRIDGE));
        security = new PortSecurity(NetworkRealizer.ownerTag(root));
        // the guests' MACs are given through saved configs, as a manager recovering its VMs passes them
        victimNics = provider.configure(VICTIM_VM, 1, VmSpec.of(1).withoutPortSecurity(0), List.of(saved(VICTIM_VM,
                VICTIM_MAC)));
        attackerNics = provider.configure(ATTACKER_VM, 1, VmSpec.of(1).withoutPortSecurity(0),
                List.of(saved(ATTACKER_VM, ATTACKER_MAC)));
        TapQueue victim = open(Tun.attach(victimNics.get(0).tap(), false));
        TapQueue attacker = open(Tun.attach(attackerNics.get(0).tap(), false));
        probe = new FrameProbe(attacker, victim);
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
        provider.close();
    }

    private NicConfig saved(String vm, MacAddress mac) {
        return new NicConfig(provider.naming().tapName(vm, 0), mac, 2, 256, BridgeNetworkProvider.TYPE, BRIDGE, null,
                null);
    }

    /** Both VMs configured again, now with port security on and the addresses the manager knows. */
    private void secureBoth() {
        provider.configureAll(List.of(
                new ConfigureRequest(VICTIM_VM, 1, VmSpec.of(1).withAddress(0, VICTIM_IP), victimNics),
                new ConfigureRequest(ATTACKER_VM, 1, VmSpec.of(1).withAddress(0, ATTACKER_IP), attackerNics)));
    }

    private String victimTap() {
        return victimNics.get(0).tap();
    }

    private String attackerTap() {
        return attackerNics.get(0).tap();
    }

    // ------------------------------------------------------------------ what a guest may send

    @Test
    void aGuestOfTheProviderSendsOnlyWithItsOwnMacArpAndAddressAndThePerNicSwitchLetsItThrough() {
        Function<byte[], byte[]> spoofedMac = m -> Frames.udp4(Frames.BROADCAST, VICTIM_MAC, ATTACKER_IP, ALL, PORT,
                PORT, m);
        Function<byte[], byte[]> poison = m -> marked(Frames.arp(Frames.BROADCAST, ATTACKER_MAC, 1, ATTACKER_MAC,
                VICTIM_IP, NOBODY, GATEWAY), m);
        Function<byte[], byte[]> foreignSource = m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, FOREIGN_IP, ALL,
                PORT, PORT, m);
        Function<byte[], byte[]> own = m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, ATTACKER_IP, ALL, PORT, PORT,
                m);
        assertThat(security.admitted()).as("port security off on a NIC of no named network: not admitted").isEmpty();
        probe.arrives(spoofedMac, probe.atVictim());
        probe.arrives(poison, probe.atVictim());
        probe.arrives(foreignSource, probe.atVictim());

        secureBoth();
        assertThat(security.admitted()).containsExactlyInAnyOrderEntriesOf(Map.of(
                victimTap(), Entry.strict(VICTIM_MAC, VICTIM_IP), attackerTap(), Entry.strict(ATTACKER_MAC,
                        ATTACKER_IP)));
        probe.arrives(own, probe.atVictim());
        probe.isDropped(spoofedMac, probe.atVictim());
        probe.isDropped(poison, probe.atVictim());
        probe.isDropped(foreignSource, probe.atVictim());

        // off again for the attacker's NIC: its elements go in the same configure
        provider.configure(ATTACKER_VM, 1, VmSpec.of(1).withoutPortSecurity(0), attackerNics);
        assertThat(security.admitted()).containsOnlyKeys(victimTap());
        probe.arrives(spoofedMac, probe.atVictim());
    }

    @Test
    void rogueDhcpServersRouterAdvertisementsAndVlanTagsFromAGuestOfTheProviderAreDropped() {
        int xid = ThreadLocalRandom.current().nextInt();
        Function<byte[], byte[]> offer = m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, ATTACKER_IP, ALL, 67, 68,
                marked(Frames.dhcpReply(Frames.DHCP_OFFER, xid, VICTIM_MAC, VICTIM_IP, ATTACKER_IP), m));
        Function<byte[], byte[]> ack = m -> Frames.udp4(VICTIM_MAC, ATTACKER_MAC, ATTACKER_IP, VICTIM_IP, 67, 68,
                marked(Frames.dhcpReply(Frames.DHCP_ACK, xid, VICTIM_MAC, VICTIM_IP, ATTACKER_IP), m));
        Function<byte[], byte[]> ra = m -> Frames.routerAdvertisement(ATTACKER_MAC, Frames.linkLocal(ATTACKER_MAC),
                Frames.ipv6Address("2001:db8:66::"), m);
        Function<byte[], byte[]> dot1q = m -> Frames.tagged(Frames.VLAN_8021Q, 10, Frames.udp4(Frames.BROADCAST,
                ATTACKER_MAC, VICTIM_IP, ALL, PORT, PORT, m));
        Function<byte[], byte[]> qinq = m -> Frames.tagged(Frames.VLAN_8021AD, 20, Frames.tagged(Frames.VLAN_8021Q,
                10, Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, VICTIM_IP, ALL, PORT, PORT, m)));
        for (Function<byte[], byte[]> hostile : List.of(offer, ack, ra, dot1q, qinq)) {
            probe.arrives(hostile, probe.atVictim());
        }
        secureBoth();
        probe.arrives(m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, ATTACKER_IP, ALL, PORT, PORT, m),
                probe.atVictim());
        for (Function<byte[], byte[]> hostile : List.of(offer, ack, ra, dot1q, qinq)) {
            probe.isDropped(hostile, probe.atVictim());
        }
    }

    @Test
    void aNicOfNoNamedNetworkWithoutAGivenAddressGetsTheMacAndArpRulesOnly() {
        provider.configureAll(List.of(
                new ConfigureRequest(VICTIM_VM, 1, VmSpec.of(1).withAddress(0, VICTIM_IP), victimNics),
                new ConfigureRequest(ATTACKER_VM, 1, VmSpec.of(1), attackerNics)));
        assertThat(security.admitted()).containsEntry(attackerTap(), Entry.macOnly(ATTACKER_MAC));
        probe.arrives(m -> Frames.udp4(Frames.BROADCAST, ATTACKER_MAC, FOREIGN_IP, ALL, PORT, PORT, m),
                probe.atVictim());
        probe.isDropped(m -> Frames.udp4(Frames.BROADCAST, VICTIM_MAC, FOREIGN_IP, ALL, PORT, PORT, m),
                probe.atVictim());
        probe.isDropped(m -> marked(Frames.arp(Frames.BROADCAST, ATTACKER_MAC, 1, FOREIGN_MAC, FOREIGN_IP, NOBODY,
                GATEWAY), m), probe.atVictim());
    }

    // ------------------------------------------------------------------ kept exact

    @Test
    void aFlushOfTheRulesetBetweenTwoConfiguresIsUndoneByTheSecond() {
        Function<byte[], byte[]> spoofed = m -> Frames.udp4(Frames.BROADCAST, VICTIM_MAC, ATTACKER_IP, ALL, PORT,
                PORT, m);
        secureBoth();
        probe.isDropped(spoofed, probe.atVictim());
        Nftables.run("flush ruleset"); // a firewall reload
        probe.arrives(spoofed, probe.atVictim());

        provider.configure("third001", 1, VmSpec.of(1), List.of());

        assertThat(security.admitted()).containsKeys(victimTap(), attackerTap(), provider.naming().tapName("third001",
                0));
        assertThat(security.admitted().get(attackerTap())).isEqualTo(Entry.strict(ATTACKER_MAC, ATTACKER_IP));
        probe.isDropped(spoofed, probe.atVictim());
    }

    @Test
    void aRecoveryAfterTheTableWasLostAdmitsTheRecoveredTapsAgain() {
        secureBoth();
        Nftables.run("flush ruleset");
        assertThat(security.admitted()).isEmpty();
        provider.configure(ATTACKER_VM, 1, VmSpec.of(1).withAddress(0, ATTACKER_IP), attackerNics);
        assertThat(security.admitted()).containsEntry(attackerTap(), Entry.strict(ATTACKER_MAC, ATTACKER_IP))
                .as("the victim's record rebuilds its elements with the table")
                .containsEntry(victimTap(), Entry.strict(VICTIM_MAC, VICTIM_IP));
    }

    @Test
    void verifyRestoresAFlushedTableAndAPortsIsolationAsItsNetworkSays() {
        Function<byte[], byte[]> spoofed = m -> Frames.udp4(Frames.BROADCAST, VICTIM_MAC, ATTACKER_IP, ALL, PORT,
                PORT, m);
        secureBoth();
        Nftables.run("flush ruleset");
        try (Rtnetlink netlink = Rtnetlink.open(); Interfaces interfaces = Interfaces.open()) {
            int index = interfaces.index(attackerTap());
            netlink.execute(List.of(BridgePorts.setIsolated(index, attackerTap(), true)));
            assertThat(netlink.isolatedPorts()).contains(index);

            provider.verify(ATTACKER_VM);

            assertThat(netlink.isolatedPorts()).as("the provider's bridge is no isolated network").doesNotContain(index);
        }
        assertThat(security.verify(Map.of(attackerTap(), Entry.strict(ATTACKER_MAC, ATTACKER_IP)), false)).isEmpty();
        probe.isDropped(spoofed, probe.atVictim());
    }

    @Test
    void thePortFlagsMessageConfigureSendsForAnIsolatedNetworkIsolatesThePortsButKeepsTheGatewayReachable()
            throws Exception {
        Function<byte[], byte[]> toVictim = m -> Frames.udp4(VICTIM_MAC, ATTACKER_MAC, ATTACKER_IP, VICTIM_IP, PORT,
                PORT, m);
        secureBoth();
        probe.arrives(toVictim, probe.atVictim());
        MacAddress bridgeMac;
        try (Rtnetlink netlink = Rtnetlink.open(); Interfaces interfaces = Interfaces.open()) {
            bridgeMac = interfaces.mac(BRIDGE);
            netlink.execute(List.of(
                    Rtnetlink.setPortFlags(interfaces.index(victimTap()), victimTap(), false, false, true),
                    Rtnetlink.setPortFlags(interfaces.index(attackerTap()), attackerTap(), false, false, true)));
            assertThat(netlink.isolatedPorts()).contains(interfaces.index(victimTap()),
                    interfaces.index(attackerTap()));
        }
        try (DatagramSocket host = FrameProbe.hostSocket(GATEWAY, PORT)) {
            probe.arrives(m -> Frames.udp4(bridgeMac, ATTACKER_MAC, ATTACKER_IP, GATEWAY, PORT, PORT, m),
                    FrameProbe.atHost(host));
            probe.isDropped(toVictim, probe.atVictim());
        }
        provider.verify(ATTACKER_VM); // the provider's own bridge is no isolated network: released again
        provider.verify(VICTIM_VM);
        probe.arrives(toVictim, probe.atVictim());
    }

    @Test
    void deleteRevokesAVmsPortsAndTheGcRemovesElementsNoTapExplains() {
        secureBoth();
        security.admit("ghost0", Entry.macOnly(FOREIGN_MAC)); // an element no TAP of this owner explains
        provider.configure("0rphan01", 1, VmSpec.of(1), List.of());

        provider.delete(List.of(VICTIM_VM));
        assertThat(security.admitted()).doesNotContainKey(victimTap()).containsKey(attackerTap());
        assertThat(PortRecords.vms(root)).doesNotContainKey(VICTIM_VM).containsKey(ATTACKER_VM);

        GcOrchestrator gc = new GcOrchestrator();
        provider.registerGc(gc);
        gc.register(ActiveVms.of(Set.of(ATTACKER_VM)));
        assertThat(gc.runOnce().succeeded()).isTrue();
        assertThat(security.admitted()).containsOnlyKeys(attackerTap());

        provider.delete(List.of(ATTACKER_VM));
        GcOrchestrator again = new GcOrchestrator();
        provider.registerGc(again);
        again.register(ActiveVms.of(Set.of("someone")));
        provider.configure("0rphan02", 1, VmSpec.of(1).withoutPortSecurity(0), List.of()); // gives the GC work
        assertThat(again.runOnce().succeeded()).isTrue();
        assertThat(Nftables.run("list tables")).as("the table goes with its last port")
                .doesNotContain(security.table());
    }

    @Test
    void theGcOfOneStateDirectoryNeverReclaimsTheTapsOfAnother(@TempDir Path other) {
        try (BridgeNetworkProvider second = new BridgeNetworkProvider(ProviderSettings.of(other)
                .with("bridge", BRIDGE))) {
            second.configure("tenant02", 1, VmSpec.of(1), List.of());
            GcOrchestrator gc = new GcOrchestrator();
            provider.registerGc(gc);
            gc.register(ActiveVms.of(Set.of(VICTIM_VM)));
            assertThat(gc.runOnce().succeeded()).isTrue();
            assertThat(provider.taps()).extracting(l -> l.name()).as("the attacker was this directory's and not"
                    + " active; the other directory's VM is not this GC's to take")
                    .contains(victimTap(), second.naming().tapName("tenant02", 0)).doesNotContain(attackerTap());
            second.delete(List.of("tenant02"));
        }
    }

    @Test
    void twoStateDirectoriesInOneNamespaceKeepTablesAndElementsOfTheirOwn(@TempDir Path other) {
        secureBoth();
        try (BridgeNetworkProvider second = new BridgeNetworkProvider(ProviderSettings.of(other)
                .with("bridge", BRIDGE))) {
            second.configure("tenant02", 1, VmSpec.of(1), List.of());
            PortSecurity theirs = new PortSecurity(NetworkRealizer.ownerTag(other));
            assertThat(theirs.table()).isNotEqualTo(security.table());
            assertThat(theirs.admitted()).containsOnlyKeys(second.naming().tapName("tenant02", 0));

            Nftables.run("flush ruleset");
            second.configure("tenant03", 1, VmSpec.of(1), List.of());
            assertThat(security.admitted()).as("the second owner rebuilds only its own table").isEmpty();

            provider.verify(VICTIM_VM);
            second.delete(List.of("tenant02", "tenant03"));
            assertThat(security.admitted()).containsOnlyKeys(victimTap(), attackerTap());
        }
    }

    // ------------------------------------------------------------------ settings

    @Test
    void settingsNamingNicsTheVmDoesNotHaveAreRefusedAndNothingIsMade() {
        assertThatThrownBy(() -> provider.configure("bad00001", 1, VmSpec.of(1).withoutPortSecurity(1), List.of()))
                .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("has 1 NIC(s)")
                .hasMessageContaining("port security off for NIC 1");
        assertThatThrownBy(() -> provider.configure("bad00001", 2, VmSpec.of(1).withAddress(2, FOREIGN_IP),
                List.of())).isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("an address for NIC 2");
        assertThat(provider.taps()).noneMatch(l -> l.name().startsWith("btbad"));
    }

    @Test
    void eachNicGetsTheEntryItsNetworkAndSpecSay() {
        Realization secured = new Realization("team", "tw-team", Ipv4Subnet.parse("10.77.0.0/24"),
                Ipv4Address.parse("10.77.0.1"), false);
        Realization unsecured = new Realization("team", "tw-team", secured.subnet(), secured.gateway(), false, false,
                false);
        Optional<GuestNetwork> guest = Optional.of(new GuestNetwork(VICTIM_IP, GATEWAY, 24));
        VmSpec on = VmSpec.of(1);
        assertThat(BridgeNetworkProvider.entryFor(on, 0, Optional.of(secured), VICTIM_MAC, guest))
                .contains(Entry.strict(VICTIM_MAC, VICTIM_IP));
        assertThat(BridgeNetworkProvider.entryFor(on, 0, Optional.of(unsecured), VICTIM_MAC, guest))
                .as("port security off for the network").contains(Entry.open());
        assertThat(BridgeNetworkProvider.entryFor(on.withoutPortSecurity(0), 0, Optional.of(secured), VICTIM_MAC,
                guest)).as("off for the NIC on a named network: still no rogue servers").contains(Entry.open());
        assertThat(BridgeNetworkProvider.entryFor(on, 0, Optional.empty(), VICTIM_MAC, Optional.empty()))
                .contains(Entry.macOnly(VICTIM_MAC));
        assertThat(BridgeNetworkProvider.entryFor(on.withAddress(0, VICTIM_IP), 0, Optional.empty(), VICTIM_MAC,
                Optional.empty())).contains(Entry.strict(VICTIM_MAC, VICTIM_IP));
        assertThat(BridgeNetworkProvider.entryFor(on.withoutPortSecurity(0), 0, Optional.empty(), VICTIM_MAC,
                Optional.empty())).isEmpty();
    }

    private <T extends AutoCloseable> T open(T resource) {
        closing.add(resource);
        return resource;
    }
}
