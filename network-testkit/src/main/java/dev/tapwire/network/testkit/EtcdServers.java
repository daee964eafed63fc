package dev.tapwire.network.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Real etcd servers (Debian's {@code etcd-server}, {@code /usr/bin/etcd}) on loopback ports with temporary data
 * directories: one, or a cluster. Started by a test, stopped by {@link #close()}, which also deletes the data —
 * jetcd's own launcher needs Docker. Where etcd is not installed the test is skipped with the package to
 * install, except under {@code CI=true} (or {@code -Dtapwire.requirePrivilegedTests=true}), where that fails.
 *
 * <pre>{@code
 * try (EtcdServers etcd = EtcdServers.start(3)) {
 *     EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(etcd.endpoints()).build();
 *     etcd.members().get(0).kill();   // the other two keep quorum
 * }
 * }</pre>
 */
public final class EtcdServers implements AutoCloseable {

    private static final Path ETCD = Path.of("/usr/bin/etcd");

    /** One member of the cluster: its name, ports, data directory and process. */
    public final class Member {
        private final String name;
        private final int clientPort;
        private final int peerPort;
        private final int metricsPort;
        private final Path dataDir;
        private final String address;
        private final NetworkNamespace namespace; // null: the JVM's own
        private Process process;
        private volatile boolean paused;

        Member(String name, int clientPort, int peerPort, int metricsPort, Path dataDir) {
            this(name, clientPort, peerPort, metricsPort, dataDir, "127.0.0.1", null);
        }

        Member(String name, int clientPort, int peerPort, int metricsPort, Path dataDir, String address,
                NetworkNamespace namespace) {
            this.name = name;
            this.clientPort = clientPort;
            this.peerPort = peerPort;
            this.metricsPort = metricsPort;
            this.dataDir = dataDir;
            this.address = address;
            this.namespace = namespace;
        }

        /**
         * Returns the address the member listens on: loopback, or the address it was given in its namespace.
         *
         * @return e.g. {@code 127.0.0.1} or {@code 198.51.100.11}
         */
        public String address() {
            return address;
        }

        /**
         * Returns the member's name, e.g. {@code e0}.
         *
         * @return the name
         */
        public String name() {
            return name;
        }

        /**
         * Returns the URL clients connect to.
         *
         * @return e.g. {@code http://127.0.0.1:43121}
         */
        public String clientUrl() {
            return (tls == null ? "http" : "https") + "://" + address + ":" + clientPort;
        }

        String peerUrl() {
            return "http://" + address + ":" + peerPort;
        }

        /**
         * Kills the member with SIGKILL, as a crash would.
         *
         * @throws InterruptedException if interrupted while waiting for it to die
         */
        public void kill() throws InterruptedException {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }

        /**
         * Freezes the member with SIGSTOP, as a long GC pause or a stalled disk would: its sockets stay open and
         * requests sent to it wait in the kernel until {@link #resume()}.
         *
         * @throws IOException if the signal cannot be sent
         * @throws InterruptedException if interrupted while sending it
         */
        public void pause() throws IOException, InterruptedException {
            signal("STOP");
            paused = true;
        }

        /**
         * Lets a member frozen by {@link #pause()} run again (SIGCONT); it then handles what was sent to it meanwhile.
         *
         * @throws IOException if the signal cannot be sent
         * @throws InterruptedException if interrupted while sending it
         */
        public void resume() throws IOException, InterruptedException {
            signal("CONT");
            paused = false;
        }

        private void signal(String name) throws IOException, InterruptedException {
            Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid()))
                    .redirectErrorStream(true).start();
            String out = new String(kill.getInputStream().readAllBytes());
            if (kill.waitFor() != 0) {
                throw new IOException("kill -" + name + " " + process.pid() + " failed: " + out);
            }
        }

        /**
         * Returns the port clients connect to.
         *
         * @return the port
         */
        public int clientPort() {
            return clientPort;
        }

        /**
         * Starts the member again on its data directory, and waits until it is healthy.
         *
         * @throws IOException if it cannot be started
         * @throws InterruptedException if interrupted while waiting
         * @throws IllegalStateException if it does not become healthy within 30 s
         */
        public void restart() throws IOException, InterruptedException {
            start(this, "existing");
            awaitHealthy(this);
        }
    }

    private final List<Member> members = new ArrayList<>();
    private final Path root;
    private final List<String> extraFlags;
    /** Server certificate, key and the CA that signs the clients' certificates; null for plain HTTP. */
    private final Path[] tls;

    /** Stops the servers if the JVM exits before {@link #close()} (a test calling System.exit, say). */
    private final Thread shutdownHook = new Thread(this::stopAll, "tapwire-etcd-shutdown");

    private EtcdServers(Path root, List<String> extraFlags, Path[] tls) {
        this.root = root;
        this.extraFlags = extraFlags;
        this.tls = tls;
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /**
     * Skips the calling test where etcd is not installed — except where privileged tests are required
     * ({@link IsolatedNetnsExtension#privilegedTestsRequired()}), where that is a failure.
     */
    public static void assumeInstalled() {
        HostRequirements.assume(Files.isExecutable(ETCD),
                "etcd is not installed: install Debian's etcd-server (apt-get install etcd-server)");
    }

    /**
     * Returns the members, in start order.
     *
     * @return the members
     */
    public List<Member> members() {
        return List.copyOf(members);
    }

    /**
     * Starts {@code size} members as one cluster and waits until each answers its health check.
     *
     * @param size 1 or 3 (or any odd number)
     * @param extraFlags more etcd flags for every member, e.g. {@code --max-txn-ops=1024}
     * @return the running cluster; close it to stop it
     * @throws IOException if a member cannot be started
     * @throws InterruptedException if interrupted while waiting
     * @throws IllegalStateException if a member does not become healthy within 30 s (its log is in the message)
     */
    public static EtcdServers start(int size, String... extraFlags) throws IOException, InterruptedException {
        return start(size, null, extraFlags);
    }

    /**
     * Starts one member that speaks only TLS on its client URL and requires a client certificate signed by
     * {@code clientCa} ({@code --client-cert-auth}); its health is checked on a plain-HTTP metrics URL.
     *
     * @param serverCert the server's certificate (PEM), valid for IP 127.0.0.1
     * @param serverKey the server's private key (PEM)
     * @param clientCa the CA certificate (PEM) that client certificates must chain to
     * @return the running server; close it to stop it
     * @throws IOException if it cannot be started
     * @throws InterruptedException if interrupted while waiting
     */
    public static EtcdServers startWithTls(Path serverCert, Path serverKey, Path clientCa)
            throws IOException, InterruptedException {
        return start(1, new Path[] {serverCert, serverKey, clientCa});
    }

    /**
     * Starts one member per namespace as one cluster, each listening on its address there (fixed ports 2379 for
     * clients, 2380 for peers, 2381 for metrics: every namespace has ports of its own), and waits until each answers
     * its health check. For hosts played by namespaces: a host namespace cannot reach the JVM's loopback, so a
     * server the hosts share listens on their underlay. The members' processes run in their namespaces; {@link
     * Member#kill} and {@link #close} stop them as they stop any member.
     *
     * @param namespaces the namespaces, one member each
     * @param addresses the address each member listens on, an address of its namespace (same order)
     * @param extraFlags more etcd flags for every member
     * @return the running cluster; close it (before the namespaces) to stop it
     * @throws IllegalArgumentException if the lists are empty or of different sizes
     * @throws IOException if a member cannot be started
     * @throws InterruptedException if interrupted while waiting
     * @throws IllegalStateException if a member does not become healthy within 30 s (its log is in the message)
     */
    public static EtcdServers startIn(List<NetworkNamespace> namespaces, List<String> addresses,
            String... extraFlags) throws IOException, InterruptedException {
        if (namespaces.isEmpty() || namespaces.size() != addresses.size()) {
            throw new IllegalArgumentException("one address per namespace, at least one; got " + namespaces.size()
                    + " namespaces and " + addresses.size() + " addresses");
        }
        assumeInstalled();
        EtcdServers servers = new EtcdServers(Files.createTempDirectory("tapwire-etcd-"), List.of(extraFlags), null);
        try {
            for (int i = 0; i < namespaces.size(); i++) {
                servers.members.add(servers.new Member("e" + i, 2379, 2380, 2381, servers.root.resolve("e" + i),
                        addresses.get(i), namespaces.get(i)));
            }
            for (Member m : servers.members) {
                servers.start(m, "new");
            }
            for (Member m : servers.members) {
                servers.awaitHealthy(m);
            }
            return servers;
        } catch (IOException | InterruptedException | RuntimeException | Error e) {
            servers.close();
            throw e;
        }
    }

    private static EtcdServers start(int size, Path[] tls, String... extraFlags) throws IOException,
            InterruptedException {
        assumeInstalled();
        for (int attempt = 1; ; attempt++) {
            EtcdServers servers = new EtcdServers(Files.createTempDirectory("tapwire-etcd-"), List.of(extraFlags), tls);
            try {
                for (int i = 0; i < size; i++) {
                    servers.members.add(servers.new Member("e" + i, freePort(), freePort(), freePort(),
                            servers.root.resolve("e" + i)));
                }
                for (Member m : servers.members) {
                    servers.start(m, "new");
                }
                for (Member m : servers.members) {
                    servers.awaitHealthy(m);
                }
                return servers;
            } catch (IllegalStateException e) {
                servers.close();
                if (attempt == 3 || !String.valueOf(e.getMessage()).contains("address already in use")) {
                    throw e;
                }
                // a port found free was taken meanwhile: try other ports
            } catch (IOException | InterruptedException | RuntimeException | Error e) {
                servers.close();
                throw e;
            }
        }
    }

    private void start(Member m, String state) throws IOException {
        String cluster = members.stream().map(x -> x.name + "=" + x.peerUrl()).collect(Collectors.joining(","));
        List<String> command = new ArrayList<>(List.of(ETCD.toString(), "--name", m.name,
                "--data-dir", m.dataDir.toString(),
                "--listen-client-urls", m.clientUrl(), "--advertise-client-urls", m.clientUrl(),
                "--listen-peer-urls", m.peerUrl(), "--initial-advertise-peer-urls", m.peerUrl(),
                "--initial-cluster", cluster, "--initial-cluster-state", state,
                "--initial-cluster-token", "tapwire-test-" + root.getFileName(),
                "--heartbeat-interval", "50", "--election-timeout", "500", "--log-level", "error",
                "--listen-metrics-urls", "http://" + m.address + ":" + m.metricsPort));
        if (tls != null) {
            command.addAll(List.of("--cert-file", tls[0].toString(), "--key-file", tls[1].toString(),
                    "--client-cert-auth", "--trusted-ca-file", tls[2].toString()));
        }
        command.addAll(extraFlags);
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(root.resolve(m.name + ".log").toFile());
        m.process = inNamespaceOf(m, builder::start); // a child process takes the network namespace of its parent thread
    }

    /** Runs {@code task} in the member's namespace (on a thread there), or right here for a loopback member. */
    private static <T> T inNamespaceOf(Member m, java.util.concurrent.Callable<T> task) throws IOException {
        try {
            return m.namespace == null ? task.call() : m.namespace.run(task);
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
    }

    /**
     * Waits until the member's {@code /health} says true.
     *
     * @param m the member
     * @throws InterruptedException if interrupted while waiting
     * @throws IllegalStateException if it exits or is not healthy within 30 s
     */
    public void awaitHealthy(Member m) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            if (!m.process.isAlive()) {
                throw new IllegalStateException("etcd " + m.name + " exited: " + log(m));
            }
            try {
                boolean healthy = inNamespaceOf(m, () -> {
                    HttpURLConnection c = (HttpURLConnection) new URL("http://" + m.address + ":" + m.metricsPort
                            + "/health").openConnection();
                    c.setConnectTimeout(500);
                    c.setReadTimeout(1000);
                    return c.getResponseCode() == 200 && new String(c.getInputStream().readAllBytes()).contains("true");
                });
                if (healthy) {
                    return;
                }
            } catch (IOException notYet) {
                // starting
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("etcd " + m.name + " did not become healthy in 30 s: " + log(m));
    }

    private String log(Member m) {
        try {
            return Files.readString(root.resolve(m.name + ".log"));
        } catch (IOException e) {
            return e.toString();
        }
    }

    /**
     * Returns every member's client URL.
     *
     * @return the endpoints, in member order
     */
    public String[] endpoints() {
        return members.stream().map(Member::clientUrl).toArray(String[]::new);
    }

    /** A port that is free now, below the kernel's ephemeral range (32768+), so client sockets do not take it. */
    private static int freePort() throws IOException {
        for (int i = 0; i < 100; i++) {
            int port = 20000 + ThreadLocalRandom.current().nextInt(12000);
            try (ServerSocket socket = new ServerSocket(port, 1, java.net.InetAddress.getLoopbackAddress())) {
                return socket.getLocalPort();
            } catch (IOException taken) {
                // try another
            }
        }
        throw new IOException("no free loopback port found between 20000 and 32000");
    }

    /** Stops every member and deletes the data directories. */
    @Override
    public void close() {
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException exiting) {
            // the JVM is shutting down: the hook runs anyway
        }
        stopAll();
    }

    private void stopAll() {
        for (Member m : members) {
            if (m.process != null) {
                if (m.paused) {
                    m.process.destroyForcibly(); // a frozen process would not act on SIGTERM
                }
                m.process.destroy();
                try {
                    if (!m.process.waitFor(5, TimeUnit.SECONDS)) {
                        m.process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        if (!Files.exists(root)) {
            return; // stopped already
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
