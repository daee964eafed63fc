package dev.tapwire.network.registry;

import dev.tapwire.network.HostRecord;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.Placement;
import dev.tapwire.network.PlacementChange;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.lock.LockFile;
import dev.tapwire.network.registry.PlacementsFile.Holder;
import dev.tapwire.network.registry.PlacementsFile.State;
import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A watch on {@code networks/placements.json}: inotify reports each new file renamed into place, by any process;
 * once a second, too, the holder's liveness is looked at again (a holder that died, or a closed lease whose TTL ran
 * out, changes no file). Each time, the live host and its placements are compared with what was reported last.
 */
final class PlacementsWatch implements RegistryWatch {

    private static final Logger LOG = LoggerFactory.getLogger(PlacementsWatch.class);
    private static final long RECHECK_MILLIS = 1000;

    /** What a listener is told about: the live host (or none) and its placements by "network/workspace". */
    private record View(HostRecord host, String lease, Map<String, Placement> placements) {
        static final View NONE = new View(null, null, Map.of());
    }

    private final WatchService service;
    private final PlacementsFile file;
    private final Clock clock;
    private final Consumer<PlacementChange> listener;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Thread thread;

    private PlacementsWatch(WatchService service, PlacementsFile file, Clock clock, Consumer<PlacementChange> listener)
            throws IOException {
        this.service = service;
        this.file = file;
        this.clock = clock;
        this.listener = listener;
        file.directory().register(service, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                StandardWatchEventKinds.ENTRY_DELETE);
        View first = view(); // after registering: nothing between the two is missed
        this.thread = new Thread(() -> run(first), "tapwire-placements-watch " + file.directory());
        thread.setDaemon(true);
    }

    static PlacementsWatch start(PlacementsFile file, Clock clock, Consumer<PlacementChange> listener) {
        WatchService service = null;
        try {
            LockFile.createDirectories(file.directory());
            service = file.directory().getFileSystem().newWatchService();
            PlacementsWatch watch = new PlacementsWatch(service, file, clock, listener);
            watch.thread.start();
            return watch;
        } catch (IOException | RuntimeException e) {
            if (service != null) {
                try {
                    service.close();
                } catch (IOException ignored) {
                    // nothing more to release
                }
            }
            throw new NetworkException("cannot watch " + file.path() + ": " + e, e);
        }
    }

    private View view() {
        State state = file.read();
        Holder holder = state.holder();
        if (holder == null || !holder.live(clock.instant())) {
            return View.NONE;
        }
        Map<String, Placement> placements = new LinkedHashMap<>();
        for (Placement p : state.placements()) {
            if (p.host().equals(holder.host().name())) {
                placements.put(p.network() + "/" + p.workspace(), p);
            }
        }
        return new View(holder.host(), holder.id(), placements);
    }

    private void run(View first) {
        deliver(List.of(PlacementChange.resync()));
        View last = first;
        while (!closed.get()) {
            try {
                WatchKey key = service.poll(RECHECK_MILLIS, TimeUnit.MILLISECONDS);
                if (key != null) {
                    key.pollEvents();
                    key.reset();
                }
            } catch (InterruptedException | ClosedWatchServiceException e) {
                return;
            }
            View now;
            try {
                now = view();
            } catch (RuntimeException e) {
                LOG.warn("placements watch: cannot read {} after a change: {}", file.path(), e.getMessage());
                continue;
            }
            deliver(between(last, now));
            last = now;
        }
    }

    /** The changes from {@code before} to {@code after}: a host that went first, then placements, then one that came. */
    private static List<PlacementChange> between(View before, View after) {
        List<PlacementChange> changes = new ArrayList<>();
        boolean hostChanged = !Objects.equals(before.lease(), after.lease());
        for (Map.Entry<String, Placement> e : before.placements().entrySet()) {
            if (!after.placements().containsKey(e.getKey())) {
                Placement p = e.getValue();
                changes.add(new PlacementChange(PlacementChange.Type.UNPLACED, p.network(), p.workspace(), p.host()));
            }
        }
        if (hostChanged && before.host() != null && (after.host() == null
                || !after.host().name().equals(before.host().name()))) {
            changes.add(new PlacementChange(PlacementChange.Type.HOST_DOWN, null, null, before.host().name()));
        }
        if (hostChanged && after.host() != null) {
            changes.add(new PlacementChange(PlacementChange.Type.HOST_UP, null, null, after.host().name()));
        }
        for (Map.Entry<String, Placement> e : after.placements().entrySet()) {
            if (!e.getValue().equals(before.placements().get(e.getKey()))) {
                Placement p = e.getValue();
                changes.add(new PlacementChange(PlacementChange.Type.PLACED, p.network(), p.workspace(), p.host()));
            }
        }
        return changes;
    }

    private void deliver(List<PlacementChange> changes) {
        for (PlacementChange change : changes) {
            if (closed.get()) {
                return;
            }
            try {
                listener.accept(change);
            } catch (RuntimeException e) {
                LOG.warn("placements watch: a listener failed on {}: {}", change, e.toString(), e);
            }
        }
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                service.close();
            } catch (IOException e) {
                LOG.debug("closing a placements watch: {}", e.toString());
            }
            if (Thread.currentThread() != thread) {
                try {
                    thread.join(5000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }
}
