package dev.tapwire.network.registry;

import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.RegistryChange;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.lock.LockFile;
import dev.tapwire.network.spi.RegistryRules;
import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A watch on {@code networks/index.json}: the kernel (inotify) reports each rename of a new index into place,
 * whichever process made it; the watch reads the index and reports the difference to the last one it saw.
 */
final class FileWatch implements RegistryWatch {

    private static final Logger LOG = LoggerFactory.getLogger(FileWatch.class);

    private final WatchService service;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Thread thread;

    private FileWatch(WatchService service, Path dir, Supplier<NetworkIndex> reader, Consumer<RegistryChange> listener)
            throws IOException {
        this.service = service;
        dir.register(service, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                StandardWatchEventKinds.ENTRY_DELETE);
        NetworkIndex first = reader.get(); // after registering: nothing between the two is missed
        this.thread = new Thread(() -> run(reader, listener, first), "tapwire-registry-watch " + dir);
        thread.setDaemon(true);
    }

    static FileWatch start(Path dir, Supplier<NetworkIndex> reader, Consumer<RegistryChange> listener) {
        WatchService service = null;
        try {
            LockFile.createDirectories(dir);
            service = dir.getFileSystem().newWatchService();
            FileWatch watch = new FileWatch(service, dir, reader, listener);
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
            throw new NetworkException("cannot watch " + dir + ": " + e, e);
        }
    }

    private void run(Supplier<NetworkIndex> reader, Consumer<RegistryChange> listener, NetworkIndex first) {
        NetworkIndex last = first;
        while (!closed.get()) {
            WatchKey key;
            try {
                key = service.take();
            } catch (InterruptedException | ClosedWatchServiceException e) {
                return;
            }
            boolean index = false;
            for (WatchEvent<?> event : key.pollEvents()) {
                index |= event.kind() == StandardWatchEventKinds.OVERFLOW
                        || (event.context() instanceof Path p && p.toString().equals("index.json"));
            }
            key.reset();
            if (!index) {
                continue;
            }
            NetworkIndex now;
            try {
                now = reader.get();
            } catch (RuntimeException e) {
                LOG.warn("registry watch: cannot read the index after a change: {}", e.getMessage());
                continue;
            }
            RegistryRules.deliver(RegistryChange.between(last, now), listener, () -> !closed.get());
            last = now;
        }
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                service.close();
            } catch (IOException e) {
                LOG.debug("closing a registry watch: {}", e.toString());
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
