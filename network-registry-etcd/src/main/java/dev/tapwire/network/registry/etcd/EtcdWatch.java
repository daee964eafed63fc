package dev.tapwire.network.registry.etcd;

import dev.tapwire.network.RegistryChange;
import dev.tapwire.network.RegistryWatch;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.etcd.jetcd.watch.WatchResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A watch of an {@link EtcdNetworkRegistry}, on a jetcd client of its own, that resumes itself: it remembers the
 * revision after the last event it delivered, and whenever its stream fails, is cancelled (no leader, with
 * {@code withRequireLeader}) or stops answering the progress requests it sends every half request timeout, it
 * moves to the next endpoint and goes on from that revision. When that revision was compacted meanwhile it cannot
 * go on without a gap: it tells the listener {@link RegistryChange.Type#RESYNC} and goes on from the present.
 *
 * <p>What it watches and reports is its {@link Feed}: the registry's changes under the whole prefix, or the
 * placement changes under {@code p/} ({@link EtcdPlacements}).
 */
final class EtcdWatch implements RegistryWatch {

    private static final Logger LOG = LoggerFactory.getLogger(EtcdWatch.class);

    /**
     * Turns one event into the changes a listener is told of.
     *
     * @param <T> the change type
     */
    @FunctionalInterface
    interface Events<T> {
        /**
         * Returns the changes of one event.
         *
         * @param rest the key below the registry's prefix
         * @param put whether the key was put (else deleted)
         * @param kv the key as the event left it
         * @param previous the key before the event, or null
         * @return the changes, perhaps none
         */
        List<T> of(String rest, boolean put, KeyValue kv, KeyValue previous);
    }

    /**
     * What a watch reports and to whom: the keys under {@code under} (below the registry's prefix), their events
     * turned into changes, the change that says "read again", and the listener.
     *
     * @param <T> the change type
     */
    record Feed<T>(String under, Events<T> events, T resync, Consumer<? super T> listener) {

        /** Hands each change to the listener while {@code open}; a listener that throws is logged and goes on. */
        void deliver(List<T> changes, BooleanSupplier open) {
            for (T change : changes) {
                if (!open.getAsBoolean()) {
                    return;
                }
                try {
                    listener.accept(change);
                } catch (RuntimeException e) {
                    LOG.warn("registry watch: a listener failed on {}: {}", change, e.toString(), e);
                }
            }
        }
    }

    private final EtcdNetworkRegistry registry;
    private final Feed<?> feed;
    private final Consumer<EtcdWatch> onClose;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final ExecutorService delivery;
    private final ScheduledExecutorService keeper;
    private final long periodMillis;
    private final ByteSequence prefix;
    private volatile Thread deliveryThread;

    // guarded by this
    private Client client;
    private Watch.Watcher watcher;
    private int shift;
    private volatile int generation;
    /** The revision to go on from: the one after the last event handed to the delivery thread. */
    private volatile long next;
    private volatile long lastHeard;
    private volatile boolean compacted;
    /** Recoveries since the last answer: only the first of a row is worth a warning. */
    private volatile int recoveries;

    EtcdWatch(EtcdNetworkRegistry registry, Consumer<RegistryChange> listener, long from, Consumer<EtcdWatch> onClose) {
        this(registry, new Feed<>("", registry::changesOf, RegistryChange.resync(), listener), from, onClose);
    }

    EtcdWatch(EtcdNetworkRegistry registry, Feed<?> feed, long from, Consumer<EtcdWatch> onClose) {
        this.registry = registry;
        this.feed = feed;
        this.onClose = onClose;
        this.next = from;
        String watched = registry.prefix() + feed.under();
        this.prefix = ByteSequence.from(watched, StandardCharsets.UTF_8);
        this.periodMillis = Math.max(100, registry.requestTimeout().toMillis() / 2);
        this.delivery = Executors.newSingleThreadExecutor(task -> {
            deliveryThread = daemon(task, "tapwire-etcd-watch " + watched);
            return deliveryThread;
        });
        this.keeper = Executors.newSingleThreadScheduledExecutor(task -> daemon(task,
                "tapwire-etcd-watch-keeper " + watched));
    }

    private static Thread daemon(Runnable task, String name) {
        Thread thread = new Thread(task, name);
        thread.setDaemon(true);
        return thread;
    }

    void start() {
        synchronized (this) {
            connect(next);
        }
        keeper.scheduleWithFixedDelay(this::check, periodMillis, periodMillis, TimeUnit.MILLISECONDS);
    }

    /** Opens a new client and stream from {@code from}; callbacks of earlier ones are ignored from now on. */
    private void connect(long from) {
        if (closed.get()) {
            return;
        }
        disconnect();
        int gen = ++generation;
        lastHeard = System.nanoTime();
        client = registry.watchClient(shift);
        watcher = client.getWatchClient().watch(prefix, WatchOption.builder().isPrefix(true).withPrevKV(true)
                        .withRevision(from).withRequireLeader(true).build(),
                Watch.listener(response -> onResponse(gen, response), error -> onError(gen, error),
                        () -> onCompleted(gen)));
        LOG.debug("etcd registry watch on {} {} from revision {} (endpoint shift {})", registry.endpointsText(),
                registry.prefix(), from, shift);
    }

    private void disconnect() {
        if (watcher != null) {
            watcher.close();
            watcher = null;
        }
        if (client != null) {
            client.close();
            client = null;
        }
    }

    private void onResponse(int gen, WatchResponse response) {
        if (gen != generation || closed.get()) {
            return;
        }
        lastHeard = System.nanoTime(); // a progress reply too: the member answers
        recoveries = 0;
        handle(feed, response);
    }

    private <T> void handle(Feed<T> feed, WatchResponse response) {
        List<T> changes = new ArrayList<>();
        long last = 0;
        int cut = registry.prefix().length();
        for (WatchEvent event : response.getEvents()) {
            String rest = EtcdNetworkRegistry.text(event.getKeyValue().getKey()).substring(cut);
            try {
                changes.addAll(feed.events().of(rest, event.getEventType() == WatchEvent.EventType.PUT,
                        event.getKeyValue(), event.getPrevKV()));
            } catch (RuntimeException e) { // a key no tapwire wrote: the listener's next read says what it holds
                LOG.warn("etcd registry watch on {}: cannot read the change of {}{}: {}", registry.endpointsText(),
                        registry.prefix(), rest, e.getMessage());
            }
            last = event.getKeyValue().getModRevision();
        }
        if (last > 0) {
            next = last + 1;
        }
        if (!changes.isEmpty()) {
            deliver(feed, changes);
        }
    }

    private <T> void deliver(Feed<T> feed, List<T> changes) {
        try {
            delivery.execute(() -> feed.deliver(changes, () -> !closed.get()));
        } catch (RejectedExecutionException closing) {
            // closed meanwhile: nothing more is delivered
        }
    }

    /**
     * Runs {@code task} on the delivery thread, after every change handed to it so far, unless the watch is closed
     * by then: for a change etcd cannot report (this client's own lease lost while etcd is out of reach).
     */
    void enqueue(Runnable task) {
        try {
            delivery.execute(() -> {
                if (!closed.get()) {
                    task.run();
                }
            });
        } catch (RejectedExecutionException closing) {
            // closed meanwhile
        }
    }

    /** Tells the listener to read again: on a resync, and (for placements) once the watch is established. */
    void resync() {
        deliverResync(feed);
    }

    private <T> void deliverResync(Feed<T> feed) {
        deliver(feed, List.of(feed.resync()));
    }

    private void onError(int gen, Throwable error) {
        if (gen != generation || closed.get()) {
            return;
        }
        String text = String.valueOf(error.getMessage());
        if (error.getClass().getSimpleName().equals("CompactedException") || text.contains("compacted")) {
            compacted = true;
        }
        LOG.debug("etcd registry watch on {} {}: {}", registry.endpointsText(), registry.prefix(), error.toString());
        later(() -> recover(gen, "its stream failed: " + text));
    }

    private void onCompleted(int gen) {
        if (gen != generation || closed.get()) {
            return;
        }
        later(() -> recover(gen, "etcd cancelled it"));
    }

    /** Every half request timeout: a progress request, or a move to the next endpoint when none was answered. */
    private void check() {
        synchronized (this) {
            if (closed.get() || watcher == null) {
                return;
            }
            long silent = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lastHeard);
            if (silent > registry.requestTimeout().toMillis() + periodMillis) {
                recover(generation, "its member did not answer for " + silent + " ms");
                return;
            }
            watcher.requestProgress();
        }
    }

    private void later(Runnable task) {
        try {
            keeper.execute(task);
        } catch (RejectedExecutionException closing) {
            // closed meanwhile
        }
    }

    /** Moves to the next endpoint and goes on from {@link #next}, or from the present after a RESYNC. */
    private synchronized void recover(int gen, String why) {
        if (gen != generation || closed.get()) {
            return;
        }
        shift++;
        generation++; // what the old stream still reports is ignored
        disconnect();
        if (recoveries++ > 0 && !compacted) {
            LOG.debug("etcd registry watch on {} {}: {}; trying the next endpoint", registry.endpointsText(),
                    registry.prefix(), why);
        } else if (compacted) {
            LOG.warn("etcd registry watch on {} {}: the changes since revision {} were compacted away; telling the"
                    + " listener to read the registry again", registry.endpointsText(), registry.prefix(), next);
        } else {
            LOG.warn("etcd registry watch on {} {}: {}; going on from revision {} on the next endpoint",
                    registry.endpointsText(), registry.prefix(), why, next);
        }
        int expected = generation;
        try {
            keeper.schedule(() -> reconnect(expected), Math.min(300, periodMillis), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException closing) {
            // closed meanwhile
        }
    }

    private synchronized void reconnect(int expected) {
        if (expected != generation || closed.get()) {
            return;
        }
        if (!compacted) {
            connect(next);
            return;
        }
        // a resync: go on from the present, then tell the listener, whose read then misses nothing after it
        client = registry.watchClient(shift);
        long now;
        try {
            now = client.getKVClient().get(prefix, GetOption.builder().withCountOnly(true).build())
                    .get(registry.requestTimeout().toMillis(), TimeUnit.MILLISECONDS).getHeader().getRevision();
        } catch (Exception e) {
            recoverAgainLater(expected, e);
            return;
        }
        compacted = false;
        next = now + 1;
        connect(next);
        resync();
    }

    private void recoverAgainLater(int expected, Exception e) {
        if (e instanceof InterruptedException) {
            Thread.currentThread().interrupt();
            return;
        }
        LOG.debug("etcd registry watch: cannot read the current revision ({}); trying the next endpoint", e.toString());
        shift++;
        disconnect();
        try {
            keeper.schedule(() -> reconnect(expected), periodMillis, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException closing) {
            // closed meanwhile
        }
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            keeper.shutdownNow();
            synchronized (this) {
                disconnect();
            }
            delivery.shutdown();
            try {
                if (Thread.currentThread() != deliveryThread && !delivery.awaitTermination(5, TimeUnit.SECONDS)) {
                    delivery.shutdownNow();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            onClose.accept(this);
        }
    }
}
