package dev.tapwire.network.benchmarks;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * CPU time (user + system) of processes, from {@code /proc/<pid>/stat}: what a figure costs the machine's cores,
 * beside its wall time, where the cores may be the limit.
 */
final class CpuTime {

    /** Clock ticks per second of {@code /proc/<pid>/stat} (USER_HZ, 100 on every Linux architecture tapwire runs on). */
    private static final double TICKS_PER_MS = 100 / 1000.0;

    private CpuTime() {
    }

    /**
     * Returns the CPU time the processes have used so far, in milliseconds.
     *
     * @param pids the processes
     * @return their user + system time, summed
     * @throws UncheckedIOException if one of them is gone
     */
    static double millis(List<Long> pids) {
        double total = 0;
        for (long pid : pids) {
            try {
                String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
                // the fields after the command (which may hold spaces) in parentheses: state is field 3, utime 14
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                total += (Long.parseLong(f[11]) + Long.parseLong(f[12])) / TICKS_PER_MS;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the CPU time of process " + pid, e);
            }
        }
        return total;
    }

    /** Returns this JVM's process id and those of the etcd servers it started (its descendants named etcd). */
    static List<Long> selfAndEtcd() {
        return java.util.stream.Stream.concat(java.util.stream.Stream.of(ProcessHandle.current()),
                        ProcessHandle.current().descendants().filter(p -> p.info().command()
                                .map(c -> c.endsWith("/etcd")).orElse(false)))
                .map(ProcessHandle::pid).toList();
    }
}
