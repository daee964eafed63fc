package dev.tapwire.network.registry;

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
}
