package dev.tapwire.network.cli;

import dev.tapwire.network.TapNames;
import dev.tapwire.network.bridge.BridgeGcModule;
import dev.tapwire.network.bridge.NetworkRealizer;
import dev.tapwire.network.gc.ActiveVms;
import dev.tapwire.network.gc.GcOrchestrator;
import dev.tapwire.network.gc.GcReport;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code tapwire gc}: one garbage-collection cycle with the listed VMs as the live ones. */
@Command(name = "gc", mixinStandardHelpOptions = true,
        description = "Reclaim, in one batch, the tapwire TAPs (on any bridge or none) whose VMs are not listed as active,"
                + " and the realizations (bridge, dnsmasq, rules) of networks gone from the registry.")
final class GcCommand implements Callable<Integer> {

    @ParentCommand
    Tapwire root;

    @Option(names = "--active", arity = "0..*", required = true, paramLabel = "VMID", split = ",",
            description = "The VMs that are alive, space- or comma-separated (required: give it with no IDs to reclaim"
                    + " every tapwire TAP).")
    List<String> active = List.of();

    @Option(names = "--bridge", paramLabel = "BR", description = "Accepted for compatibility; the GC reclaims "
            + "orphans on every bridge.")
    String bridge;

    /**
     * Runs the cycle and prints what it collected.
     *
     * @return 0 when it completed, 1 when it aborted or a module failed
     */
    @Override
    public Integer call() {
        active.forEach(TapNames::requireValidVmId); // a typo must not make every TAP look dead
        GcOrchestrator gc = new GcOrchestrator();
        gc.register(BridgeGcModule.forRoot(root.stateDir()));
        if (NetworkRealizer.anyUnder(root.stateDir())) {
            // networks realized here whose network is gone from the registry: bridge, dnsmasq and rules
            gc.register(new NetworkRealizer(root.stateDir(), root.registry()).gcModule());
        }
        gc.register(ActiveVms.of(Set.copyOf(active)));
        GcReport report = gc.runOnce();
        if (root.json) {
            root.printJson(report);
        } else if (report.aborted()) {
            root.out.println("aborted: " + report.abortReason());
        } else {
            Table table = new Table("MODULE", "COLLECTED", "ITEMS", "FAILURE");
            for (GcReport.ModuleResult m : report.modules()) {
                table.row(m.module(), m.collected().size(),
                        m.collected().isEmpty() ? null : String.join(",", m.collected().stream().sorted().toList()),
                        m.failure());
            }
            table.print(root.out);
        }
        if (!report.succeeded()) {
            throw new IllegalStateException(report.aborted() ? "GC cycle aborted: " + report.abortReason()
                    : "GC failed: " + report.failures());
        }
        return 0;
    }
}
