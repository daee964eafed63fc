package dev.tapwire.network.testkit;

import java.lang.reflect.Method;
import java.util.Optional;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.InvocationInterceptor;
import org.junit.jupiter.api.extension.ReflectiveInvocationContext;

/**
 * The JUnit 5 extension behind {@link IsolatedNetns}: one {@link NetworkNamespace} per test, kept in the
 * test's store (closed by JUnit after {@code @AfterEach}), and every lifecycle method run inside it.
 */
public final class IsolatedNetnsExtension implements ExecutionCondition, InvocationInterceptor {

    /** The system property that, set to true, turns a skip for lack of privilege into a failure. */
    public static final String REQUIRE_PROPERTY = "tapwire.requirePrivilegedTests";

    private static final ExtensionContext.Namespace STORE = ExtensionContext.Namespace.create(IsolatedNetnsExtension.class);

    /** Creates the extension; JUnit does this through {@link IsolatedNetns}. */
    public IsolatedNetnsExtension() {
    }

    /**
     * Tells whether privileged tests must run here rather than be skipped: under {@code CI=true} or
     * {@code -Dtapwire.requirePrivilegedTests=true}.
     *
     * @return true when a skip would be a failure
     */
    public static boolean privilegedTestsRequired() {
        return "true".equalsIgnoreCase(System.getenv("CI")) || Boolean.getBoolean(REQUIRE_PROPERTY);
    }

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        Optional<String> cause = NetworkNamespace.unavailabilityCause();
        if (cause.isEmpty()) {
            return ConditionEvaluationResult.enabled("private network namespaces are available");
        }
        if (privilegedTestsRequired()) {
            return ConditionEvaluationResult.enabled("required to run here; it will fail: " + cause.get());
        }
        return ConditionEvaluationResult.disabled("needs a private network namespace: " + cause.get());
    }

    @Override
    public void interceptBeforeEachMethod(Invocation<Void> invocation, ReflectiveInvocationContext<Method> call,
            ExtensionContext context) throws Throwable {
        inNamespace(invocation, context);
    }

    @Override
    public void interceptTestMethod(Invocation<Void> invocation, ReflectiveInvocationContext<Method> call,
            ExtensionContext context) throws Throwable {
        inNamespace(invocation, context);
    }

    @Override
    public void interceptTestTemplateMethod(Invocation<Void> invocation, ReflectiveInvocationContext<Method> call,
            ExtensionContext context) throws Throwable {
        inNamespace(invocation, context);
    }

    @Override
    public void interceptAfterEachMethod(Invocation<Void> invocation, ReflectiveInvocationContext<Method> call,
            ExtensionContext context) throws Throwable {
        inNamespace(invocation, context);
    }

    private static void inNamespace(Invocation<Void> invocation, ExtensionContext context) throws Throwable {
        NetworkNamespace.unavailabilityCause().ifPresent(reason -> {
            throw new AssertionError("this test needs a private network namespace and must run here "
                    + "(CI=true or -D" + REQUIRE_PROPERTY + "), but: " + reason);
        });
        NetworkNamespace namespace = namespaceFor(context);
        namespace.execute(invocation::proceed);
    }

    /**
     * Returns the namespace of the current test, creating it on first use.
     *
     * @param context the test's extension context
     * @return the namespace, closed by JUnit when the test's context closes
     */
    static NetworkNamespace namespaceFor(ExtensionContext context) {
        // an AutoCloseable in the store is closed by JUnit when the test's context closes
        return context.getStore(STORE).getOrComputeIfAbsent("netns", key -> NetworkNamespace.create(),
                NetworkNamespace.class);
    }
}
