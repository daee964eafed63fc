package dev.tapwire.network.testkit;

import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.registry.FileNetworkRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;

/** The extension behind {@link TemporaryRegistry}. */
public final class TemporaryRegistryExtension implements ParameterResolver {

    private static final ExtensionContext.Namespace STORE = ExtensionContext.Namespace.create(TemporaryRegistryExtension.class);

    /** Creates the extension; JUnit does this through {@link TemporaryRegistry}. */
    public TemporaryRegistryExtension() {
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.isAnnotated(TemporaryRegistry.class);
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        Class<?> type = parameter.getParameter().getType();
        if (!type.isAssignableFrom(FileNetworkRegistry.class)) {
            throw new ParameterResolutionException("@TemporaryRegistry parameter " + parameter.getParameter().getName()
                    + " of " + parameter.getDeclaringExecutable() + " has type " + type.getName()
                    + "; it must be NetworkRegistry or FileNetworkRegistry");
        }
        try {
            Path dir = Files.createTempDirectory("tapwire-registry-");
            FileNetworkRegistry registry = FileNetworkRegistry.open(dir);
            created(context).add(new Created(dir, registry));
            return registry;
        } catch (IOException e) {
            throw new ParameterResolutionException("cannot create a temporary state directory", e);
        }
    }

    /**
     * Returns the registries injected into the current test.
     *
     * @param context the test's context
     * @return the registries, in injection order
     */
    static List<NetworkRegistry> registries(ExtensionContext context) {
        return created(context).stream().map(c -> (NetworkRegistry) c.registry).toList();
    }

    private record Created(Path dir, FileNetworkRegistry registry) {
    }

    private static List<Created> created(ExtensionContext context) {
        return context.getStore(STORE).getOrComputeIfAbsent("created", k -> new Tracked(context), Tracked.class).list;
    }

    /** Deletes the directories when JUnit closes the test's context (after every afterEach), unless it failed. */
    private static final class Tracked implements AutoCloseable {
        private final ExtensionContext context;
        private final List<Created> list = new ArrayList<>();

        Tracked(ExtensionContext context) {
            this.context = context;
        }

        @Override
        public void close() {
            for (Created c : list) {
                if (context.getExecutionException().isPresent()) {
                    context.publishReportEntry("tapwire.registry", c.dir.toString());
                    System.err.println("tapwire: keeping registry state of failed test " + context.getDisplayName()
                            + " at " + c.dir);
                } else {
                    deleteRecursively(c.dir);
                }
            }
        }
    }

    private static void deleteRecursively(Path dir) {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete temporary registry " + dir + ": " + e
                    + " (something still writes there: close every provider and registry watch that follows it"
                    + " in @AfterEach)", e);
        }
    }
}
