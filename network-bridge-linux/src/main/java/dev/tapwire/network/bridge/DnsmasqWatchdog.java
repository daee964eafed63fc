package dev.tapwire.network.bridge;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the dnsmasq of every network realized here running, without waiting for the next configure: every 100 ms it
 * checks each network's dnsmasq (as {@link Dnsmasq} defines which process that is) and restarts one that is not
 * running, with a backoff per network — the first attempt 0.1 s after the death is seen, each further delay twice
 * the one before up to 30 s, back to 0.1 s once a restarted dnsmasq has run for a minute — so a dnsmasq that cannot
 * start (its port taken, its bridge gone) is retried with growing delays and never spun on. Each restart is warned
 * about. It also caps each running dnsmasq's log ({@link Dnsmasq#capLog}) the moment it grows past the cap: it
 * watches each network's directory (inotify, through a {@link WatchService}), since a guest's burst of DHCP requests
 * writes faster than a round comes.
 *
 * <p>It runs on a thread of its own, made by {@link #start} in the calling thread's network namespace (a thread
 * inherits its creator's), where it checks and restarts. A realizer starts one while it follows the registry and
 * closes it when it stops following.
 */
final class DnsmasqWatchdog implements AutoCloseable {

    static final Duration TICK = Duration.ofMillis(100);
    static final Duration FIRST_DELAY = Duration.ofMillis(100);
    static final Duration MAX_DELAY = Duration.ofSeconds(30);
    static final Duration HEALTHY = Duration.ofMinutes(1);

    private static final Logger LOG = LoggerFactory.getLogger(DnsmasqWatchdog.class);

    private final Path runtime;
    private final Supplier<? extends Collection<Realization>> realized;
    private final Consumer<Realization> restart;
    private final long healthyNanos;
    private final long logCap;
    private final CountDownLatch stopping = new CountDownLatch(1);
    private final AtomicBoolean started = new AtomicBoolean();
    private final Map<String, Backoff> backoffs = new HashMap<>();
    private final Map<WatchKey, String> watched = new HashMap<>();
    private Thread thread;

    /**
     * Makes a watchdog (nothing runs until {@link #start}).
     *
     * @param runtime the runtime directory of the state directory ({@link NetworkRealizer#runtimeDir})
     * @param realized the networks realized here, read at every check
     * @param restart starts a network's dnsmasq (the realizer's does it under its lock, and only while the network
     *     is still realized); throws when it cannot
     */
    DnsmasqWatchdog(Path runtime, Supplier<? extends Collection<Realization>> realized, Consumer<Realization> restart) {
        this(runtime, realized, restart, HEALTHY, Dnsmasq.LOG_CAP);
    }

    /** As the other constructor, with the healthy run that resets the backoff and the log cap given (for tests). */
    DnsmasqWatchdog(Path runtime, Supplier<? extends Collection<Realization>> realized, Consumer<Realization> restart,
            Duration healthy, long logCap) {
        this.runtime = runtime;
        this.realized = realized;
        this.restart = restart;
        this.healthyNanos = healthy.toNanos();
        this.logCap = logCap;
    }

    /**
     * Starts checking, on a new thread in the calling thread's network namespace.
     *
     * @throws RealizationException if it was started before
     */
    void start() {
        if (!started.compareAndSet(false, true)) {
            throw new RealizationException("this dnsmasq watchdog was started already");
        }
        thread = new Thread(this::run, "tapwire-dnsmasq-watchdog");
        thread.setDaemon(true);
        thread.start();
    }

    /** Stops checking and waits until a restart under way has finished; idempotent. */
    @Override
    public void close() {
        stopping.countDown();
        Thread t = thread;
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void run() {
        LOG.debug("dnsmasq watchdog for {} started", runtime);
        try (WatchService logs = FileSystems.getDefault().newWatchService()) {
            long nextRound = System.nanoTime();
            while (stopping.getCount() > 0) {
                long now = System.nanoTime();
                if (now - nextRound >= 0) {
                    round(now, logs);
                    nextRound = now + TICK.toNanos();
                }
                WatchKey key = logs.poll(Math.max(1, nextRound - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (key != null) {
                    capLogs(key);
                }
            }
        } catch (IOException e) {
            LOG.warn("dnsmasq watchdog for {} stopped: cannot watch the logs: {}", runtime, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        LOG.debug("dnsmasq watchdog for {} stopped", runtime);
    }

    private void round(long now, WatchService logs) {
        try {
            check(now);
            watchLogs(logs);
        } catch (RuntimeException e) {
            LOG.warn("dnsmasq watchdog for {}: check failed: {}", runtime, e.toString());
        }
    }

    /** One round: every realized network's dnsmasq checked, restarted when due, its log capped. */
    void check(long now) {
        Set<String> seen = new HashSet<>();
        for (Realization r : realized.get()) {
            seen.add(r.network());
            Backoff b = backoffs.computeIfAbsent(r.network(), n -> new Backoff());
            Dnsmasq dnsmasq = dnsmasq(r.network());
            if (dnsmasq.pid().isPresent()) {
                b.running(now, healthyNanos);
                capLog(dnsmasq);
            } else if (b.due(now)) {
                attempt(r, dnsmasq, b, now);
            }
        }
        backoffs.keySet().retainAll(seen);
    }

    /**
     * Watches the directory of each network checked (and no other), so that a log is capped the moment it grows
     * past the cap rather than at the next round: a guest's burst of requests writes faster than a round comes.
     */
    private void watchLogs(WatchService logs) {
        for (String network : backoffs.keySet()) {
            if (!watched.containsValue(network)) {
                try {
                    watched.put(runtime.resolve(network).register(logs, StandardWatchEventKinds.ENTRY_MODIFY,
                            StandardWatchEventKinds.ENTRY_CREATE), network);
                } catch (IOException e) {
                    LOG.debug("cannot watch the log of network {} yet: {}", network, e.toString());
                }
            }
        }
        watched.entrySet().removeIf(e -> {
            boolean gone = !backoffs.containsKey(e.getValue()) || !e.getKey().isValid();
            if (gone) {
                e.getKey().cancel();
            }
            return gone;
        });
    }

    private void capLogs(WatchKey key) {
        String network = watched.get(key);
        boolean logChanged = false;
        for (WatchEvent<?> event : key.pollEvents()) {
            logChanged |= event.kind() == StandardWatchEventKinds.OVERFLOW || "dnsmasq.log".equals(
                    String.valueOf(event.context()));
        }
        if (!key.reset()) {
            watched.remove(key); // the directory went; the next round watches it again if it came back
        }
        if (network != null && logChanged) {
            capLog(dnsmasq(network));
        }
    }

    private void capLog(Dnsmasq dnsmasq) {
        try {
            dnsmasq.capLog(logCap);
        } catch (RuntimeException e) {
            LOG.warn("could not cap the log of {}: {}", dnsmasq.logFile(), e.getMessage());
        }
    }

    private Dnsmasq dnsmasq(String network) {
        return new Dnsmasq(runtime.resolve(network), network);
    }

    private void attempt(Realization r, Dnsmasq dnsmasq, Backoff b, long now) {
        String why = dnsmasq.problem().map(p -> " (" + p + ")").orElse("");
        LOG.warn("dnsmasq of network {} is not running{}; restarting it (attempt {})", r.network(), why,
                b.attempts + 1);
        try {
            restart.accept(r);
            b.restarted(now);
        } catch (RuntimeException e) {
            b.failed(now);
            LOG.warn("could not restart the dnsmasq of network {}: {}; next attempt in {} ms", r.network(),
                    e.getMessage(), TimeUnit.NANOSECONDS.toMillis(b.delay));
        }
    }

    /** One network's restart schedule; used by the watchdog's thread only. */
    private static final class Backoff {
        long delay = FIRST_DELAY.toNanos();
        /** When the next attempt is due; 0 while none is scheduled (the dnsmasq ran when last seen). */
        long due;
        /** When the last successful restart was; 0 when the backoff is reset. */
        long restartedAt;
        int attempts;

        /** Seen running: a restart that has run for {@code healthy} resets the backoff. */
        void running(long now, long healthy) {
            due = 0;
            if (restartedAt != 0 && now - restartedAt >= healthy) {
                delay = FIRST_DELAY.toNanos();
                restartedAt = 0;
                attempts = 0;
            }
        }

        /** Seen not running: true when an attempt is due now; the first sighting schedules one a delay later. */
        boolean due(long now) {
            if (due == 0) {
                due = now + delay;
                return false;
            }
            return now - due >= 0;
        }

        void restarted(long now) {
            attempts++;
            restartedAt = now;
            due = 0;
            grow();
        }

        void failed(long now) {
            attempts++;
            grow();
            due = now + delay;
        }

        private void grow() {
            delay = Math.min(delay * 2, MAX_DELAY.toNanos());
        }
    }
}
