package dev.tapwire.network.registry;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/** Skips a test that this host cannot run — except under {@code CI=true}, where the skip is a failure. */
final class CiAssumptions {

    private CiAssumptions() {
    }

    static void assumeOrFailInCi(boolean condition, String reason) {
        if (condition) {
            return;
        }
        if ("true".equalsIgnoreCase(System.getenv("CI")) || Boolean.getBoolean("tapwire.requirePrivilegedTests")) {
            Assertions.fail("this test must run in CI but cannot: " + reason);
        }
        Assumptions.abort(reason);
    }

    /**
     * Skips (fails in CI) unless this host lets the test make a private mount namespace with util-linux
     * {@code unshare}.
     *
     * @param purpose what the namespace is for, for the reason given
     */
    static void assumePrivateMountNamespace(String purpose) throws Exception {
        assumeOrFailInCi(Files.isExecutable(UNSHARE), "needs util-linux unshare to " + purpose);
        Process probe = new ProcessBuilder(UNSHARE.toString(), "--mount", "--propagation", "private", "--", "true")
                .redirectErrorStream(true).start();
        String why = new String(probe.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assumeOrFailInCi(probe.waitFor() == 0, "cannot make a private mount namespace to " + purpose
                + " (needs CAP_SYS_ADMIN): " + why);
    }

    /**
     * Returns a process that runs {@code script} with {@code sh} in a private mount namespace: mounts made there
     * vanish with it. {@code $1}, {@code $2}, ... are {@code args}.
     */
    static ProcessBuilder inPrivateMountNamespace(String script, String... args) {
        List<String> command = new ArrayList<>(List.of(UNSHARE.toString(), "--mount", "--propagation", "private", "--",
                "sh", "-c", script, "sh"));
        command.addAll(List.of(args));
        return new ProcessBuilder(command);
    }

    /** The JVM the tests run on and their class path, for child processes: {@code java -cp CP}. */
    static String javaCommand() {
        return "\"" + Path.of(System.getProperty("java.home"), "bin", "java") + "\" -XX:TieredStopAtLevel=1 -cp \""
                + System.getProperty("java.class.path") + "\" ";
    }

    private static final Path UNSHARE = Path.of("/usr/bin/unshare");
}
