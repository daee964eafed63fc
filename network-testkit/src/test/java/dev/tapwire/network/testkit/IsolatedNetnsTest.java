package dev.tapwire.network.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@IsolatedNetns
class IsolatedNetnsTest {

    static final AtomicReference<String> SEEN_IN_BEFORE_EACH = new AtomicReference<>();

    @BeforeEach
    void makeABridge() {
        NetworkNamespace.createBridge("brtest");
        SEEN_IN_BEFORE_EACH.set(String.join(",", NetworkNamespace.links()));
    }

    @Test
    void theTestRunsInAFreshNamespaceWithWhatBeforeEachMade() {
        assertThat(NetworkNamespace.links()).containsExactly("lo", "brtest");
        assertThat(Thread.currentThread().getName()).isEqualTo("tapwire-netns");
    }

    @Test
    void everyTestGetsItsOwnNamespace() {
        // makeABridge would fail with EEXIST if the namespace were shared with the other test
        assertThat(SEEN_IN_BEFORE_EACH.get()).isEqualTo("lo,brtest");
    }

    @AfterEach
    void afterEachRunsInTheSameNamespace() {
        assertThat(NetworkNamespace.links()).contains("brtest");
    }
}
