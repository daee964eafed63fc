package dev.tapwire.network.testkit;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.NativeLong;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import dev.tapwire.network.testkit.internal.TestkitNative;
import java.lang.ref.Cleaner;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A private network namespace, kept alive by an open fd, that code can run in on fresh platform threads.
 *
 * <p>Network namespaces belong to threads: {@link #run} starts a platform thread, moves it into this
 * namespace with {@code setns(2)} and runs the task there, so the host's interfaces are never touched.
 * Devices created inside (TAPs, bridges) vanish with the namespace when it is {@linkplain #close closed}
 * and no thread remains in it. Needs Linux and {@code CAP_NET_ADMIN}; {@link #unavailabilityCause()}
 * says why it cannot be used.
 *
 * <pre>{@code
 * try (NetworkNamespace ns = NetworkNamespace.create()) {
 *     ns.run(() -> {
 *         NetworkNamespace.createBridge("br0");
 *         return provider.configure("vm-1", 1, VmSpec.of(2), List.of());
 *     });
 * }
 * }</pre>
 */
public final class NetworkNamespace implements AutoCloseable {

    private static volatile Optional<String> cause;
    private static final Cleaner CLEANER = Cleaner.create();

    private final int fd;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Cleaner.Cleanable cleanable;

    private NetworkNamespace(int fd) {
        this.fd = fd;
        this.cleanable = CLEANER.register(this, new Closer(fd)); // safety net only: close() is the plan
    }

    private record Closer(int fd) implements Runnable {
        @Override
        public void run() {
            try {
                TestkitNative.close(fd);
            } catch (LastErrorException ignored) {
                // the descriptor is released anyway
            }
        }
    }

    /**
     * Tells whether private network namespaces can be created on this host by this process.
     *
     * @return true when {@link #create()} works
     */
    public static boolean isSupported() {
        return unavailabilityCause().isEmpty();
    }

    /**
     * Says why private network namespaces cannot be created here, probing once.
     *
     * @return the reason, or empty when they can
     */
    public static Optional<String> unavailabilityCause() {
        Optional<String> known = cause;
        if (known == null) {
            known = probe();
            cause = known;
        }
        return known;
    }

    private static Optional<String> probe() {
        if (!Platform.isLinux()) {
            return Optional.of("network namespaces need Linux; this is " + System.getProperty("os.name"));
        }
        try {
            onFreshThread(() -> {
                TestkitNative.unshare(TestkitNative.CLONE_NEWNET);
                return null;
            });
        } catch (LastErrorException e) {
            return Optional.of("unshare(CLONE_NEWNET) failed: " + errno(e)
                    + (e.getErrorCode() == 1 ? "; run as root or grant CAP_NET_ADMIN (and CAP_SYS_ADMIN)" : ""));
        } catch (Throwable e) {
            return Optional.of("cannot call unshare(2) through JNA: " + e);
        }
        if (!Files.isReadable(Path.of("/dev/net/tun")) || !Files.isWritable(Path.of("/dev/net/tun"))) {
            return Optional.of("/dev/net/tun is missing or not readable and writable by this user");
        }
        return Optional.empty();
    }

    /**
     * Creates a fresh network namespace holding only a loopback interface (brought up).
     *
     * @return the namespace; close it to let it go
     * @throws IllegalStateException if namespaces are not supported here (with the reason)
     */
    public static NetworkNamespace create() {
        unavailabilityCause().ifPresent(reason -> {
            throw new IllegalStateException("cannot create a network namespace: " + reason);
        });
        try {
            int fd = onFreshThread(() -> {
                TestkitNative.unshare(TestkitNative.CLONE_NEWNET);
                setUp("lo");
                return TestkitNative.open("/proc/thread-self/ns/net", TestkitNative.O_RDONLY | TestkitNative.O_CLOEXEC);
            });
            return new NetworkNamespace(fd);
        } catch (LastErrorException e) {
            throw new IllegalStateException("cannot create a network namespace: " + errno(e), e);
        } catch (Exception e) {
            throw new IllegalStateException("cannot create a network namespace: " + e, e);
        }
    }

    /**
     * Runs {@code task} on a new platform thread inside this namespace and waits for it.
     *
     * @param task the work
     * @param <T> the result type
     * @return the task's result
     * @throws Exception whatever the task throws, unwrapped
     */
    public <T> T run(Callable<T> task) throws Exception {
        if (closed.get()) {
            throw new IllegalStateException("network namespace is closed");
        }
        return onFreshThread(() -> {
            TestkitNative.setns(fd, TestkitNative.CLONE_NEWNET);
            return task.call();
        });
    }

    /**
     * Runs {@code action} on a new platform thread inside this namespace and waits for it.
     *
     * @param action the work
     * @throws Throwable whatever the action throws, unwrapped
     */
    public void execute(ThrowingRunnable action) throws Throwable {
        try {
            run(() -> {
                try {
                    action.run();
                } catch (Exception | Error e) {
                    throw e;
                } catch (Throwable t) {
                    throw new ExecutionException(t);
                }
                return null;
            });
        } catch (ExecutionException e) {
            throw e.getCause();
        }
    }

    /**
     * Returns a path that names this namespace for tools run from another one: {@code ip link set dev X netns PATH}
     * moves a link into it, {@code nsenter --net=PATH} runs a command in it. Valid while the namespace is open.
     *
     * @return {@code /proc/<this JVM's pid>/fd/<the namespace's fd>}
     * @throws IllegalStateException if the namespace is closed
     */
    public Path path() {
        if (closed.get()) {
            throw new IllegalStateException("network namespace is closed");
        }
        return Path.of("/proc/" + ProcessHandle.current().pid() + "/fd/" + fd);
    }

    /**
     * Hosts played by network namespaces: an underlay namespace holding a bridge (with a fixed MAC: a bridge's MAC
     * follows its ports, and one leaving would change it), and per host a namespace joined to it by a veth whose host
     * end, {@code eth0}, holds the host's underlay address {@code 198.51.100.1<n>/24} (a documentation range), MTU
     * {@value #UNDERLAY_MTU}. Nothing is made in the JVM's own namespace; closing removes it all. Needs {@code ip}
     * (Debian package iproute2).
     */
    public static final class Hosts implements AutoCloseable {

        /** The MTU of every underlay link. */
        public static final int UNDERLAY_MTU = 1500;

        private final NetworkNamespace underlay;
        private final List<NetworkNamespace> hosts = new ArrayList<>();

        private Hosts(NetworkNamespace underlay) {
            this.underlay = underlay;
        }

        /**
         * Makes the underlay and {@code count} hosts.
         *
         * @param count how many hosts
         * @return the hosts; close them to remove it all
         * @throws Exception if a namespace or link cannot be made
         */
        public static Hosts create(int count) throws Exception {
            Hosts fleet = new Hosts(NetworkNamespace.create());
            try {
                fleet.underlay.run(() -> {
                    exec("ip", "link", "add", "ul", "address", "02:00:5e:10:00:01", "type", "bridge");
                    exec("ip", "link", "set", "ul", "up");
                    return null;
                });
                for (int n = 1; n <= count; n++) {
                    NetworkNamespace host = NetworkNamespace.create();
                    fleet.hosts.add(host);
                    String port = "uh" + n;
                    fleet.underlay.run(() -> {
                        exec("ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns",
                                host.path().toString());
                        exec("ip", "link", "set", port, "master", "ul", "up");
                        return null;
                    });
                    String address = fleet.underlay(n) + "/24";
                    host.run(() -> {
                        exec("ip", "addr", "add", address, "dev", "eth0");
                        exec("ip", "link", "set", "eth0", "up");
                        return null;
                    });
                }
                return fleet;
            } catch (Exception | Error e) {
                fleet.close();
                throw e;
            }
        }

        /**
         * Returns host {@code n}'s namespace (1-based).
         *
         * @param n the host number
         * @return its namespace
         */
        public NetworkNamespace host(int n) {
            return hosts.get(n - 1);
        }

        /**
         * Returns every host's namespace, in order.
         *
         * @return the namespaces
         */
        public List<NetworkNamespace> hosts() {
            return List.copyOf(hosts);
        }

        /**
         * Returns host {@code n}'s underlay address.
         *
         * @param n the host number
         * @return {@code 198.51.100.1<n>}, as text
         */
        public String underlay(int n) {
            return "198.51.100.1" + n;
        }

        /**
         * Deletes every link of host {@code n}'s namespace but loopback (its underlay veth and whatever tapwire made
         * there), as a host that dies takes its links with it.
         *
         * @param n the host number
         * @throws Exception if a link cannot be deleted
         */
        public void cutOff(int n) throws Exception {
            host(n).run(() -> {
                for (String line : exec("ip", "-o", "link", "show").split("\n")) {
                    String[] f = line.split(":\\s+");
                    if (f.length >= 2) {
                        String name = f[1].split("@")[0];
                        if (!name.equals("lo")) {
                            exec("ip", "link", "del", name);
                        }
                    }
                }
                return null;
            });
        }

        /** Closes every host namespace and the underlay, and with them every device in them. */
        @Override
        public void close() {
            hosts.forEach(NetworkNamespace::close);
            underlay.close();
        }

        /** Runs a command in the calling thread's namespace; returns its output or fails with it. */
        /**
         * Runs a command in the calling thread's namespace and returns its output.
         *
         * @param command the command and its arguments
         * @return what it printed (stdout and stderr)
         * @throws IOException if it cannot be run, fails or runs longer than 30 s (with its output)
         * @throws InterruptedException if interrupted while waiting
         */
        public static String exec(String... command) throws IOException, InterruptedException {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException(String.join(" ", command) + " failed: " + out);
            }
            return out;
        }
    }

    /** Work that may throw anything. */
    @FunctionalInterface
    public interface ThrowingRunnable {
        /**
         * Does the work.
         *
         * @throws Throwable on failure
         */
        void run() throws Throwable;
    }

    /**
     * Releases the namespace: first every process still running in it (a dnsmasq, a QEMU a test did not stop) is
     * stopped — SIGTERM, and SIGKILL for any still there 5 s later — since each would keep the namespace and its
     * devices alive; then it disappears with its devices once no thread of this JVM is left in it. Idempotent.
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            stopProcesses();
            cleanable.clean();
        }
    }

    /** The processes (other than this JVM) whose network namespace is this one. */
    List<ProcessHandle> processes() {
        String self = identity();
        if (self == null) {
            return List.of();
        }
        long me = ProcessHandle.current().pid();
        return ProcessHandle.allProcesses().filter(p -> p.pid() != me && self.equals(namespaceOf(p.pid()))).toList();
    }

    private void stopProcesses() {
        List<ProcessHandle> left = processes();
        left.forEach(ProcessHandle::destroy);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        for (ProcessHandle p : left) {
            while (p.isAlive() && System.nanoTime() < deadline) {
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            if (p.isAlive()) {
                p.destroyForcibly();
            }
        }
    }

    /** This namespace as the kernel names it ({@code net:[inode]}), or null where /proc does not say. */
    private String identity() {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
        } catch (IOException | UnsupportedOperationException e) {
            return null;
        }
    }

    private static String namespaceOf(long pid) {
        try {
            return Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/net")).toString();
        } catch (IOException | UnsupportedOperationException e) {
            return null; // gone, or not ours to see
        }
    }

    /**
     * Creates a Linux bridge in the calling thread's namespace and brings it up.
     *
     * @param name the bridge name, 1-15 bytes
     * @throws IllegalStateException if the kernel refuses (the message carries the errno)
     */
    public static void createBridge(String name) {
        try (Socket socket = new Socket()) {
            Memory buffer = new Memory(64);
            buffer.clear();
            buffer.setString(0, name, StandardCharsets.US_ASCII.name());
            TestkitNative.ioctl(socket.fd, new NativeLong(TestkitNative.SIOCBRADDBR), buffer);
        } catch (LastErrorException e) {
            throw new IllegalStateException("SIOCBRADDBR(" + name + ") failed: " + errno(e), e);
        }
        setUp(name);
    }

    /**
     * Lists the interfaces of the calling thread's namespace, through {@code if_nameindex(3)}.
     *
     * @return interface names in index order
     */
    public static List<String> links() {
        Pointer list = TestkitNative.if_nameindex();
        List<String> names = new ArrayList<>();
        try {
            for (long offset = 0; ; offset += 16) {
                int index = list.getInt(offset);
                if (index == 0) {
                    break;
                }
                names.add(list.getPointer(offset + 8).getString(0, StandardCharsets.US_ASCII.name()));
            }
        } finally {
            TestkitNative.if_freenameindex(list);
        }
        return names;
    }

    /**
     * Drops {@code CAP_NET_ADMIN} from the calling thread's effective capabilities (only this thread:
     * Linux capabilities are per thread). Use it on a namespace thread to prove that a backend reports
     * {@code EPERM} clearly.
     *
     * @throws IllegalStateException if {@code capget}/{@code capset} fail
     */
    public static void dropNetAdminOnThisThread() {
        Memory header = new Memory(8);
        header.setInt(0, TestkitNative.LINUX_CAPABILITY_VERSION_3);
        header.setInt(4, 0);
        Memory data = new Memory(24);
        try {
            TestkitNative.capget(header, data);
            data.setInt(0, data.getInt(0) & ~(1 << TestkitNative.CAP_NET_ADMIN));
            TestkitNative.capset(header, data);
        } catch (LastErrorException e) {
            throw new IllegalStateException("cannot drop CAP_NET_ADMIN: " + errno(e), e);
        }
    }

    /**
     * Runs {@code task} on a new platform thread, in the calling thread's network namespace, as another user:
     * the thread alone takes {@code uid}, {@code gid} and the supplementary {@code groups} (raw system calls:
     * Linux credentials are per thread, and glibc's wrappers would change every thread of the JVM) and with
     * them loses every capability but {@code CAP_DAC_OVERRIDE} — kept so that it can open
     * {@code /dev/net/tun} where that is mode 0600 (on most hosts it is 0666); it grants nothing on a TAP,
     * whose owner and group the kernel checks against {@code CAP_NET_ADMIN} only. Use it to prove who may
     * attach to a TAP, as a non-root VMM would.
     *
     * @param uid the user ID, not 0
     * @param gid the group ID
     * @param groups the supplementary groups
     * @param task the work
     * @param <T> the result type
     * @return the task's result
     * @throws Exception whatever the task throws, unwrapped
     * @throws IllegalArgumentException if {@code uid} is 0
     * @throws IllegalStateException if the credentials cannot be changed (needs {@code CAP_SETUID}/{@code CAP_SETGID})
     */
    public static <T> T runAs(int uid, int gid, int[] groups, Callable<T> task) throws Exception {
        if (uid == 0) {
            throw new IllegalArgumentException("runAs is for a user without privileges; uid 0 is root");
        }
        return onFreshThread(() -> {
            Memory list = new Memory(4L * Math.max(1, groups.length));
            for (int i = 0; i < groups.length; i++) {
                list.setInt(4L * i, groups[i]);
            }
            try {
                TestkitNative.Syscalls sys = TestkitNative.Syscalls.INSTANCE;
                sys.syscall(TestkitNative.SYS_PRCTL, TestkitNative.PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L);
                sys.syscall(TestkitNative.SYS_SETGROUPS, (long) groups.length, list);
                sys.syscall(TestkitNative.SYS_SETRESGID, (long) gid, (long) gid, (long) gid);
                sys.syscall(TestkitNative.SYS_SETRESUID, (long) uid, (long) uid, (long) uid);
                Memory header = new Memory(8);
                header.setInt(0, TestkitNative.LINUX_CAPABILITY_VERSION_3);
                header.setInt(4, 0);
                Memory data = new Memory(24);
                data.clear();
                int dac = 1 << TestkitNative.CAP_DAC_OVERRIDE;
                data.setInt(0, dac); // effective
                data.setInt(4, dac); // permitted
                TestkitNative.capset(header, data);
            } catch (LastErrorException e) {
                throw new IllegalStateException("cannot become uid " + uid + ", gid " + gid + ": " + errno(e), e);
            }
            return task.call();
        });
    }

    private static void setUp(String name) {
        try (Socket socket = new Socket()) {
            Memory ifr = new Memory(40);
            ifr.clear();
            ifr.setString(0, name, StandardCharsets.US_ASCII.name());
            TestkitNative.ioctl(socket.fd, new NativeLong(TestkitNative.SIOCGIFFLAGS), ifr);
            ifr.setShort(16, (short) (ifr.getShort(16) | TestkitNative.IFF_UP));
            TestkitNative.ioctl(socket.fd, new NativeLong(TestkitNative.SIOCSIFFLAGS), ifr);
        } catch (LastErrorException e) {
            throw new IllegalStateException("cannot bring " + name + " up: " + errno(e), e);
        }
    }

    static String errno(LastErrorException e) {
        return "errno " + e.getErrorCode() + " (" + TestkitNative.strerror(e.getErrorCode()) + ")";
    }

    private static final class Socket implements AutoCloseable {
        final int fd = TestkitNative.socket(TestkitNative.AF_INET, TestkitNative.SOCK_DGRAM | TestkitNative.SOCK_CLOEXEC, 0);

        @Override
        public void close() {
            TestkitNative.close(fd);
        }
    }

    private static <T> T onFreshThread(Callable<T> task) throws Exception {
        FutureTask<T> future = new FutureTask<>(task);
        Thread thread = new Thread(future, "tapwire-netns");
        thread.setDaemon(true);
        thread.start();
        try {
            return future.get();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Exception ex) {
                throw ex;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw e;
        } finally {
            thread.join();
        }
    }
}
