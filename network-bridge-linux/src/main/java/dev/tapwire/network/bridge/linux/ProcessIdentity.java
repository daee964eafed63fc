package dev.tapwire.network.bridge.linux;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.DeviceOperationException.Reason;
import dev.tapwire.network.InvalidNetworkSpecException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * What {@code /proc} says a running process is: enough to tell one process from another that later reuses its pid
 * (the start time), where it runs (its network namespace), what it runs (its executable and command line), as whom
 * (its real and effective uid) and whether it was started with privileges a user cannot give itself (its permitted
 * capabilities). Reading another user's {@code exe} and {@code ns/net} links needs root or that user.
 *
 * @param pid the process id
 * @param startTime when it started, in clock ticks since boot ({@code /proc/PID/stat} field 22)
 * @param realUid its real uid
 * @param effectiveUid its effective uid
 * @param netns the inode of its network namespace ({@code /proc/PID/ns/net})
 * @param executable what {@code /proc/PID/exe} names, without the {@code " (deleted)"} the kernel appends to a
 *     binary replaced on disk
 * @param commandLine its arguments, the program first
 * @param permittedCapabilities its permitted capability set ({@code CapPrm} of {@code /proc/PID/status})
 */
public record ProcessIdentity(int pid, long startTime, int realUid, int effectiveUid, long netns, Path executable,
        List<String> commandLine, long permittedCapabilities) {

    /** {@code CAP_NET_ADMIN}: what dnsmasq keeps for DHCP, and what no process started by an unprivileged user has. */
    public static final int CAP_NET_ADMIN = 12;

    /**
     * Validates the identity and copies the command line.
     *
     * @throws InvalidNetworkSpecException if the executable or the command line is null, or the pid is not positive
     */
    public ProcessIdentity {
        if (executable == null || commandLine == null || commandLine.stream().anyMatch(Objects::isNull) || pid <= 0) {
            throw new InvalidNetworkSpecException("a process identity needs a positive pid, an executable and a"
                    + " command line without null arguments (got pid " + pid + ", " + executable + ", " + commandLine
                    + ")");
        }
        commandLine = List.copyOf(commandLine);
        executable = executable.normalize();
    }

    /**
     * Reads what {@code /proc} says of a process.
     *
     * @param pid the process id
     * @return its identity, or empty when no such process runs (gone, a zombie, or exiting)
     */
    public static Optional<ProcessIdentity> of(int pid) {
        if (pid <= 0) {
            return Optional.empty();
        }
        Path proc = Path.of("/proc", Integer.toString(pid));
        try {
            String[] stat = statFields(proc);
            char state = stat[0].charAt(0);
            if (state == 'Z' || state == 'X' || state == 'x') {
                return Optional.empty();
            }
            long start = Long.parseLong(stat[19]);
            int[] uids = new int[2];
            long caps = 0;
            for (String line : Files.readAllLines(proc.resolve("status"), StandardCharsets.UTF_8)) {
                if (line.startsWith("Uid:")) {
                    String[] f = line.substring(4).trim().split("\\s+");
                    uids[0] = Integer.parseInt(f[0]);
                    uids[1] = Integer.parseInt(f[1]);
                } else if (line.startsWith("CapPrm:")) {
                    caps = Long.parseUnsignedLong(line.substring(7).trim(), 16);
                }
            }
            String exe = Files.readSymbolicLink(proc.resolve("exe")).toString();
            if (exe.endsWith(" (deleted)")) {
                exe = exe.substring(0, exe.length() - " (deleted)".length());
            }
            long netns = namespaceInode(Files.readSymbolicLink(proc.resolve("ns/net")).toString());
            List<String> args = new ArrayList<>(List.of(new String(Files.readAllBytes(proc.resolve("cmdline")),
                    StandardCharsets.UTF_8).split("\0")));
            if (args.size() == 1 && args.get(0).isEmpty()) {
                return Optional.empty(); // a process on its way out has given up its memory, command line included
            }
            ProcessIdentity identity = new ProcessIdentity(pid, start, uids[0], uids[1], netns, Path.of(exe), args,
                    caps);
            // the pid may have been reused between the reads: the start time, read again, says
            return startTime(pid).equals(OptionalLong.of(start)) ? Optional.of(identity) : Optional.empty();
        } catch (IOException | RuntimeException e) {
            return Optional.empty(); // gone meanwhile, or /proc not what Linux gives
        }
    }

    /**
     * Reads a process's start time, also of a zombie that no one has reaped yet.
     *
     * @param pid the process id
     * @return its start time in clock ticks since boot, or empty when no such process exists
     */
    public static OptionalLong startTime(int pid) {
        try {
            return OptionalLong.of(Long.parseLong(statFields(Path.of("/proc", Integer.toString(pid)))[19]));
        } catch (IOException | RuntimeException e) {
            return OptionalLong.empty();
        }
    }

    /**
     * Reads the network namespace of the calling thread ({@code /proc/thread-self/ns/net}: namespaces are per
     * thread, so {@code /proc/self} could name another thread's).
     *
     * @return its inode
     * @throws DeviceOperationException if {@code /proc} does not say (not Linux, or no {@code /proc} mounted)
     */
    public static long currentThreadNetns() {
        try {
            return namespaceInode(Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")).toString());
        } catch (IOException | RuntimeException e) {
            throw DeviceOperationException.of("readlink", "/proc/thread-self/ns/net", Reason.OTHER,
                    "cannot tell the calling thread's network namespace: " + e, e);
        }
    }

    /**
     * Tells whether the process holds a capability in its permitted set.
     *
     * @param capability the capability's number, e.g. {@link #CAP_NET_ADMIN}
     * @return true when it holds it
     */
    public boolean mayUse(int capability) {
        return (permittedCapabilities & (1L << capability)) != 0;
    }

    /** The fields of {@code /proc/PID/stat} after the command name, the state (field 3) first. */
    private static String[] statFields(Path proc) throws IOException {
        String stat = Files.readString(proc.resolve("stat"), StandardCharsets.US_ASCII);
        return stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
    }

    private static long namespaceInode(String link) {
        if (!link.startsWith("net:[") || !link.endsWith("]")) {
            throw new IllegalArgumentException("not a network namespace link: " + link);
        }
        return Long.parseLong(link.substring(5, link.length() - 1));
    }
}
