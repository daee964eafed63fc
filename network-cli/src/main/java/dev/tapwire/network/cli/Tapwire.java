package dev.tapwire.network.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tapwire.network.NetworkRegistries;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.bridge.NetworkRealizer;
import dev.tapwire.network.registry.FileNetworkRegistry;
import dev.tapwire.network.spi.ProviderSettings;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * The {@code tapwire} command: named networks, TAPs, garbage collection and a demo, over the library.
 *
 * <p>Exit status: 0 on success, 1 with {@code tapwire: error: <what and why>} on stderr when the operation
 * fails, 2 on a usage error. Under {@code --json} every command prints its result as JSON and an error as
 * {@code {"error": "<what and why>"}} on stderr, with the same exit status ({@link Json}). Every command, down to each leaf, answers {@code --help} and {@code --version}: the
 * standard help options are declared here once and inherited ({@code scope = INHERIT}).
 */
@Command(name = "tapwire", mixinStandardHelpOptions = true, scope = ScopeType.INHERIT,
        versionProvider = Tapwire.Version.class,
        description = "Named networks and Linux TAP devices for VM and workspace managers.",
        subcommands = {NetworkCommand.class, TapCommand.class, GcCommand.class, DemoCommand.class,
            AgentCommand.class, CommandLine.HelpCommand.class})
public final class Tapwire {

    /** Held, so the level set in {@link #main} is not lost when the logger is collected (java.util.logging, spelled
     * out beside SLF4J's Logger). */
    private static final java.util.logging.Logger GRPC_LOG = java.util.logging.Logger.getLogger("io.grpc");

    /** The command's JSON mapper ({@link Json#MAPPER}: the library's names, snake_case for the command's records). */
    static final ObjectMapper JSON = Json.MAPPER;

    @Option(names = "--state-dir", scope = ScopeType.INHERIT, paramLabel = "DIR",
            description = "State directory (default: $TAPWIRE_STATE_DIR; else, as root, /var/lib/tapwire; else "
                    + "$XDG_STATE_HOME/tapwire, else ~/.local/state/tapwire).")
    Path stateDir;

    @Option(names = "--registry", scope = ScopeType.INHERIT, paramLabel = "URI",
            description = "The registry of named networks (default: $TAPWIRE_REGISTRY, else the file registry under "
                    + "the state directory), e.g. file:///var/lib/mgr or etcd://h1:2379,h2:2379/prefix.")
    URI registryUri;

    @Option(names = "--json", scope = ScopeType.INHERIT, description = "Print machine-readable JSON.")
    boolean json;

    private static final Logger LOG = LoggerFactory.getLogger(Tapwire.class);

    /** Root's default state directory: where a system service keeps its state. */
    static final Path SYSTEM_STATE_DIR = Path.of("/var/lib/tapwire");

    private final Map<String, String> env;
    private final int uid;
    private NetworkRegistry registry;
    PrintWriter out;

    Tapwire(Map<String, String> env, int uid) {
        this.env = env;
        this.uid = uid;
    }

    /**
     * Runs the command and exits with its status.
     *
     * @param args the command line
     */
    public static void main(String[] args) {
        // gRPC logs through java.util.logging (e.g. "Received data on closed stream" at INFO): keep an operator's
        // stderr for what tapwire says; its warnings still show
        GRPC_LOG.setLevel(java.util.logging.Level.WARNING);
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        System.exit(execute(System.getenv(), out, err, args));
    }

    /**
     * Runs the command with the given environment and streams.
     *
     * @param env the environment variables to read defaults from
     * @param out where results go
     * @param err where errors go
     * @param args the command line
     * @return the exit status: 0, 1 (failure) or 2 (usage)
     */
    static int execute(Map<String, String> env, PrintWriter out, PrintWriter err, String... args) {
        return execute(env, effectiveUid(), out, err, args);
    }

