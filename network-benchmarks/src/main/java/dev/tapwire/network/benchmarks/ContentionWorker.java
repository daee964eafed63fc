package dev.tapwire.network.benchmarks;

import dev.tapwire.network.NetworkRegistries;
import dev.tapwire.network.NetworkRegistry;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Figures 2 and 8's child process: runs join+leave pairs on several threads against one registry (by URI:
 * the file registry or etcd). Every thread warms up; once each has completed a pair the worker prints
 * {@code ready} and reads the common start instant (epoch millis) from standard input, so a slow JVM start
 * never eats into the measured window; then it counts the pairs completed in a fixed time and prints that
 * count.
 */
public final class ContentionWorker {

    private ContentionWorker() {
    }

    /**
     * Runs the worker.
     *
     * @param args registry URI, network, worker name, threads, duration millis
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        URI registry = URI.create(args[0]);
        String network = args[1];
        String name = args[2];
        int threads = Integer.parseInt(args[3]);
        long duration = Long.parseLong(args[4]);
        System.out.println(run(registry, network, name, threads, duration));
        System.exit(0); // an etcd client's threads must not keep the JVM alive
    }

    static long run(URI uri, String network, String name, int threads, long duration) throws Exception {
        AtomicLong pairs = new AtomicLong();
        NetworkRegistry registry = NetworkRegistries.open(uri);
        CountDownLatch warm = new CountDownLatch(threads);
        long[] startAt = {Long.MAX_VALUE};
        Object startLock = new Object();
        Thread[] workers = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            String ws = name + "-t" + t;
            workers[t] = new Thread(() -> {
                registry.join(network, ws);
                registry.leave(network, ws);
                warm.countDown();
                while (System.currentTimeMillis() < startAt(startLock, startAt)) { // warm up (JIT) until the start
                    registry.join(network, ws);
                    registry.leave(network, ws);
                }
                long end = startAt(startLock, startAt) + duration;
                while (System.currentTimeMillis() < end) {
                    registry.join(network, ws);
                    registry.leave(network, ws);
                    pairs.incrementAndGet();
                }
            });
            workers[t].start();
        }
        warm.await();
        System.out.println("ready");
        System.out.flush();
        String line = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        if (line == null) {
            throw new IllegalStateException("the benchmark closed standard input before sending the start instant");
        }
        synchronized (startLock) {
            startAt[0] = Long.parseLong(line.trim());
        }
        for (Thread w : workers) {
            w.join();
        }
        return pairs.get();
    }

    private static long startAt(Object lock, long[] startAt) {
        synchronized (lock) {
            return startAt[0];
        }
    }
}
