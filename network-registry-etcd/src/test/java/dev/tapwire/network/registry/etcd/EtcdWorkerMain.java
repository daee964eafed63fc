package dev.tapwire.network.registry.etcd;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NetworkException;
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
                .timeout(Duration.ofSeconds(3)).deadline(Duration.ofSeconds(20)).build()) {
            // a generous deadline: four cold JVMs on two cores pay for class loading and connections in their first
            // operations, and the leader is killed mid-run; the test is about safety, DeadlineTest about deadlines
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
            Ipv4Address ip = joinRetryingUnknownOutcomes(registry, ws);
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

    /**
     * Joins as the contract says a caller may: a join whose outcome is unknown is called again, and returns the
     * address it took if the first attempt committed.
     */
    private static Ipv4Address joinRetryingUnknownOutcomes(EtcdNetworkRegistry registry, String ws) {
        for (int attempt = 1; ; attempt++) {
            try {
                return registry.join("dev", ws);
            } catch (NetworkException e) {
                if (attempt == 3 || !e.getMessage().contains("the outcome is unknown")) {
                    throw e;
                }
            }
        }
    }
}
