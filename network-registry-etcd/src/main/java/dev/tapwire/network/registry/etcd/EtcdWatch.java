package dev.tapwire.network.registry.etcd;

import dev.tapwire.network.RegistryChange;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.spi.RegistryRules;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
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
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A watch of an {@link EtcdNetworkRegistry}, on a jetcd client of its own, that resumes itself: it remembers the
 * revision after the last event it delivered, and whenever its stream fails, is cancelled (no leader, with
 * {@code withRequireLeader}) or stops answering the progress requests it sends every half request timeout, it
 * moves to the next endpoint and goes on from that revision. When that revision was compacted meanwhile it cannot
 * go on without a gap: it tells the listener {@link RegistryChange.Type#RESYNC} and goes on from the present.
 */
final class EtcdWatch implements RegistryWatch {

    private static final Logger LOG = LoggerFactory.getLogger(EtcdWatch.class);

    private final EtcdNetworkRegistry registry;
    private final Consumer<RegistryChange> listener;
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
        this.registry = registry;
        this.listener = listener;
        this.onClose = onClose;
        this.next = from;
        this.prefix = ByteSequence.from(registry.prefix(), StandardCharsets.UTF_8);
        this.periodMillis = Math.max(100, registry.requestTimeout().toMillis() / 2);
        this.delivery = Executors.newSingleThreadExecutor(task -> {
            deliveryThread = daemon(task, "tapwire-etcd-watch " + registry.prefix());
            return deliveryThread;
        });
        this.keeper = Executors.newSingleThreadScheduledExecutor(task -> daemon(task,
                "tapwire-etcd-watch-keeper " + registry.prefix()));
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
        List<RegistryChange> changes = new ArrayList<>();
        long last = 0;
        int cut = registry.prefix().length();
        for (WatchEvent event : response.getEvents()) {
            String rest = EtcdNetworkRegistry.text(event.getKeyValue().getKey()).substring(cut);
            try {
                changes.addAll(registry.changesOf(rest, event.getEventType() == WatchEvent.EventType.PUT,
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
            deliver(changes);
        }
    }

    private void deliver(List<RegistryChange> changes) {
        try {
            delivery.execute(() -> RegistryRules.deliver(changes, listener, () -> !closed.get()));
        } catch (RejectedExecutionException closing) {
            // closed meanwhile: nothing more is delivered
        }
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
        deliver(List.of(RegistryChange.resync()));
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
