package dev.tapwire.network.bridge;

import dev.tapwire.network.registry.FileNetworkRegistry;
import java.nio.file.Path;

/** A second process for the tests: makes a workspace leave every network of a file registry, then exits. */
public final class LeaveMain {

    private LeaveMain() {
    }

    /**
     * Makes {@code args[1]} leave every network of the file registry under {@code args[0]}.
     *
     * @param args registry state directory, workspace
     */
    public static void main(String[] args) {
        FileNetworkRegistry.open(Path.of(args[0])).leaveAll(args[1]);
    }
}
