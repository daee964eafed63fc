package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.NetworkNamespace;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link NetworkNamespaces#call}: work runs in the given namespace on the calling platform thread, which comes back
 * to its own namespace whatever the task did; a virtual-thread caller is refused. Two private namespaces per test:
 * "home" (where the test's thread runs) and "there" (held by a parked thread), each with a bridge that names it.
 */
class NetworkNamespacesTest {

    private NetworkNamespace home;
    private CountDownLatch release;
    private CompletableFuture<Void> holder;
    private Path there;

    @BeforeEach
    void twoNamespaces() throws Exception {
        HostRequirements.assume(NetworkNamespaces.unavailabilityCause());
        home = NetworkNamespace.create();
        release = new CountDownLatch(1);
        CompletableFuture<Path> named = new CompletableFuture<>();
        holder = CompletableFuture.runAsync(() -> {
            try {
                NetworkNamespaces.callInNewNamespace(() -> {
                    NetworkNamespace.createBridge("brthere");
                    named.complete(NetworkNamespaces.ofCurrentThread());
                    release.await(30, TimeUnit.SECONDS); // keeps "there" alive while the test uses it
                    return null;
                });
            } catch (Exception e) {
                named.completeExceptionally(e);
            }
        });
        there = named.get(10, TimeUnit.SECONDS);
    }

    @AfterEach
    void release() throws Exception {
        if (release != null) {
            release.countDown();
            holder.get(10, TimeUnit.SECONDS);
        }
        if (home != null) {
            home.close();
        }
    }

    @Test
    void callRunsTheTaskInTheGivenNamespaceAndReturnsTheThreadToItsOwn() throws Exception {
        home.run(() -> {
            NetworkNamespace.createBridge("brhome");
            String own = namespaceOfThisThread();
            List<String> seen = NetworkNamespaces.call(there, () -> names(HostLinks.list()));
            assertThat(seen).contains("brthere").doesNotContain("brhome");
            assertThat(namespaceOfThisThread()).isEqualTo(own);
            assertThat(names(HostLinks.list())).contains("brhome").doesNotContain("brthere");
            return null;
        });
    }

    @Test
    void whatTheTaskOpensLivesInTheGivenNamespace() throws Exception {
        home.run(() -> {
            String target = Files.readSymbolicLink(there).toString();
            assertThat(NetworkNamespaces.call(there, NetworkNamespacesTest::namespaceOfThisThread)).isEqualTo(target);
            NetworkNamespaces.call(there, () -> {
                NetworkNamespace.createBridge("brmade");
                return null;
            });
            assertThat(names(HostLinks.list())).doesNotContain("brmade");
            assertThat(NetworkNamespaces.call(there, () -> names(HostLinks.list()))).contains("brmade");
            return null;
        });
    }

    @Test
    void aTaskThatThrowsStillReturnsTheThreadToItsNamespace() throws Exception {
        home.run(() -> {
            String own = namespaceOfThisThread();
            assertThatThrownBy(() -> NetworkNamespaces.call(there, () -> {
                throw new IOException("the task failed");
            })).isInstanceOf(IOException.class).hasMessage("the task failed");
            assertThat(namespaceOfThisThread()).isEqualTo(own);
            assertThatThrownBy(() -> NetworkNamespaces.call(there, () -> {
                throw new AssertionError("an error too");
            })).isInstanceOf(AssertionError.class);
            assertThat(namespaceOfThisThread()).isEqualTo(own);
            return null;
        });
    }

    @Test
    void aFileThatIsNoNetworkNamespaceIsRefusedAndTheThreadStaysWhereItWas() throws Exception {
        home.run(() -> {
            String own = namespaceOfThisThread();
            assertThatThrownBy(() -> NetworkNamespaces.call(Path.of("/run/netns/tw-polish-no-such-namespace"),
                    () -> "ran")).isInstanceOfSatisfying(DeviceOperationException.class,
                            e -> assertThat(e.errno()).isEqualTo(2))
                    .hasMessageContaining("/run/netns/tw-polish-no-such-namespace");
            assertThatThrownBy(() -> NetworkNamespaces.call(Path.of("/proc/self/ns/uts"), () -> "ran"))
                    .isInstanceOfSatisfying(DeviceOperationException.class, e -> assertThat(e.errno()).isEqualTo(22))
                    .hasMessageStartingWith("setns(CLONE_NEWNET)(/proc/self/ns/uts) failed: EINVAL");
            assertThat(namespaceOfThisThread()).isEqualTo(own);
            return null;
        });
    }

    @Test
    void aVirtualThreadCallerIsRefusedBeforeAnythingIsEntered() throws Exception {
        Optional<Path> java = javaWithVirtualThreads();
        HostRequirements.assume(java.isPresent(), "needs a JDK 21 or later for virtual threads (the build's JDK is "
                + Runtime.version().feature() + "): install one under /usr/lib/jvm, e.g. Debian openjdk-21-jdk-headless"
                + " or Temurin 21+");
        Process child = new ProcessBuilder(java.get().toString(), "-cp", System.getProperty("java.class.path"),
                VirtualCaller.class.getName(), there.toString()).redirectErrorStream(true).start();
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).as("the child JVM ends").isTrue();
        String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(output).as(output).contains("refused: " + NetworkException.class.getName() + ": "
                + "NetworkNamespaces.call(" + there + ", …) was called on virtual thread")
                .contains("network namespaces belong to OS threads").contains("task ran: false")
                .contains("namespace unchanged: true");
        assertThat(child.exitValue()).isZero();
    }

    /** Runs on a JDK with virtual threads: calls {@link NetworkNamespaces#call} from one and prints what happened. */
    static final class VirtualCaller {
        public static void main(String[] args) throws Exception {
            Path namespace = Path.of(args[0]);
            boolean[] ran = {false};
            Thread thread = (Thread) Thread.class.getMethod("startVirtualThread", Runnable.class).invoke(null,
                    (Runnable) () -> {
                        String before = namespaceOfThisThreadUnchecked();
                        try {
                            NetworkNamespaces.call(namespace, () -> ran[0] = true);
                            System.out.println("not refused");
                        } catch (Exception e) {
                            System.out.println("refused: " + e);
                        }
                        System.out.println("task ran: " + ran[0]);
                        System.out.println("namespace unchanged: " + before.equals(namespaceOfThisThreadUnchecked()));
                    });
            thread.join();
        }
    }

    private static Optional<Path> javaWithVirtualThreads() throws IOException {
        if (Runtime.version().feature() >= 21) {
            return Optional.of(Path.of(System.getProperty("java.home"), "bin", "java"));
        }
        Path jvms = Path.of("/usr/lib/jvm");
        if (!Files.isDirectory(jvms)) {
            return Optional.empty();
        }
        try (Stream<Path> homes = Files.list(jvms)) {
            return homes.filter(h -> Files.isExecutable(h.resolve("bin/java")) && featureOf(h) >= 21).sorted()
                    .map(h -> h.resolve("bin/java")).findFirst();
        }
    }

    /** The feature version in a JDK's {@code release} file ({@code JAVA_VERSION="25.0.3"}), 0 when unreadable. */
    private static int featureOf(Path javaHome) {
        try {
            for (String line : Files.readAllLines(javaHome.resolve("release"))) {
                if (line.startsWith("JAVA_VERSION=\"")) {
                    String version = line.substring("JAVA_VERSION=\"".length());
                    return Integer.parseInt(version.split("[.\"]")[0]);
                }
            }
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }

    private static String namespaceOfThisThread() throws IOException {
        return Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")).toString();
    }

    private static String namespaceOfThisThreadUnchecked() {
        try {
            return namespaceOfThisThread();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<String> names(List<HostLink> links) {
        return links.stream().map(HostLink::name).toList();
    }
}
