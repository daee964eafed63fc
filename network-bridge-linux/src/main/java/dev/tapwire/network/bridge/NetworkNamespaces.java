package dev.tapwire.network.bridge;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Tells whether a network namespace, named as {@code /proc/.../ns/net} names it ({@code net:[inode]}), still exists:
 * while some thread is in it, a process holds an fd of it, or it is bind-mounted (as {@code ip netns add} does under
 * {@code /run/netns}). Used
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
                if (anyLinksTo(process.resolve("task"), "ns/net", namespace) || anyLinksTo(process.resolve("fd"), "",
                        namespace)) {
                    return true;
                }
            }
        } catch (IOException e) {
            return true;
        }
        return false;
    }

    /** Whether some entry of {@code dir}, or its {@code sub} path, is a link to {@code namespace}. */
    private static boolean anyLinksTo(Path dir, String sub, String namespace) {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path entry : entries) {
                try {
                    if (namespace.equals(Files.readSymbolicLink(sub.isEmpty() ? entry : entry.resolve(sub)).toString())) {
                        return true;
                    }
                } catch (IOException e) {
                    // ended meanwhile, or not ours to look at
                }
            }
        } catch (IOException e) {
            // the process ended
        }
        return false;
    }
}
