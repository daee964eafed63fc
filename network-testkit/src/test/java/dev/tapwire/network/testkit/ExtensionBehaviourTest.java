package dev.tapwire.network.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.registry.FileNetworkRegistry;
import dev.tapwire.network.spi.ProviderSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Events;

/** Runs small test classes through the JUnit engine and checks what the testkit's extensions did. */
class ExtensionBehaviourTest {

    static final AtomicReference<Path> STATE = new AtomicReference<>();

    private static Events run(Class<?> testClass) {
        return EngineTestKit.engine("junit-jupiter").selectors(selectClass(testClass)).execute().testEvents();
    }

    static class UsesARegistry {
        @Test
        void joins(@TemporaryRegistry NetworkRegistry registry) {
            registry.create("dev");
            assertThat(registry.join("dev", "w1")).isEqualTo(Ipv4Address.parse("10.44.1.2"));
            STATE.set(((FileNetworkRegistry) registry).indexFile());
            registry.leave("dev", "w1");
        }
    }

    @Test
    void aTemporaryRegistryIsInjectedAndRemovedAfterAPassingTest() {
        run(UsesARegistry.class).assertStatistics(s -> s.succeeded(1));
        assertThat(STATE.get()).doesNotExist();
    }

    static class FailsWithARegistry {
        @Test
        void fails(@TemporaryRegistry FileNetworkRegistry registry) {
            registry.create("evidence");
            STATE.set(registry.indexFile());
            throw new AssertionError("boom");
        }
    }

    @Test
    void aFailingTestKeepsItsRegistryForEvidence() throws Exception {
        run(FailsWithARegistry.class).assertStatistics(s -> s.failed(1));
        assertThat(STATE.get()).exists();
        assertThat(Files.readString(STATE.get())).contains("evidence");
        deleteStateDirOf(STATE.get()); // the evidence was for this check: a passing run leaves nothing behind
    }

    /** Deletes the temporary state directory that holds {@code indexFile} ({@code <dir>/networks/index.json}). */
    private static void deleteStateDirOf(Path indexFile) throws java.io.IOException {
        Path dir = indexFile.getParent().getParent();
        assertThat(dir.getFileName().toString()).startsWith("tapwire-registry-");
        try (java.util.stream.Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    static class WrongParameterType {
        @Test
        void wrong(@TemporaryRegistry String registry) {
        }
    }

    @Test
    void aWrongParameterTypeNamesTheParameter() {
        run(WrongParameterType.class).assertStatistics(s -> s.failed(1)).failed().stream().forEach(e ->
                assertThat(e.getPayload(org.junit.platform.engine.TestExecutionResult.class).orElseThrow()
                        .getThrowable().orElseThrow().getMessage()).contains("registry").contains("NetworkRegistry"));
    }

    @LeakCheck
    static class LeaksATap {
        @Test
        void leaks() {
            memoryAt(Path.of("/tmp/tapwire-leak-test"))
                    .configure("leaky001", 1, VmSpec.of(1), List.of());
        }
    }

    @LeakCheck
    static class LeaksAMember {
        @Test
        void leaks(@TemporaryRegistry NetworkRegistry registry) {
            STATE.set(((FileNetworkRegistry) registry).indexFile());
            registry.create("dev");
            registry.join("dev", "forgotten");
        }
    }

    @LeakCheck
    static class CleansUp {
        @Test
        void tidy(@TemporaryRegistry NetworkRegistry registry) {
            InMemoryNetworkProvider p = memoryAt(Path.of("/tmp/tapwire-tidy"));
            p.configure("tidy0001", 1, VmSpec.of(1), List.of());
            registry.create("dev");
            registry.join("dev", "w");
            p.delete(List.of("tidy0001"));
            registry.leaveAll("w");
        }
    }

    @Test
    void theLeakCheckFailsATestThatLeavesTapsOrMembersBehind() throws Exception {
        Events tap = run(LeaksATap.class);
        tap.assertStatistics(s -> s.failed(1));
        assertThat(failure(tap)).contains("TAP btleaky001-0 of VM leaky001");
        Events member = run(LeaksAMember.class);
        member.assertStatistics(s -> s.failed(1));
        assertThat(failure(member)).contains("member forgotten (10.44.1.2) of network dev");
        deleteStateDirOf(STATE.get()); // kept as evidence of the failing test; not needed after the check
        run(CleansUp.class).assertStatistics(s -> s.succeeded(1));
        memoryAt(Path.of("/tmp/tapwire-leak-test")).delete(List.of("leaky001"));
    }

    /** An in-memory provider on the shared fake host of {@code root}, whose bridge br0 exists. */
    static InMemoryNetworkProvider memoryAt(Path root) {
        InMemoryNetworkProvider.hostOf(root).addBridge("br0");
        return new InMemoryNetworkProvider(ProviderSettings.of(root).with("bridge", "br0"));
    }

    private static String failure(Events events) {
        return events.failed().stream().findFirst().orElseThrow()
                .getPayload(org.junit.platform.engine.TestExecutionResult.class).orElseThrow()
                .getThrowable().orElseThrow().getMessage();
    }
}
