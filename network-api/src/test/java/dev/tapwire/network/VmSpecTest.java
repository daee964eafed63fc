package dev.tapwire.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
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
    void rejectsNonsense() {
        assertThatThrownBy(() -> VmSpec.of(0)).hasMessageContaining("at least 1");
        assertThatThrownBy(() -> VmSpec.of(1).withQueueSize(100)).hasMessageContaining("power of two");
    }
}
