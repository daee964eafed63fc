package dev.tapwire.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class VmSpecTest {

    @Test
    void queuesAreTwoPerCpuAndAtLeastTwo() {
        assertThat(VmSpec.of(1).numQueues()).isEqualTo(2);
        assertThat(VmSpec.of(4).numQueues()).isEqualTo(8);
    }

    @Test
    void multiQueueTapOnlyForMoreThanOnePairAndAWillingVmm() {
        assertThat(VmSpec.of(1).needsMultiQueueTap()).isFalse();
        assertThat(VmSpec.of(2).needsMultiQueueTap()).isTrue();
        assertThat(VmSpec.of(2).withMultiQueue(false).needsMultiQueueTap()).isFalse();
    }

    @Test
    void withersKeepTheOtherFields() {
        VmSpec spec = VmSpec.of(2).withQueueSize(1024).withMultiQueue(false).withNetworks(List.of("a", "b"));
        assertThat(spec).isEqualTo(new VmSpec(2, 1024, false, List.of("a", "b")));
    }

    @Test
    void portSecurityIsOnForEveryNicUntilTurnedOffAndAddressesAreKeptPerNic() {
        Ipv4Address ip = Ipv4Address.parse("10.9.8.7");
        VmSpec spec = VmSpec.of(1).withNetworks(List.of("a")).withoutPortSecurity(0, 2).withAddress(1, ip)
                .withQueueSize(512).withWorkspace("web");
        assertThat(VmSpec.of(1).portSecurity(0)).isTrue();
        assertThat(spec.portSecurity(0)).isFalse();
        assertThat(spec.portSecurity(1)).isTrue();
        assertThat(spec.unsecured()).isEqualTo(Set.of(0, 2));
        assertThat(spec.address(1)).contains(ip);
        assertThat(spec.address(2)).isEqualTo(Optional.empty());
        assertThat(spec.addresses()).isEqualTo(Map.of(1, ip));
        assertThat(spec).isEqualTo(new VmSpec(1, 512, true, List.of("a"), "web", Set.of(0, 2), Map.of(1, ip)));
    }

    @Test
    void portSecuritySettingsAreValidated() {
        Ipv4Address ip = Ipv4Address.parse("10.9.8.7");
        assertThatThrownBy(() -> VmSpec.of(1).withoutPortSecurity(-1)).isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("a NIC index is 0 or more; got -1");
        assertThatThrownBy(() -> VmSpec.of(1).withAddress(0, null)).isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("address of NIC 0 must not be null");
        assertThat(VmSpec.of(1).withNetworks(List.of("a")).withAddress(0, ip).address(0))
                .as("on a named network: the static address it joins with").contains(ip);
        assertThatThrownBy(() -> VmSpec.of(1).withAddress(3, ip).requireNics("vm-1", 2))
                .isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("VM vm-1 has 2 NIC(s), 0 to 1, but its spec sets an address for NIC 3");
        VmSpec.of(1).withoutPortSecurity(1).withAddress(0, ip).requireNics("vm-1", 2);
    }

    @Test
    void rejectsNonsense() {
        assertThatThrownBy(() -> VmSpec.of(0)).hasMessageContaining("cpu count 0 is out of range: expected 1 to 128");
        assertThatThrownBy(() -> VmSpec.of(Integer.MAX_VALUE)).as("2 * cpu would overflow to a single queue")
                .hasMessageContaining("expected 1 to 128");
        assertThatThrownBy(() -> VmSpec.of(100_000)).as("200,000 queues; a TAP has at most 256")
                .hasMessageContaining("at most 256 queues");
        assertThat(VmSpec.of(128).numQueues()).isEqualTo(256);
        assertThatThrownBy(() -> VmSpec.of(1).withQueueSize(100)).hasMessageContaining("power of two");
    }

    @Test
    void tapNamingSchemesFitFifteenBytesAndHashedNamesTellCommonIdsApart() {
        assertThat(TapNaming.PREFIX.tapName("vm-0f3a2b1c", 3)).isEqualTo("btvm-0f3a2-3");
        java.util.Set<String> names = new java.util.HashSet<>();
        for (int i = 0; i < 10_000; i++) {
            String name = TapNaming.HASHED.tapName("workspace-" + i, 63);
            assertThat(name).matches("tw[a-z2-7]{10}-63").hasSizeLessThanOrEqualTo(15);
            names.add(name);
        }
        assertThat(names).as("no clash among 10,000 IDs that share their first 10 characters").hasSize(10_000);
        assertThat(TapNaming.HASHED.tapName("workspace-1", 0)).isEqualTo(TapNaming.HASHED.tapName("workspace-1", 0));
        assertThat(TapNaming.parse("HASHED")).isEqualTo(TapNaming.HASHED);
        assertThatThrownBy(() -> TapNaming.parse("short")).isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("expected prefix").hasMessageContaining("or hashed");
    }

    @Test
    void theWorkspaceIsStoredTrimmedAsTheRegistryStoresMembers() {
        assertThat(VmSpec.of(1).withWorkspace(" beta ").workspace()).isEqualTo("beta");
        assertThat(VmSpec.of(1).withWorkspace("\tbeta\n").workspaceOr("vm-1")).isEqualTo("beta");
        assertThat(VmSpec.of(1).withWorkspace(" beta ")).isEqualTo(VmSpec.of(1).withWorkspace("beta"));
        assertThatThrownBy(() -> VmSpec.of(1).withWorkspace("  ")).isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("leave it unset to use the VM ID");
        assertThatThrownBy(() -> VmSpec.of(1).withWorkspace("be\u0007ta")).isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("control character");
    }
}