    /**
     * Runs the command as {@link #execute(Map, PrintWriter, PrintWriter, String...)} does, for a caller of the
     * given effective user id (which decides the default state directory).
     *
     * @param env the environment variables to read defaults from
     * @param uid the caller's effective user id
     * @param out where results go
     * @param err where errors go
     * @param args the command line
     * @return the exit status: 0, 1 (failure) or 2 (usage)
     */
    static int execute(Map<String, String> env, int uid, PrintWriter out, PrintWriter err, String... args) {
        Tapwire root = new Tapwire(env, uid);
        root.out = out;
        CommandLine cli = new CommandLine(root);
        cli.setOut(out);
        cli.setErr(err);
        boolean json = asksForJson(args); // also when parsing fails before --json was read
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            Json.printError(commandLine.getErr(), json, e.getMessage() == null ? e.toString() : e.getMessage());
            return 1;
        });
        cli.setParameterExceptionHandler((e, args1) -> {
            CommandLine c = e.getCommandLine();
            Json.printError(c.getErr(), json, e.getMessage());
            if (!json) {
                c.getErr().println("Usage: see '" + c.getCommandSpec().qualifiedName() + " --help'");
                c.getErr().flush();
            }
            return 2;
        });
        int status = cli.execute(args);
        out.flush();
        err.flush();
        return status;
    }

    /** Whether the command line asks for JSON: {@code --json} before any {@code --} (after it, words are operands). */
    private static boolean asksForJson(String... args) {
        for (String arg : args) {
            if (arg.equals("--")) {
                return false;
            }
            if (arg.equals("--json")) {
                return true;
            }
        }
        return false;
    }

    /** Returns an environment variable of the command's environment, or null. */
    String env(String name) {
        return env.get(name);
    }

    /**
     * Returns the state directory from the option, the environment, or the default: {@code /var/lib/tapwire} for
     * root (a system service's place), the XDG state directory for anyone else.
     */
    Path stateDir() {
        if (stateDir != null) {
            return stateDir;
        }
        String explicit = env.get("TAPWIRE_STATE_DIR");
        if (explicit != null && !explicit.isBlank()) {
            return Path.of(explicit);
        }
        if (uid == 0) {
            return SYSTEM_STATE_DIR;
        }
        String xdg = env.get("XDG_STATE_HOME");
        if (xdg != null && !xdg.isBlank()) {
            return Path.of(xdg, "tapwire");
        }
        String home = env.getOrDefault("HOME", System.getProperty("user.home"));
        return Path.of(home, ".local", "state", "tapwire");
    }

    /** Returns the registry from --registry, else $TAPWIRE_REGISTRY, else the file registry under the state dir. */
    NetworkRegistry registry() {
        if (registry == null) {
            String fromEnv = env.get("TAPWIRE_REGISTRY");
            registry = registryUri != null ? NetworkRegistries.open(registryUri)
                    : fromEnv != null && !fromEnv.isBlank() ? NetworkRegistries.open(URI.create(fromEnv.strip()))
                    : FileNetworkRegistry.open(stateDir());
        }
        return registry;
    }

    /**
     * Syncs the networks realized under the state directory with the registry after a registry change, so their
     * DNS and DHCP follow at once; a failure is a warning (the registry change itself was made).
     */
    void syncRealized() {
        if (!NetworkRealizer.anyUnder(stateDir())) {
            return;
        }
        try {
            new NetworkRealizer(stateDir(), registry()).syncAll();
        } catch (RuntimeException e) {
            LOG.warn("the registry changed, but the networks realized under {} could not be synced: {}", stateDir(),
                    e.getMessage());
        }
    }

    /** Returns settings for the bridge provider on {@code bridge}, rooted at the state directory. */
    ProviderSettings bridgeSettings(String bridge) {
        return ProviderSettings.of(stateDir()).with("bridge", bridge);
    }

    /** Prints {@code value} as the command's JSON ({@link Json}) on stdout. */
    void printJson(Object value) {
        Json.print(out, value);
    }

    /** Prints an error on {@code err} in the shape {@code --json} asks for ({@link Json#printError}). */
    void printError(PrintWriter err, String message) {
        Json.printError(err, json, message);
    }

    /** The effective user id of this process: the owner of {@code /proc/self}; -1 where that cannot be read. */
    static int effectiveUid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return -1;
        }
    }

    /** Reports the version from the jar manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = Tapwire.class.getPackage().getImplementationVersion();
            return new String[] {"tapwire " + (version == null ? "(development build)" : version)};
        }
    }
}
