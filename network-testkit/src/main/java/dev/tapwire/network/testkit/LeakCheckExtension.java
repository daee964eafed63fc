package dev.tapwire.network.testkit;

import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.NetworkRegistry;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/** The extension behind {@link LeakCheck}. */
public final class LeakCheckExtension implements BeforeEachCallback, AfterEachCallback {

    private static final ExtensionContext.Namespace STORE = ExtensionContext.Namespace.create(LeakCheckExtension.class);

    /** Creates the extension; JUnit does this through {@link LeakCheck}. */
    public LeakCheckExtension() {
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        context.getStore(STORE).put("mark", LeakTracker.nextGeneration());
    }

    @Override
    public void afterEach(ExtensionContext context) {
        if (context.getExecutionException().isPresent()) {
            return; // the test failed already; its own failure says more
        }
        long mark = context.getStore(STORE).get("mark", Long.class);
        List<String> leaks = new ArrayList<>();
        for (InMemoryNetworkProvider provider : LeakTracker.since(mark)) {
            provider.host().taps().values().forEach(tap -> leaks.add("TAP " + tap.name() + " of VM " + tap.vmId()));
        }
        for (NetworkRegistry registry : TemporaryRegistryExtension.registries(context)) {
            for (NetworkRecord network : registry.list()) {
                network.members().forEach(m -> leaks.add("member " + m.workspace() + " (" + m.ip() + ") of network "
                        + network.name()));
            }
        }
        if (!leaks.isEmpty()) {
            throw new AssertionError("test " + context.getDisplayName() + " left behind " + leaks.size()
                    + " thing(s) it created: " + String.join(", ", leaks.stream().distinct().toList()));
        }
    }
}
