package dev.tapwire.network.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@IsolatedNetns
class IsolatedNetnsTest {

    static final AtomicReference<String> SEEN_IN_BEFORE_EACH = new AtomicReference<>();
    static final AtomicReference<Path> STATE_DIR = new AtomicReference<>();
    static final AtomicReference<Path> RUNTIME_DIR = new AtomicReference<>();

    @StateDir
    Path state;

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

    @Test
    void aStateDirIsInjectedIntoFieldsAndParametersOnePerTest(@StateDir Path parameter) throws Exception {
        assertThat(parameter).isEqualTo(state).isDirectory();
        Files.writeString(state.resolve("networks.json"), "{}");
        // what a realizer leaves there: the runtime directory naming this state directory
        Path runtime = Files.createDirectories(Path.of("/run/tapwire/testkit-" + ProcessHandle.current().pid()));
        Files.writeString(runtime.resolve("state-dir"), state.toAbsolutePath() + "\n");
        STATE_DIR.set(state);
        RUNTIME_DIR.set(runtime);
    }

    @Test
    void aProcessLeftInTheNamespaceIsStoppedWhenItCloses() throws Exception {
        NetworkNamespace ns = NetworkNamespace.create();
        Process sleeper = ns.run(() -> new ProcessBuilder("sleep", "600").start());
        assertThat(ns.processes()).extracting(ProcessHandle::pid).containsExactly(sleeper.pid());
        ns.close();
        assertThat(sleeper.waitFor(6, java.util.concurrent.TimeUnit.SECONDS)).as("stopped with its namespace").isTrue();
        assertThat(NetworkNamespace.links()).as("this test's own namespace is untouched").contains("brtest");
    }

    @AfterAll
    static void stateDirsAreRemovedAfterPassingTests() {
        Path state = STATE_DIR.get();
        if (state != null) {
            assertThat(state).doesNotExist();
            assertThat(RUNTIME_DIR.get()).doesNotExist();
        }
    }
}
