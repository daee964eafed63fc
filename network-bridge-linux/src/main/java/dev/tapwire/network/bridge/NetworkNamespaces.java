package dev.tapwire.network.bridge;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Tells whether a network namespace, named as {@code /proc/.../ns/net} names it ({@code net:[inode]}), still exists:
 * while some thread is in it, or it is bind-mounted (as {@code ip netns add} does under {@code /run/netns}). Used
 * only to decide whether a realization recorded in another namespace is stale, so the scan of {@code /proc} runs
 * only then.
 */
final class NetworkNamespaces {

    private static final List<Path> MOUNTS = List.of(Path.of("/run/netns"), Path.of("/var/run/netns"));

    private NetworkNamespaces() {
    }

    /** Whether the namespace is alive; an unreadable {@code /proc} counts as alive (never take over blindly). */
    static boolean isAlive(String namespace) {
        String inode = namespace.substring(namespace.indexOf('[') + 1, namespace.length() - 1);
        for (Path mounts : MOUNTS) {
            try (DirectoryStream<Path> names = Files.newDirectoryStream(mounts)) {
                for (Path name : names) {
                    try {
                        if (inode.equals(String.valueOf(Files.getAttribute(name, "unix:ino")))) {
                            return true;
                        }
                    } catch (IOException e) {
                        // unmounted meanwhile
                    }
                }
            } catch (IOException e) {
                // no such directory
            }
        }
        try (DirectoryStream<Path> processes = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path process : processes) {
                try (DirectoryStream<Path> tasks = Files.newDirectoryStream(process.resolve("task"))) {
                    for (Path task : tasks) {
                        try {
                            if (namespace.equals(Files.readSymbolicLink(task.resolve("ns/net")).toString())) {
                                return true;
                            }
                        } catch (IOException e) {
                            // the thread ended, or is not ours to look at
                        }
                    }
                } catch (IOException e) {
                    // the process ended
                }
            }
        } catch (IOException e) {
            return true;
        }
        return false;
    }
}
