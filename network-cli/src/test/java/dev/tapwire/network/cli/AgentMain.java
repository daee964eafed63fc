package dev.tapwire.network.cli;

import java.io.PrintWriter;
import picocli.CommandLine;

/**
 * {@code tapwire agent} as its own process, for the test that stops it with a real SIGTERM: the root command with
 * the agent subcommand (as {@link Tapwire} registers it), run from {@code main} as {@link Tapwire#main} runs.
 */
final class AgentMain {

    private AgentMain() {
    }

    public static void main(String[] args) {
        Tapwire root = new Tapwire(System.getenv(), 0);
        root.out = new PrintWriter(System.out, true);
        CommandLine cli = new CommandLine(root);
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("tapwire: error: " + e.getMessage());
            return 1;
        });
        System.exit(cli.execute(args));
    }
}
