package dev.tapwire.network.registry.etcd;

import dev.tapwire.network.Ipv4Address;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Child-process driver for the multi-process contention test: 4 threads join and leave one network for a
 * while and print one line per acknowledged change ({@code joined WS IP}, {@code left WS}), flushed at once.
 */
public final class EtcdWorkerMain {

    private EtcdWorkerMain() {
    }

    public static void main(String[] args) throws Exception {
        String[] endpoints = args[0].split(",");
        String prefix = args[1];
        String tag = args[2];
        long until = System.nanoTime() + Duration.ofMillis(Long.parseLong(args[3])).toNanos();
        PrintStream out = new PrintStream(System.out, true);
        java.util.concurrent.atomic.AtomicBoolean failed = new java.util.concurrent.atomic.AtomicBoolean();
        try (EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(endpoints).prefix(prefix)
                .timeout(Duration.ofSeconds(3)).build()) {
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int thread = t;
                threads.add(new Thread(() -> {
                    try {
                        work(registry, out, tag, thread, until);
                    } catch (RuntimeException e) {
                        failed.set(true);
                        e.printStackTrace();
                    }
                }));
            }
            threads.forEach(Thread::start);
            for (Thread t : threads) {
                t.join();
            }
        }
        System.exit(failed.get() ? 3 : 0);
    }

    private static void work(EtcdNetworkRegistry registry, PrintStream out, String tag, int thread, long until) {
        for (int i = 0; System.nanoTime() < until; i++) {
            String ws = tag + "-" + thread + "-" + i;
            Ipv4Address ip = registry.join("dev", ws);
            synchronized (out) {
                out.println("joined " + ws + " " + ip);
            }
            if (i % 2 == 1) {
                registry.leave("dev", ws);
                synchronized (out) {
                    out.println("left " + ws);
                }
            }
        }
    }
}
