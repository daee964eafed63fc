package dev.tapwire.network.bridge;

import com.sun.jna.LastErrorException;
import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.DeviceOperationException.Reason;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.bridge.linux.DhcpRelease;
import dev.tapwire.network.bridge.linux.raw.LibC;
import dev.tapwire.network.bridge.linux.ProcessIdentity;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One network's dnsmasq: started as a daemon in the calling thread's network namespace, bound to the gateway
 * address only, serving static leases and names from two directories it watches ({@code hosts/} and
 * {@code dhcp/} under the network's runtime directory).
 *
 * <p>Which process is this network's dnsmasq is never taken from dnsmasq's own pid file: dnsmasq hands that file to
 * the user it drops root to ({@code nobody}), who can rewrite it. tapwire keeps its own record instead,
 * {@code dnsmasq.instance} (pid, start time, network namespace), written by this process's user right after the
 * start, created exclusively in a directory only that user can write, and refused unless it is a regular file of
 * that user that no one else can write. A process counts as this network's dnsmasq, and is ever signalled, only when
 * it is the one the record names (same start time, so not a reused pid) and {@code /proc} says it runs the dnsmasq
 * binary, as dnsmasq's unprivileged user, in the calling thread's network namespace, with this network's pid file
 * on its command line. A dnsmasq that an interrupted start left without a record is recognised by the same checks
 * plus a privilege no unprivileged user can give a process ({@code CAP_NET_ADMIN} in its permitted set), and the
 * record is then written for it.
 *
 * <p>Its log ({@code dnsmasq.log}) is capped: once it exceeds the cap it is renamed to {@code dnsmasq.log.1}
 * (replacing the one before) and dnsmasq reopens a fresh one (SIGUSR2), so a guest sending DHCP requests that
 * dnsmasq logs (an unknown MAC's DISCOVER is logged even with {@code --quiet-dhcp}) cannot fill {@code /run}.
 *
 * <p>Names come from the hosts directory only, never from a lease: {@code --dhcp-ignore-names} drops the
 * hostnames guests send, dhcp-host entries carry no name, and no {@code --domain} is set — dnsmasq names a lease
 * after the hosts entry of its address only when that entry's domain is dnsmasq's own domain, and such a name
 * would outlive the entry for as long as the lease lives. The guests get the domain through DHCP options 15 and
 * 119 all the same. So a member's name goes the moment its hosts entry does, and a membership change never needs
 * a restart.
 */
final class Dnsmasq {

    /** The size beyond which the log is rotated, in bytes: about 2,600 lines (two generations are kept). */
    static final long LOG_CAP = 256 * 1024;

    private static final Logger LOG = LoggerFactory.getLogger(Dnsmasq.class);
    private static final int SIGTERM = 15;
    private static final int SIGHUP = 1;
    private static final int SIGUSR2 = 12;
    private static final List<Path> SEARCH = List.of(Path.of("/usr/sbin/dnsmasq"), Path.of("/usr/bin/dnsmasq"),
            Path.of("/sbin/dnsmasq"));
    private static final Set<PosixFilePermission> RECORD_MODE = PosixFilePermissions.fromString("rw-r--r--");
    private static final Set<PosixFilePermission> LOG_MODE = PosixFilePermissions.fromString("rw-r-----");

    private final Path dir;
    private final String network;

    Dnsmasq(Path dir, String network) {
        this.dir = dir;
        this.network = network;
    }

    /** The dnsmasq binary, if installed. */
    static Optional<Path> binary() {
        return SEARCH.stream().filter(Files::isExecutable).findFirst();
    }

    /** Says why dnsmasq cannot run here, naming the package to install. */
    static Optional<String> unavailabilityCause() {
        return binary().isPresent() ? Optional.empty()
                : Optional.of("dnsmasq is not installed (install the Debian package dnsmasq-base)");
    }

    Path pidFile() {
        return dir.resolve("dnsmasq.pid");
    }

    /** tapwire's own record of the running dnsmasq; see the class comment. */
    Path recordFile() {
        return dir.resolve("dnsmasq.instance");
    }

    Path logFile() {
        return dir.resolve("dnsmasq.log");
    }

    Path hostsDir() {
        return dir.resolve("hosts");
    }

    Path dhcpDir() {
        return dir.resolve("dhcp");
    }

    /**
     * What the record names, judged.
     *
     * @param trusted the process that is this network's dnsmasq, or null
     * @param problem why the recorded process is not trusted, or null when there is nothing to say
     * @param foreign whether the record names a live dnsmasq of another network namespace (its record is kept)
     */
    private record Judgement(ProcessIdentity trusted, String problem, boolean foreign) {

        static final Judgement NONE = new Judgement(null, null, false);

        static Judgement refused(String problem) {
            return new Judgement(null, problem, false);
        }
    }

    /** The record read back: what tapwire wrote after the start. */
    private record Instance(int pid, long startTime, long netns) {
    }

    /** The pid of this network's running dnsmasq, if one runs (see the class comment for what counts). */
    OptionalInt pid() {
        ProcessIdentity p = judge().trusted();
        return p == null ? OptionalInt.empty() : OptionalInt.of(p.pid());
    }

    /**
     * Says why the process tapwire's record (or, without one, dnsmasq's pid file) names is not this network's
     * dnsmasq, for an operator: another namespace's, a reused pid, another program, or a record not tapwire's.
     *
     * @return the reason, or empty when this network's dnsmasq runs or nothing is recorded
     */
    Optional<String> problem() {
        return Optional.ofNullable(judge().problem());
    }

    /**
     * Says whether the network's dnsmasq runs in another network namespace (this state directory is realized there),
     * for a caller that must then refuse to touch the network's state here ({@code network down}, a GC).
     *
     * @return what runs where, or empty when the record names no live dnsmasq of another namespace
     */
    Optional<String> otherNamespace() {
        Judgement j = judge();
        return j.foreign() ? Optional.of(j.problem()) : Optional.empty();
    }

    private Judgement judge() {
        long here = ProcessIdentity.currentThreadNetns();
        Optional<Instance> instance;
        try {
            instance = readRecord();
        } catch (RealizationException e) {
            return orphan(here, e.getMessage());
        }
        if (instance.isEmpty()) {
            return orphan(here, null);
        }
        Instance rec = instance.get();
        Optional<ProcessIdentity> process = ProcessIdentity.of(rec.pid());
        if (process.isEmpty()) {
            return orphan(here, null); // it exited: nothing to trust, nothing to say
        }
        ProcessIdentity p = process.get();
        if (p.startTime() != rec.startTime()) {
            return orphan(here, "pid " + rec.pid() + " in " + recordFile() + " is now another process (started at"
                    + " tick " + p.startTime() + ", the recorded dnsmasq at " + rec.startTime() + "): not signalled");
        }
        if (p.netns() != here || rec.netns() != here) {
            return new Judgement(null, "the dnsmasq of network " + network + " recorded in " + recordFile() + " (pid "
                    + p.pid() + ") runs in network namespace net:[" + p.netns() + "], not in this thread's net:["
                    + here + "]: it is not this namespace's, and is neither reported nor signalled here", true);
        }
        String wrong = mismatch(p);
        return wrong == null ? new Judgement(p, null, false) : orphan(here, "process " + p.pid() + " recorded in "
                + recordFile() + " is not network " + network + "'s dnsmasq: " + wrong + "; not signalled");
    }

    /**
     * Judges the process dnsmasq's own pid file names, for when tapwire's record names none: trusted only with every
     * check of the class comment, including the privilege that only a start by root gives.
     */
    private Judgement orphan(long here, String problem) {
        OptionalInt named = pidFilePid();
        if (named.isEmpty()) {
            return Judgement.refused(problem);
        }
        Optional<ProcessIdentity> process = ProcessIdentity.of(named.getAsInt());
        if (process.isEmpty()) {
            return Judgement.refused(problem);
        }
        ProcessIdentity p = process.get();
        String wrong = p.netns() != here ? "it runs in network namespace net:[" + p.netns() + "], not in net:[" + here
                + "]" : mismatch(p);
        if (wrong == null && !p.mayUse(ProcessIdentity.CAP_NET_ADMIN)) {
            wrong = "it lacks CAP_NET_ADMIN, which a dnsmasq started by root keeps";
        }
        if (wrong == null) {
            return new Judgement(p, problem, false);
        }
        String why = "process " + p.pid() + " named by " + pidFile() + " (a file dnsmasq's user can write) is not"
                + " network " + network + "'s dnsmasq: " + wrong + "; not signalled";
        return Judgement.refused(problem == null ? why : problem + "; " + why);
    }

    /** What disqualifies a live process in this namespace from being this network's dnsmasq, or null. */
    private String mismatch(ProcessIdentity p) {
        Optional<Path> binary = binary().map(Dnsmasq::realPath);
        if (binary.isEmpty() || !binary.get().equals(p.executable())) {
            return "it runs " + p.executable() + ", not " + binary.map(Path::toString).orElse("dnsmasq");
        }
        int uid = expectedUid();
        if (p.realUid() != uid || p.effectiveUid() != uid) {
            return "it runs as uid " + p.realUid() + "/" + p.effectiveUid() + ", not as dnsmasq's user (uid " + uid
                    + ")";
        }
        if (!p.commandLine().contains("--pid-file=" + pidFile())) {
            return "its command line does not carry --pid-file=" + pidFile();
        }
        return null;
    }

    private static Path realPath(Path binary) {
        try {
            return binary.toRealPath();
        } catch (IOException e) {
            return binary;
        }
    }

    /**
     * The uid dnsmasq runs as: started by root it drops to {@code nobody} (its compiled-in default, which tapwire
     * does not change); started by anyone else it keeps that user.
     */
    static int expectedUid() {
        int me = LibC.geteuid();
        return me == 0 ? Nobody.UID : me;
    }

    /** {@code nobody}'s uid, read from {@code /etc/passwd} once. */
    private static final class Nobody {
        static final int UID = read();

        private static int read() {
            try {
                for (String line : Files.readAllLines(Path.of("/etc/passwd"), StandardCharsets.UTF_8)) {
                    String[] f = line.split(":");
                    if (f.length > 2 && f[0].equals("nobody")) {
                        return Integer.parseInt(f[2]);
                    }
                }
            } catch (IOException | NumberFormatException e) {
                LOG.debug("cannot read nobody's uid from /etc/passwd: {}", e.toString());
            }
            return 65534;
        }
    }

    /** The pid dnsmasq's pid file names, whether or not that process still runs. */
    private OptionalInt pidFilePid() {
        try {
            String text = new String(Files.readAllBytes(pidFile()), StandardCharsets.US_ASCII).trim();
            return OptionalInt.of(Integer.parseInt(text));
        } catch (IOException | NumberFormatException e) {
            return OptionalInt.empty();
        }
    }

    /**
     * Reads tapwire's record, refusing one that is not a regular file of this user that no one else can write.
     *
     * @throws RealizationException saying why a present record is refused
     */
    private Optional<Instance> readRecord() {
        Path file = recordFile();
        try {
            PosixFileAttributes attrs;
            try {
                attrs = Files.readAttributes(file, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            } catch (NoSuchFileException e) {
                return Optional.empty();
            }
            int owner = (Integer) Files.getAttribute(file, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            Set<PosixFilePermission> perms = attrs.permissions();
            if (!attrs.isRegularFile() || owner != LibC.geteuid() || perms.contains(PosixFilePermission.GROUP_WRITE)
                    || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
                throw new RealizationException("record " + file + " is not tapwire's (" + (attrs.isSymbolicLink()
                        ? "a symbolic link" : attrs.isRegularFile() ? "owner uid " + owner + ", mode "
                        + PosixFilePermissions.toString(perms) : "not a regular file") + "; tapwire writes it as uid "
                        + LibC.geteuid() + ", writable by no one else): ignored");
            }
            Properties p = new Properties();
            try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
                p.load(in);
            }
            return Optional.of(new Instance(Integer.parseInt(p.getProperty("pid", "")),
                    Long.parseLong(p.getProperty("start", "")), Long.parseLong(p.getProperty("netns", ""))));
        } catch (NumberFormatException e) {
            throw new RealizationException("record " + file + " does not hold pid=, start= and netns= numbers: ignored",
                    e);
        } catch (IOException e) {
            throw new RealizationException("cannot read " + file + ": " + e, e);
        }
    }

    /**
     * Writes tapwire's record of {@code p}: the old one removed, the new one created exclusively (a link planted in
     * its place is never followed), mode 0644.
     */
    void writeRecord(ProcessIdentity p) {
        Path file = recordFile();
        String text = "pid=" + p.pid() + "\nstart=" + p.startTime() + "\nnetns=" + p.netns() + "\n";
        try {
            Files.deleteIfExists(file); // removes a link itself, never its target
            try (SeekableByteChannel out = Files.newByteChannel(file, Set.of(StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS), PosixFilePermissions.asFileAttribute(
                    RECORD_MODE))) {
                out.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII)));
            }
            Files.setPosixFilePermissions(file, RECORD_MODE); // whatever the umask
        } catch (IOException e) {
            throw new RealizationException("cannot write " + file + " (tapwire's record of the dnsmasq of network "
                    + network + "): " + e, e);
        }
    }

    private void forgetRecord() {
        for (Path file : List.of(recordFile(), pidFile())) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                LOG.warn("could not remove {}: {}", file, e.toString());
            }
        }
    }

    /**
     * Starts dnsmasq for the network unless it runs already; waits until the daemon has bound its sockets (dnsmasq
     * exits non-zero before forking when it cannot). With NAT it forwards names that are not the network's to the
     * host's resolvers; without, it answers only its own. Every DHCP reply carries the network's MTU (option 26).
     *
     * @return true when it was started, false when it was running
     * @throws RealizationException if the network's dnsmasq runs in another network namespace (the state directory
     *     is realized there), or its record cannot be written
     * @throws DeviceOperationException if dnsmasq is missing or cannot start (with its own message)
     */
    boolean ensureRunning(Realization r) {
        Judgement j = judge();
        if (j.trusted() != null) {
            adopt(j.trusted());
            return false;
        }
        if (j.foreign()) {
            throw new RealizationException(j.problem() + "; the networks of this state directory are realized in that"
                    + " namespace: realize them from there, or give this namespace a state directory of its own");
        }
        if (j.problem() != null) {
            LOG.warn("{}", j.problem());
        }
        String bridge = r.bridge();
        Ipv4Subnet subnet = r.subnet();
        String gateway = r.gateway().toString();
        Path binary = binary().orElseThrow(() -> DeviceOperationException.of("dnsmasq", bridge, Reason.OTHER,
                unavailabilityCause().orElseThrow()));
        List<String> command = new ArrayList<>(List.of(binary.toString(),
                "--conf-file=/dev/null",
                "--pid-file=" + pidFile(),
                "--bind-interfaces", "--interface=" + bridge, "--except-interface=lo", "--listen-address=" + gateway,
                "--dhcp-range=" + subnet.networkAddress() + ",static," + subnet.netmask(),
                "--dhcp-hostsdir=" + dhcpDir(), "--hostsdir=" + hostsDir(),
                "--dhcp-leasefile=" + dir.resolve("dnsmasq.leases"),
                "--dhcp-authoritative", "--dhcp-ignore-clid",
                "--dhcp-ignore-names", "--local=/" + network + "/",
                "--dhcp-option=option:router," + gateway, "--dhcp-option=option:dns-server," + gateway,
                "--dhcp-option=option:domain-name," + network, "--dhcp-option=option:domain-search," + network,
                // forced: a client that does not ask for option 26 (busybox udhcpc without -O mtu) gets it too
                "--dhcp-option-force=26," + r.mtu(),
                "--local-ttl=1", "--dhcp-ttl=1", "--neg-ttl=1", "--no-hosts",
                "--log-facility=" + dir.resolve("dnsmasq.log"), "--quiet-dhcp"));
        if (!r.nat()) {
            command.add("--no-resolv");
        }
        awaitExitOfPrevious();
        rotateLog(OptionalInt.empty()); // one that grew while no watchdog ran: the new dnsmasq starts a fresh one
        long launched;
        try {
            forgetRecord();
            Path startLog = dir.resolve("dnsmasq.start");
            Process p = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.to(startLog.toFile())).start();
            // unreaped until waitFor, so its start time is there to read even when it has exited already
            launched = ProcessIdentity.startTime((int) p.pid()).orElse(Long.MAX_VALUE);
            // a file, not a pipe: the daemon inherits the descriptor, and a pipe nobody reads would block it
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw DeviceOperationException.of("dnsmasq", bridge, Reason.OTHER,
                        "dnsmasq for network " + network + " did not start within 30 s");
            }
            String out = Files.readString(startLog, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw DeviceOperationException.of("dnsmasq", bridge, Reason.OTHER, "dnsmasq for network " + network
                        + " exited with status " + p.exitValue() + ": " + out.strip());
            }
        } catch (IOException e) {
            throw DeviceOperationException.of("dnsmasq", bridge, Reason.OTHER, "cannot run " + binary + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw DeviceOperationException.of("dnsmasq", bridge, Reason.OTHER, "interrupted starting dnsmasq", e);
        }
        long here = ProcessIdentity.currentThreadNetns();
        // the daemon writes its pid file right after forking; only a process started after the launch is taken
        Supplier<Optional<ProcessIdentity>> started = () -> pidFilePid().stream().boxed()
                .flatMap(pid -> ProcessIdentity.of(pid).stream())
                .filter(d -> d.startTime() >= launched && d.netns() == here && mismatch(d) == null).findFirst();
        awaitWhile(() -> started.get().isEmpty(), 10_000); // a bound, not a pace: on a loaded host 2 s was seen to fall short
        ProcessIdentity daemon = started.get().orElseThrow(() -> DeviceOperationException.of("dnsmasq", bridge,
                Reason.OTHER, "dnsmasq for network " + network + " reported success but no dnsmasq started now holds "
                        + pidFile()));
        writeRecord(daemon);
        LOG.debug("started dnsmasq {} for network {} on {} ({})", daemon.pid(), network, bridge, gateway);
        return true;
    }

    /** Records a trusted dnsmasq that no record names yet (an interrupted start left it without one). */
    private void adopt(ProcessIdentity p) {
        Optional<Instance> recorded;
        try {
            recorded = readRecord();
        } catch (RealizationException e) {
            recorded = Optional.empty();
        }
        if (!recorded.equals(Optional.of(new Instance(p.pid(), p.startTime(), p.netns())))) {
            LOG.warn("dnsmasq {} of network {} was running without tapwire's record (an interrupted start); it passes"
                    + " every check and is recorded now", p.pid(), network);
            writeRecord(p);
        }
    }

    /**
     * Waits (up to 5 s) while the process last recorded is a dnsmasq on its way out: one killed a moment ago has
     * given up its command line (so {@link #pid} no longer counts it) but may still hold its sockets, and a new
     * dnsmasq could not bind ("Address already in use"). It is only waited for, never signalled.
     */
    private void awaitExitOfPrevious() {
        OptionalInt previous;
        try {
            previous = readRecord().map(i -> OptionalInt.of(i.pid())).orElseGet(this::pidFilePid);
        } catch (RealizationException e) {
            previous = pidFilePid();
        }
        previous.ifPresent(pid -> awaitWhile(() -> isExitingDnsmasq(pid), 5000));
    }

    private static boolean isExitingDnsmasq(int pid) {
        try {
            Path proc = Path.of("/proc", Integer.toString(pid));
            return isAlive(pid) && Files.readString(proc.resolve("comm"), StandardCharsets.UTF_8).strip().equals("dnsmasq")
                    && Files.readAllBytes(proc.resolve("cmdline")).length == 0;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Makes dnsmasq re-read its host directories whole (SIGHUP): only then does it forget a removed dhcp-host
     * entry. It keeps serving meanwhile: the signal is handled in its event loop between two requests.
     */
    void reload() {
        pid().ifPresent(pid -> signal(pid, SIGHUP));
    }

    /**
     * Releases the lease of {@code mac} on {@code address}, if this dnsmasq holds one, so the address can be leased
     * to another member at once. A failure is a warning: the lease then lasts until it runs out (one hour).
     */
    void release(Realization r, MacAddress mac, Ipv4Address address) {
        try {
            DhcpRelease.send(r.bridge(), r.gateway(), address, mac);
        } catch (DeviceOperationException e) {
            LOG.warn("could not release the DHCP lease of {} on {} in network {}: {}; the address stays leased to that"
                    + " MAC until the lease runs out", mac, address, network, e.getMessage());
        }
    }

    /**
     * Stops this network's dnsmasq, if it runs, and waits until it is gone. A process that is not this network's
     * dnsmasq is never signalled (why is warned); the record of another namespace's dnsmasq is left to it.
     */
    void stop() {
        Judgement j = judge();
        if (j.problem() != null) {
            LOG.warn("{}", j.problem());
        }
        if (j.foreign()) {
            return;
        }
        ProcessIdentity p = j.trusted();
        if (p != null) {
            signal(p.pid(), SIGTERM);
            awaitWhile(() -> isAlive(p.pid()), 5000);
            LOG.debug("stopped dnsmasq {} of network {}", p.pid(), network);
        }
        forgetRecord();
    }

    /**
     * Caps the log: when it exceeds {@code cap} bytes it becomes {@code dnsmasq.log.1} and the running dnsmasq
     * (only this network's, see the class comment) reopens a fresh one.
     *
     * @param cap the size in bytes beyond which the log is rotated
     * @return true when it was rotated
     * @throws RealizationException if the log cannot be rotated
     */
    boolean capLog(long cap) {
        try {
            if (!Files.isRegularFile(logFile(), LinkOption.NOFOLLOW_LINKS) || Files.size(logFile()) <= cap) {
                return false;
            }
        } catch (IOException e) {
            return false; // gone meanwhile
        }
        ProcessIdentity p = judge().trusted();
        if (p == null) {
            return false; // a start rotates it; no one else's process is signalled
        }
        rotateLog(OptionalInt.of(p.effectiveUid()));
        signal(p.pid(), SIGUSR2);
        LOG.debug("rotated the log of dnsmasq {} of network {} ({} bytes at most)", p.pid(), network, cap);
        return true;
    }

    /**
     * Renames the log to {@code dnsmasq.log.1} (replacing it; a rename follows no link) and, for a running dnsmasq
     * that runs as {@code owner}, creates the fresh one it will reopen — dnsmasq, unprivileged by then, cannot create
     * a file in this directory.
     */
    private void rotateLog(OptionalInt owner) {
        Path log = logFile();
        try {
            if (owner.isEmpty() && !(Files.isRegularFile(log, LinkOption.NOFOLLOW_LINKS) && Files.size(log) > LOG_CAP)) {
                return;
            }
            Files.move(log, log.resolveSibling("dnsmasq.log.1"), StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
            if (owner.isPresent()) {
                Files.newByteChannel(log, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                        LinkOption.NOFOLLOW_LINKS), PosixFilePermissions.asFileAttribute(LOG_MODE)).close();
                Files.setAttribute(log, "unix:uid", owner.getAsInt(), LinkOption.NOFOLLOW_LINKS);
            }
        } catch (NoSuchFileException e) {
            // no log yet
        } catch (IOException e) {
            throw new RealizationException("cannot rotate " + log + ": " + e, e);
        }
    }

    /**
     * True until the process has exited: its state in {@code /proc/<pid>/stat} is zombie ({@code Z}, which an init
     * that does not reap leaves) or dead, or it is gone. Its command line empties earlier, while it still holds
     * its sockets, so that is no test.
     */
    private static boolean isAlive(int pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Integer.toString(pid), "stat"), StandardCharsets.US_ASCII);
            char state = stat.charAt(stat.lastIndexOf(')') + 2);
            return state != 'Z' && state != 'X' && state != 'x';
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static void signal(int pid, int signal) {
        try {
            LibC.kill(pid, signal);
        } catch (LastErrorException e) {
            LOG.debug("signal {} to dnsmasq {}: errno {}", signal, pid, e.getErrorCode()); // it exited meanwhile
        }
    }

    /** Polls every 10 ms while {@code condition} holds, for at most {@code millis}. */
    private void awaitWhile(BooleanSupplier condition, long millis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (condition.getAsBoolean() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new RealizationException("interrupted while waiting for the dnsmasq of network " + network, e);
            }
        }
    }
}
