package dev.tapwire.network.cli;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.bridge.HostAgent;
import dev.tapwire.network.spi.ProviderSettings;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code tapwire agent}: runs this host's {@link HostAgent} in the foreground until SIGTERM or SIGINT, which stop it
 * cleanly with status 0 — the lease is no longer renewed but not withdrawn, the realization stays as it is, so an
 * agent started again within the TTL takes over without other hosts ever dropping this one.
 */
@Command(name = "agent",
        description = "Keep this host's networks in step with the registry, in the foreground: the host's lease,"
                + " the placements of the NICs made here, DNS and DHCP, the overlay to the other hosts (VXLAN entries,"
                + " rules). SIGTERM or SIGINT stops it and leaves everything in place for the next start.")
final class AgentCommand implements Callable<Integer> {

    /** How long a SIGTERM waits for the agent to finish a reconcile under way and stop. */
    private static final Duration STOP_WAIT = Duration.ofSeconds(30);

    @ParentCommand
    Tapwire root;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--host", paramLabel = "NAME", description = "This host's name in the fleet (default:"
            + " $TAPWIRE_HOST, else the machine's host name). Another live host of the name is an error.")
    String host;

    @Option(names = "--underlay", paramLabel = "ADDRESS", description = "This host's tunnel endpoint, an IPv4 address"
            + " of it (default: $TAPWIRE_UNDERLAY, else the source address of the route towards the registry's first"
            + " endpoint).")
    String underlay;

    @Option(names = "--ttl", paramLabel = "TTL", description = "How long this host's records outlive its last lease"
            + " renewal: 10s, 1500ms or whole seconds, at least 2 s (default: 10s).")
    String ttl;

    private final CountDownLatch stop = new CountDownLatch(1);
    private final CountDownLatch stopped = new CountDownLatch(1);

    /**
     * Starts the agent and runs it until {@link #requestStop} (SIGTERM, SIGINT: a shutdown hook asks).
     *
     * @return 0 once stopped
     * @throws CommandLine.ParameterException (status 2) for an invalid host name, underlay address or TTL
     * @throws dev.tapwire.network.HostConflictException (status 1) when another live host holds the name
     * @throws NetworkException (status 1) when the registry cannot be reached or the underlay not found
     */
    @Override
    public Integer call() throws InterruptedException {
        HostAgent.Settings s = HostAgent.Settings.from(settings());
        HostAgent agent = HostAgent.start(s);
        Thread hook = new Thread(() -> {
            requestStop();
            try {
                stopped.await(STOP_WAIT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            Runtime.getRuntime().halt(0); // a clean stop on SIGTERM is no failure: status 0, not 143
        }, "tapwire-agent-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            root.out.printf("tapwire agent: host %s, underlay %s, TTL %d ms, state %s; SIGTERM or SIGINT stops it%n",
                    s.host().name(), s.host().underlay(), s.ttl().toMillis(), s.rootDir());
            root.out.flush();
            stop.await();
        } finally {
            agent.close();
            root.out.printf("tapwire agent: stopped; host %s stays in the fleet for its TTL, the realization is kept%n",
                    agent.host().name());
            root.out.flush();
            stopped.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is what stopped us
            }
        }
        return 0;
    }

    /** Asks a running agent to stop; {@link #call} then closes it and returns 0. */
    void requestStop() {
        stop.countDown();
    }

    /** The provider settings the agent runs with: state directory, registry, and the fleet options, checked. */
    private ProviderSettings settings() {
        ProviderSettings settings = ProviderSettings.of(root.stateDir()).withRegistry(root.registry());
        try {
            String name = host != null ? host : root.env("TAPWIRE_HOST");
            if (name != null) {
                settings = settings.withHost(name);
            }
            String address = underlay != null ? underlay : root.env("TAPWIRE_UNDERLAY");
            if (address != null) {
                if (!Ipv4Address.isValid(address)) {
                    throw new InvalidNetworkSpecException("underlay \"" + address + "\" is no IPv4 address: give this"
                            + " host's address on the network between the hosts, e.g. 198.51.100.1");
                }
                settings = settings.withUnderlay(Ipv4Address.parse(address));
            }
            if (ttl != null) {
                settings = settings.with(ProviderSettings.HOST_TTL, ttl);
            }
            settings.host(); // a machine name that is no host name: say so now, as a usage error
        } catch (InvalidNetworkSpecException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        return settings;
    }
}
