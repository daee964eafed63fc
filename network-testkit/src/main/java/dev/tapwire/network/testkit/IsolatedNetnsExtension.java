package dev.tapwire.network.testkit;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionConfigurationException;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.InvocationInterceptor;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.jupiter.api.extension.ReflectiveInvocationContext;

/**
 * The JUnit 5 extension behind {@link IsolatedNetns}: one {@link NetworkNamespace} per test, kept in the
 * test's store (closed by JUnit after {@code @AfterEach}, stopping every process left in it), every lifecycle
 * method run inside it, and the test's {@link StateDir} directory.
 */
public final class IsolatedNetnsExtension implements ExecutionCondition, InvocationInterceptor, ParameterResolver {

    /** Where tapwire keeps each state directory's dnsmasq data, in a directory holding a {@code state-dir} file. */
    private static final Path RUNTIME = Path.of("/run/tapwire");

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
        injectFields(context);
        NetworkNamespace namespace = namespaceFor(context);
        namespace.execute(invocation::proceed);
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.isAnnotated(StateDir.class);
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        if (parameter.getParameter().getType() != Path.class) {
            throw new ParameterResolutionException("@StateDir parameter " + parameter.getParameter().getName() + " of "
                    + parameter.getDeclaringExecutable() + " has type " + parameter.getParameter().getType().getName()
                    + "; it must be java.nio.file.Path");
        }
        return stateDirFor(context);
    }

    /** Sets every {@code @StateDir} field of the test instance that is still null (before its first method runs). */
    private static void injectFields(ExtensionContext context) throws IllegalAccessException {
        Optional<Object> instance = context.getTestInstance();
        if (instance.isEmpty()) {
            return;
        }
        for (Class<?> c = instance.get().getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (!f.isAnnotationPresent(StateDir.class)) {
                    continue;
                }
                if (f.getType() != Path.class || Modifier.isStatic(f.getModifiers()) || Modifier.isFinal(f.getModifiers())) {
                    throw new ExtensionConfigurationException("@StateDir field " + c.getName() + "." + f.getName()
                            + " must be a non-static, non-final java.nio.file.Path");
                }
                f.setAccessible(true);
                if (f.get(instance.get()) == null) {
                    f.set(instance.get(), stateDirFor(context));
                }
            }
        }
    }

    /** The state directory of the current test, created on first use and cleaned up when the test's context closes. */
    private static Path stateDirFor(ExtensionContext context) {
        return context.getStore(STORE).getOrComputeIfAbsent("state-dir", key -> TemporaryStateDir.create(context),
                TemporaryStateDir.class).dir;
    }

    /** A test's state directory; closed by JUnit after the namespace (stored later), whose close stopped its servers. */
    private static final class TemporaryStateDir implements AutoCloseable {
        private final ExtensionContext context;
        private final Path dir;

        private TemporaryStateDir(ExtensionContext context, Path dir) {
            this.context = context;
            this.dir = dir;
        }

        static TemporaryStateDir create(ExtensionContext context) {
            try {
                return new TemporaryStateDir(context, Files.createTempDirectory("tapwire-state-").toRealPath());
            } catch (IOException e) {
                throw new ParameterResolutionException("cannot create a temporary state directory: " + e, e);
            }
        }

        @Override
        public void close() throws IOException {
            NetworkNamespace namespace = context.getStore(STORE).get("netns", NetworkNamespace.class);
            if (namespace != null) {
                namespace.close(); // its servers first, whatever order JUnit closes the store in
            }
            List<Path> runtime = runtimeDirsOf(dir);
            if (context.getExecutionException().isPresent()) {
                context.publishReportEntry("tapwire.stateDir", dir.toString());
                System.err.println("tapwire: keeping the state of failed test " + context.getDisplayName() + " at "
                        + dir + (runtime.isEmpty() ? "" : " and " + runtime));
                return;
            }
            for (Path r : runtime) {
                deleteRecursively(r);
            }
            deleteRecursively(dir);
        }
    }

    /** The runtime directories whose {@code state-dir} file names {@code dir}. */
    static List<Path> runtimeDirsOf(Path dir) throws IOException {
        List<Path> found = new ArrayList<>();
        if (!Files.isDirectory(RUNTIME, LinkOption.NOFOLLOW_LINKS)) {
            return found;
        }
        String wanted = dir.toAbsolutePath().normalize() + "\n";
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(RUNTIME)) {
            for (Path d : dirs) {
                Path record = d.resolve("state-dir");
                if (Files.isRegularFile(record, LinkOption.NOFOLLOW_LINKS)
                        && Files.readString(record, StandardCharsets.UTF_8).equals(wanted)) {
                    found.add(d);
                }
            }
        }
        return found;
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
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
