package dev.tapwire.network.benchmarks;

import dev.tapwire.network.NetworkRegistries;
import dev.tapwire.network.NetworkRegistry;
import java.net.URI;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Figures 2 and 8's child process: runs join+leave pairs on several threads against one registry (by URI:
 * the file registry or etcd), warming up until a common start instant, then counts the pairs completed in a
 * fixed time and prints that count.
 */
public final class ContentionWorker {

    private ContentionWorker() {
    }

    /**
     * Runs the worker.
     *
     * @param args registry URI, network, worker name, threads, start epoch millis, duration millis
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        URI registry = URI.create(args[0]);
        String network = args[1];
        String name = args[2];
        int threads = Integer.parseInt(args[3]);
        long startAt = Long.parseLong(args[4]);
        long duration = Long.parseLong(args[5]);
        System.out.println(run(registry, network, name, threads, startAt, duration));
        System.exit(0); // an etcd client's threads must not keep the JVM alive
    }

    static long run(URI uri, String network, String name, int threads, long startAt, long duration)
            throws InterruptedException {
        AtomicLong pairs = new AtomicLong();
        NetworkRegistry registry = NetworkRegistries.open(uri);
        Thread[] workers = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            String ws = name + "-t" + t;
            workers[t] = new Thread(() -> {
                while (System.currentTimeMillis() < startAt) { // warm up (JIT, class loading) until the start
                    registry.join(network, ws);
                    registry.leave(network, ws);
                }
                long end = startAt + duration;
                while (System.currentTimeMillis() < end) {
                    registry.join(network, ws);
                    registry.leave(network, ws);
                    pairs.incrementAndGet();
                }
            });
            workers[t].start();
        }
        for (Thread w : workers) {
            w.join();
        }
        return pairs.get();
    }
}
