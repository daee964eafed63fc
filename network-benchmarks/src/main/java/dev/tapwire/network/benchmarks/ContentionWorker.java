package dev.tapwire.network.benchmarks;

import dev.tapwire.network.registry.FileNetworkRegistry;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Figure 2's child process: runs join+leave pairs on several threads, warming up until a common start
 * instant, then counts the pairs completed in a fixed time and prints that count.
 */
public final class ContentionWorker {

    private ContentionWorker() {
    }

    /**
     * Runs the worker.
     *
     * @param args state dir, network, worker name, threads, start epoch millis, duration millis
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        Path state = Path.of(args[0]);
        String network = args[1];
        String name = args[2];
        int threads = Integer.parseInt(args[3]);
        long startAt = Long.parseLong(args[4]);
        long duration = Long.parseLong(args[5]);
        System.out.println(run(state, network, name, threads, startAt, duration));
    }

    static long run(Path state, String network, String name, int threads, long startAt, long duration)
            throws InterruptedException {
        AtomicLong pairs = new AtomicLong();
        Thread[] workers = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            String ws = name + "-t" + t;
            workers[t] = new Thread(() -> {
                FileNetworkRegistry registry = FileNetworkRegistry.open(state);
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
