package dev.tapwire.network.bridge;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.bridge.linux.Interfaces;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The netlink socket (and the interface ioctls over it) that a thread reuses from one configure to the next,
 * for as long as it stays in one network namespace.
 *
 * <p>A socket belongs to the namespace it was opened in, whichever namespace its thread is in later: so the
 * cache is keyed by the calling thread's namespace ({@code /proc/thread-self/ns/net}, checked on every use)
 * and a socket is never used from another namespace. The cached socket holds its namespace alive, so that
 * namespace's identity cannot be reused while it is cached. A socket that fell out of step (a failed
 * exchange) is closed and replaced. A thread's socket is closed by the {@link java.lang.ref.Cleaner} of its
 * descriptor once the thread is gone.
 */
final class ThreadSockets {

    private static final Path THREAD_NETNS = Path.of("/proc/thread-self/ns/net");
    private static final ThreadLocal<ThreadSockets> CACHE = new ThreadLocal<>();

    final Rtnetlink netlink;
    final Interfaces interfaces;
    private final String netns;

    private ThreadSockets(String netns, Rtnetlink netlink) {
        this.netns = netns;
        this.netlink = netlink;
        this.interfaces = Interfaces.over(netlink);
    }

    /**
     * Returns the calling thread's sockets for its current network namespace, opening them when there are none
     * or the thread moved to another namespace.
     *
     * @return the sockets; not to be closed by the caller
     * @throws DeviceOperationException if a socket cannot be opened or the namespace cannot be read
     */
    static ThreadSockets current() {
        String netns = currentNetns();
        ThreadSockets cached = CACHE.get();
        if (cached != null && cached.netns.equals(netns) && cached.netlink.isUsable()) {
            return cached;
        }
        if (cached != null) {
            cached.close();
        }
        ThreadSockets fresh = new ThreadSockets(netns, Rtnetlink.open());
        CACHE.set(fresh);
        return fresh;
    }

    private void close() {
        CACHE.remove();
        interfaces.close();
        netlink.close();
    }

    private static String currentNetns() {
        try {
            return Files.readSymbolicLink(THREAD_NETNS).toString();
        } catch (IOException | UnsupportedOperationException e) {
            throw DeviceOperationException.of("readlink", THREAD_NETNS.toString(), DeviceOperationException.Reason.OTHER,
                    "cannot tell which network namespace this thread is in: " + e, e);
        }
    }
}
