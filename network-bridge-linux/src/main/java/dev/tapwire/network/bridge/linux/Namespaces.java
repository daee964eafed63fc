package dev.tapwire.network.bridge.linux;

import com.sun.jna.LastErrorException;
import dev.tapwire.network.bridge.linux.raw.LibC;
import dev.tapwire.network.bridge.linux.raw.Linux;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * Network namespaces of the calling thread. Namespaces belong to threads: only the calling platform
 * thread moves; never call this on a virtual thread (its carrier would move instead).
 */
public final class Namespaces {

    private static volatile Optional<String> unavailability;

    private Namespaces() {
    }

    /**
     * Says why this process cannot create private network namespaces, probing once by making one.
     *
     * @return the reason (e.g. {@code EPERM} without {@code CAP_SYS_ADMIN}), or empty when it can
     */
    public static Optional<String> unavailabilityCause() {
        Optional<String> cause = unavailability;
        if (cause == null) {
            try {
                callInNewNetworkNamespace(() -> null);
                cause = Optional.empty();
            } catch (Exception | LinkageError e) {
                cause = Optional.of("cannot create a private network namespace: " + e.getMessage());
            }
            unavailability = cause;
        }
        return cause;
    }

    /**
     * Moves the calling thread into a new, empty network namespace ({@code unshare(CLONE_NEWNET)}); it is
     * destroyed with the devices in it once no thread or fd refers to it.
     *
     * @throws dev.tapwire.network.DeviceOperationException {@code EPERM} without {@code CAP_SYS_ADMIN}
     * @throws IllegalStateException if called on a virtual thread
     */
    public static void enterNewNetworkNamespace() {
        if (isVirtual(Thread.currentThread())) {
            throw new IllegalStateException("network namespaces belong to OS threads; do not unshare on a virtual thread");
        }
        try {
            LibC.unshare(Linux.CLONE_NEWNET);
        } catch (LastErrorException e) {
            throw Errno.failure("unshare(CLONE_NEWNET)", null, e);
        }
        try (Interfaces interfaces = Interfaces.open()) {
            interfaces.setUp("lo", true);
        }
    }

    /**
     * Moves the calling thread into the network namespace of another thread or process, e.g.
     * {@code /proc/<tid>/ns/net} or a namespace bind-mounted by {@code ip netns add} under {@code /run/netns}.
     *
     * @param namespace the namespace file
     * @throws dev.tapwire.network.DeviceOperationException if the file cannot be opened or {@code setns} fails
     *     ({@code EPERM} without {@code CAP_SYS_ADMIN})
     * @throws IllegalStateException if called on a virtual thread
     */
    public static void enterNetworkNamespace(Path namespace) {
        if (isVirtual(Thread.currentThread())) {
            throw new IllegalStateException("network namespaces belong to OS threads; do not setns on a virtual thread");
        }
        int fd;
        try {
            fd = LibC.open(namespace.toString(), Linux.O_CLOEXEC);
        } catch (LastErrorException e) {
            throw Errno.failure("open", namespace.toString(), e);
        }
        try {
            LibC.setns(fd, Linux.CLONE_NEWNET);
        } catch (LastErrorException e) {
            throw Errno.failure("setns(CLONE_NEWNET)", namespace.toString(), e);
        } finally {
            LibC.close(fd);
        }
    }

    /**
     * Runs {@code task} on a new platform thread that first enters a new, empty network namespace, and
     * waits for it; the namespace and every device made in it vanish when the task ends.
     *
     * @param task the work
     * @param <T> the result type
     * @return the task's result
     * @throws Exception whatever the task throws, or the {@code unshare} failure
     */
    public static <T> T callInNewNetworkNamespace(Callable<T> task) throws Exception {
        FutureTask<T> future = new FutureTask<>(() -> {
            enterNewNetworkNamespace();
            return task.call();
        });
        Thread thread = new Thread(future, "tapwire-netns");
        thread.start();
        try {
            return future.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception ex) {
                throw ex;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw e;
        } finally {
            thread.join();
        }
    }

    private static boolean isVirtual(Thread thread) {
        try {
            return (boolean) Thread.class.getMethod("isVirtual").invoke(thread);
        } catch (ReflectiveOperationException e) {
            return false; // before Java 21 every thread is a platform thread
        }
    }
}
