package dev.tapwire.network.cli;

import dev.tapwire.network.NetworkException;
import dev.tapwire.network.TapNames;
import dev.tapwire.network.bridge.BridgeGcModule;
import dev.tapwire.network.bridge.NetworkRealizer;
import dev.tapwire.network.gc.ActiveVms;
import dev.tapwire.network.gc.GcOrchestrator;
import dev.tapwire.network.gc.GcReport;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code tapwire gc}: one garbage-collection cycle with the listed VMs as the live ones ({@code --active}), or with
 * none alive ({@code --none-active}); one of the two is required, and an empty VM ID is a usage error.
 */
@Command(name = "gc",
        description = "Reclaim, in one batch, the tapwire TAPs (on any bridge or none) whose VMs are not listed as active,"
                + " and the realizations (bridge, dnsmasq, rules) of networks gone from the registry — never one whose"
                + " bridge carries TAPs of an --active VM, never another state directory's, and none at all while the"
                + " registry holds no network (an empty or unmounted registry proves nothing).")
final class GcCommand implements Callable<Integer> {

    @ParentCommand
    Tapwire root;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--active", arity = "1..*", paramLabel = "VMID", split = ",",
            description = "The VMs that are alive, space- or comma-separated; their TAPs are kept. Give this or"
                    + " --none-active.")
    List<String> active = List.of();

    @Option(names = "--none-active", description = "No VM is alive: reclaim every tapwire TAP. An explicit flag, so"
            + " that an empty list (an unset shell variable after --active) never means it.")
    boolean noneActive;

    @Option(names = "--bridge", paramLabel = "BR", description = "Accepted for compatibility; the GC reclaims "
            + "orphans on every bridge.")
    String bridge;

    /**
     * Runs the cycle and prints what it collected.
     *
     * @return 0 when it completed
     * @throws CommandLine.ParameterException (status 2) unless exactly one of --active and --none-active is given,
     *     or when a VM ID is empty
     * @throws NetworkException (status 1) when the cycle aborted or a module failed, or a VM ID is invalid
     */
    @Override
    public Integer call() {
        if (noneActive == !active.isEmpty()) {
            throw new CommandLine.ParameterException(spec.commandLine(), noneActive
                    ? "give either --active VMID... or --none-active, not both"
                    : "say which VMs are alive: --active VMID... (their TAPs are kept), or --none-active when no VM"
                            + " is (every tapwire TAP is then reclaimed)");
        }
        if (active.stream().anyMatch(String::isBlank)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--active got an empty VM ID (an unset shell"
                    + " variable?): list the live VMs, or give --none-active when no VM is alive");
        }
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
            throw new NetworkException(report.aborted() ? "GC cycle aborted: " + report.abortReason()
                    : "GC failed: " + report.failures());
        }
        return 0;
    }
}
