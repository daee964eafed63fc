package dev.tapwire.network.bridge;

import com.sun.jna.LastErrorException;
import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.bridge.linux.Namespaces;
import dev.tapwire.network.bridge.linux.raw.LibC;
import dev.tapwire.network.bridge.linux.raw.Linux;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs work inside a given network namespace — the one a VM's TAPs, a bridge or a test live in — without moving
 * anything else there.
 *
 * <p>Network namespaces belong to OS threads, not to Java threads: {@code setns(2)} moves only the calling thread,
 * and every socket, netlink or {@code /dev/net/tun} descriptor a thread opens stays in the namespace it was opened
 * in. A virtual thread runs on carrier threads it shares with others and may change carrier at any blocking call,
 * so moving "its" namespace would move a carrier instead: these methods refuse virtual-thread callers, and
 * {@link #call} returns the calling platform thread to the namespace it was in before it returns or throws, so a
 * pooled thread is never left behind in another namespace.
 *
 * <pre>{@code
 * List<NicConfig> nics = NetworkNamespaces.call(Path.of("/run/netns/tenant-a"),
 *         () -> provider.configure("vm-1", 1, VmSpec.of(2), List.of()));
 * }</pre>
 *
 * <p>Work that needs its own throw-away namespace runs through {@link #callInNewNamespace}. The task must do its
 * work on the thread it is called on: threads it starts (virtual or not) are in the namespace they were started
 * from. Thread-safe: each call acts on its own thread only.
 */
public final class NetworkNamespaces {

    private static final Logger LOG = LoggerFactory.getLogger(NetworkNamespaces.class);

    private static final List<Path> MOUNTS = List.of(Path.of("/run/netns"), Path.of("/var/run/netns"));

    /** Where the calling thread's own network namespace is, whatever the process's main thread is in. */
    private static final String THREAD_SELF = "/proc/thread-self/ns/net";

    private NetworkNamespaces() {
    }

    /**
     * Runs {@code task} on the calling platform thread inside the network namespace {@code namespace}, then returns
     * the thread to the namespace it was in, whether the task returned or threw.
     *
     * @param namespace a network namespace file: one {@code ip netns add} bind-mounted under {@code /run/netns},
     *     {@code /proc/<pid>/ns/net} or {@code /proc/<pid>/task/<tid>/ns/net}
     * @param task the work; it runs on this thread, so what it opens (sockets, netlink, TAP queues) is in
     *     {@code namespace}
     * @param <T> the result type
     * @return what the task returned
     * @throws NetworkException on a virtual thread or off Linux (nothing is entered), or if the thread cannot be
     *     returned to its namespace afterwards (the task's own exception, if any, is attached as suppressed)
     * @throws DeviceOperationException if {@code namespace} cannot be opened or entered ({@code ENOENT}, {@code EINVAL}
     *     for a file that is not a network namespace, {@code EPERM} without {@code CAP_SYS_ADMIN}); the thread stays
     *     where it was
     * @throws Exception whatever the task throws
     */
    public static <T> T call(Path namespace, Callable<T> task) throws Exception {
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(task, "task");
        requirePlatformThread("NetworkNamespaces.call(" + namespace + ", …)");
        int home = open(Path.of(THREAD_SELF));
        Throwable failure = null;
        try {
            Namespaces.enterNetworkNamespace(namespace);
            LOG.debug("thread {} entered network namespace {}", Thread.currentThread().getName(), namespace);
            return task.call();
        } catch (Throwable e) {
            failure = e;
            throw e;
        } finally {
            try {
                returnTo(home);
            } catch (NetworkException e) {
                if (failure != null) {
                    e.addSuppressed(failure);
                }
                throw e;
            }
        }
    }

    /**
     * Runs {@code task} on a new platform thread that first enters a new, empty network namespace (only {@code lo},
     * up), and waits for it. The namespace and every device made in it vanish when the task has ended and nothing
     * else refers to it. The calling thread, virtual or not, stays where it is.
     *
     * @param task the work
     * @param <T> the result type
     * @return what the task returned
     * @throws DeviceOperationException if no namespace can be made ({@code EPERM} without {@code CAP_SYS_ADMIN})
     * @throws Exception whatever the task throws
     */
    public static <T> T callInNewNamespace(Callable<T> task) throws Exception {
        Objects.requireNonNull(task, "task");
        return Namespaces.callInNewNetworkNamespace(task);
    }

    /**
     * Names the calling thread's network namespace as a file that {@link #call} accepts from another thread while
     * this thread lives: {@code /proc/<pid>/task/<tid>/ns/net}.
     *
     * @return the file of this thread's network namespace
     * @throws NetworkException if {@code /proc} does not say which thread this is (not Linux, no {@code /proc})
     */
    public static Path ofCurrentThread() {
        try { // /proc/thread-self links to <pid>/task/<tid>
            return Path.of("/proc").resolve(Files.readSymbolicLink(Path.of("/proc/thread-self"))).resolve("ns/net");
        } catch (IOException | UnsupportedOperationException e) {
            throw new NetworkException("cannot name this thread's network namespace: /proc/thread-self is not readable ("
                    + e + "); network namespaces need Linux with /proc mounted", e);
        }
    }

    /**
     * Says why this process cannot enter or create network namespaces, probing once by creating one.
     *
     * @return the reason (not Linux, no {@code CAP_SYS_ADMIN}), or empty when it can
     */
    public static Optional<String> unavailabilityCause() {
        return Namespaces.unavailabilityCause();
    }

    /** Refuses a virtual thread: moving it would move the carrier thread it happens to run on. */
    private static void requirePlatformThread(String what) {
        if (isVirtual(Thread.currentThread())) {
            throw new NetworkException(what + " was called on virtual thread " + Thread.currentThread()
                    + ": network namespaces belong to OS threads, and a virtual thread would move its carrier; call it"
                    + " on a platform thread (new Thread, Executors.newFixedThreadPool) or use"
                    + " NetworkNamespaces.callInNewNamespace for a fresh namespace");
        }
    }

    private static boolean isVirtual(Thread thread) {
        try {
            return (boolean) Thread.class.getMethod("isVirtual").invoke(thread);
        } catch (ReflectiveOperationException e) {
            return false; // before Java 21 every thread is a platform thread
        }
    }

    private static int open(Path file) {
        try {
            return LibC.open(file.toString(), Linux.O_CLOEXEC);
        } catch (LinkageError e) {
            throw new NetworkException("network namespaces need Linux and JNA's native library: " + e, e);
        } catch (LastErrorException e) {
            throw new DeviceOperationException("open", file.toString(), e.getErrorCode(), null,
                    LibC.strerror(e.getErrorCode()));
        }
    }

    /** Moves the calling thread back into the namespace of {@code fd} and closes it. */
    private static void returnTo(int fd) {
        try {
            LibC.setns(fd, Linux.CLONE_NEWNET);
        } catch (LastErrorException e) {
            throw new NetworkException("thread " + Thread.currentThread().getName() + " could not return to its"
                    + " network namespace: setns(CLONE_NEWNET) failed: " + LibC.strerror(e.getErrorCode())
                    + "; do not reuse this thread for network work");
        } finally {
            LibC.close(fd);
        }
    }

    /** Whether the namespace is alive; an unreadable {@code /proc} counts as alive (never take over blindly). */
    static boolean isAlive(String namespace) {
        String inode = namespace.substring(namespace.indexOf('[') + 1, namespace.length() - 1);
        for (Path mounts : MOUNTS) {
            try (DirectoryStream<Path> names = Files.newDirectoryStream(mounts)) {
                for (Path name : names) {
                    try {
                        if (inode.equals(String.valueOf(Files.getAttribute(name, "unix:ino")))) {
                            return true;
                        }
                    } catch (IOException e) {
                        // unmounted meanwhile
                    }
                }
            } catch (IOException e) {
                // no such directory
            }
        }
        try (DirectoryStream<Path> processes = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path process : processes) {
                if (anyLinksTo(process.resolve("task"), "ns/net", namespace) || anyLinksTo(process.resolve("fd"), "",
                        namespace)) {
                    return true;
                }
            }
        } catch (IOException e) {
            return true;
        }
        return false;
    }

    /** Whether some entry of {@code dir}, or its {@code sub} path, is a link to {@code namespace}. */
    private static boolean anyLinksTo(Path dir, String sub, String namespace) {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path entry : entries) {
                try {
                    if (namespace.equals(Files.readSymbolicLink(sub.isEmpty() ? entry : entry.resolve(sub)).toString())) {
                        return true;
                    }
                } catch (IOException e) {
                    // ended meanwhile, or not ours to look at
                }
            }
        } catch (IOException e) {
            // the process ended
        }
        return false;
    }
}
