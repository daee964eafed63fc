package dev.tapwire.network.testkit;

import java.util.Optional;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Skips a test whose host lacks what it needs (a tool, a package, a kernel feature) with the reason — except
 * where privileged tests are required ({@link IsolatedNetnsExtension#privilegedTestsRequired()}: under
 * {@code CI=true}), where the same call fails the test, so CI never passes by skipping.
 *
 * <pre>{@code
 * HostRequirements.assume(NetworkRealizer.unavailabilityCause());   // e.g. "dnsmasq is not installed (...)"
 * HostRequirements.assume(Files.isExecutable(openssl), "needs openssl (Debian package openssl)");
 * }</pre>
 */
public final class HostRequirements {

    private HostRequirements() {
    }

    /**
     * Skips (or, where required, fails) the calling test when something is missing.
     *
     * @param missing why the test cannot run here, or empty when it can
     * @throws org.opentest4j.TestAbortedException to skip, with the reason
     * @throws AssertionError where privileged tests are required, with the reason
     */
    public static void assume(Optional<String> missing) {
        missing.ifPresent(HostRequirements::unavailable);
    }

    /**
     * Skips (or, where required, fails) the calling test unless {@code available}.
     *
     * @param available whether the test can run here
     * @param reason what is missing and how to get it, e.g. the Debian package
     * @throws org.opentest4j.TestAbortedException to skip, with the reason
     * @throws AssertionError where privileged tests are required, with the reason
     */
    public static void assume(boolean available, String reason) {
        if (!available) {
            unavailable(reason);
        }
    }

    private static void unavailable(String reason) {
        if (IsolatedNetnsExtension.privilegedTestsRequired()) {
            Assertions.fail("this test must run here but cannot: " + reason);
        }
        Assumptions.abort(reason);
    }
}
