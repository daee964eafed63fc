package dev.tapwire.network.bridge;

import dev.tapwire.network.RegistryWatch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.lang.ref.Cleaner;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The thread behind {@link NetworkRealizer#follow()}: it syncs every realized network when the registry's watch
 * reports a change (any number of reports, one sync) and every resync period regardless, from a fresh read of the
 * registry each time. It owns the registry watch, re-opening it at each resync while it cannot be had. It stops
 * when its last handle is closed.
 */
final class Follower {

    private static final Logger LOG = LoggerFactory.getLogger(Follower.class);
    private static final Duration STOP_WAIT = Duration.ofSeconds(30);
    /** Our own cleaner thread: releasing a collected handle may wait for a sync under way. */
    private static final Cleaner CLEANER = Cleaner.create();

    private final NetworkRealizer realizer;
    private final String namespace;
    private final Duration period;
    private final Semaphore wake = new Semaphore(0);
    private final Thread thread;
    private volatile boolean stopping;
    private int handles; // guarded by this
    private RegistryWatch watch; // only touched by the thread
    private String lastFailure; // only touched by the thread

    Follower(NetworkRealizer realizer, String namespace, Duration period) {
        this.realizer = realizer;
        this.namespace = namespace;
        this.period = period;
        // a platform thread started here inherits the caller's network namespace, where the syncs must act
        this.thread = new Thread(this::run, "tapwire-realizer-follow");
        thread.setDaemon(true);
        thread.start();
    }

    /** The network namespace the follower acts in, as {@link #currentNamespace()} names it. */
    String namespace() {
        return namespace;
    }

    /**
     * Names the calling thread's network namespace ({@code net:[inode]}), or {@code "unknown"} where
     * {@code /proc} does not say.
     */
    static String currentNamespace() {
        try {
            return Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")).toString();
        } catch (IOException | UnsupportedOperationException e) {
            return "unknown";
        }
    }

    /**
     * Returns a new handle (the follower runs until every handle is closed), or null once it is stopping. A handle
     * dropped without being closed is closed when it is collected — a safety net, so a forgotten handle cannot
     * keep the thread alive for ever; closing it is the plan.
     */
    synchronized RegistryWatch handle() {
        if (stopping) {
            return null;
        }
        handles++;
        return new Handle(new Release(this, new AtomicBoolean()));
    }

    /** Releases one handle's share once; refers to the follower, never to the handle. */
    private record Release(Follower follower, AtomicBoolean closed) implements Runnable {
        @Override
        public void run() {
            if (closed.compareAndSet(false, true)) {
                follower.release();
            }
        }
    }

    /** A handle; closing it (or its being collected unclosed) releases its share of the follower. */
    private static final class Handle implements RegistryWatch {
        private final Cleaner.Cleanable cleanable;

        Handle(Release release) {
            this.cleanable = CLEANER.register(this, release);
        }

        @Override
        public void close() {
            cleanable.clean();
        }
    }

    private void release() {
        synchronized (this) {
            if (--handles > 0) {
                return;
            }
            stopping = true;
        }
        wake.release();
        if (Thread.currentThread() == thread) {
            return; // closed from a sync (a listener of its own): the loop ends after it
        }
        try {
            thread.join(STOP_WAIT.toMillis()); // a sync under way finishes first: never cut off mid-change
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            LOG.warn("the registry follower is still syncing {} s after it was closed; it stops after that sync",
                    STOP_WAIT.toSeconds());
        }
    }

    private void run() {
        try {
            while (!stopping) {
                openWatch();
                try {
                    wake.tryAcquire(period.toMillis(), TimeUnit.MILLISECONDS);
                    wake.drainPermits(); // one sync covers every change reported so far
                } catch (InterruptedException e) {
                    return;
                }
                if (stopping) {
                    return;
                }
                sync();
            }
        } finally {
            if (watch != null) {
                watch.close();
            }
            realizer.followerStopped(this);
        }
    }

    private void openWatch() {
        if (watch != null) {
            return;
        }
        try {
            watch = realizer.registry().watch(change -> wake.release());
            if (lastFailure != null) {
                LOG.warn("watching the registry again; realized networks follow its changes at once");
                lastFailure = null;
            }
            wake.release(); // changes made before the watch began are seen by a sync right away
        } catch (RuntimeException e) {
            failed("cannot watch the registry (retried every " + period.toMillis() + " ms, syncing meanwhile): "
                    + e.getMessage());
        }
    }

    private void sync() {
        try {
            realizer.syncAll();
            if (lastFailure != null && watch != null) {
                LOG.warn("realized networks are in sync with the registry again");
                lastFailure = null;
            }
        } catch (RuntimeException e) {
            failed("could not sync realized networks with the registry (retried at the next change or within "
                    + period.toMillis() + " ms): " + e.getMessage());
        }
    }

    /** Warns once per distinct failure, so a registry that stays unreachable does not flood the log. */
    private void failed(String message) {
        if (!message.equals(lastFailure)) {
            LOG.warn(message);
            lastFailure = message;
        } else {
            LOG.debug(message);
        }
    }
}
