package dev.tapwire.network.bridge;

import dev.tapwire.network.bridge.linux.raw.LibC;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.Set;

/**
 * Where the dnsmasq data of one state directory lives: {@code /run/tapwire/<id>/<network>/}, {@code <id>} being 16
 * hex digits of the SHA-256 of the state directory's absolute path (stable, and distinct for distinct state
 * directories). dnsmasq drops root to {@code nobody} and reads its watched directories as that user, so they cannot
 * live under a state directory kept private ({@code /root}, a JUnit {@code @TempDir}: mode 0700). What lives here
 * is derived from the registry and re-made by every realize, so a tmpfs that a reboot empties is the right place.
 *
 * <p>Each directory is created with mode 0755 and checked without following links: it must be a directory, not a
 * symbolic link, owned by this process's user and writable by nobody else — a path planted by another user is an
 * error, never followed. Each {@code <id>} directory holds a file {@code state-dir} naming its state directory.
 */
final class RuntimeDirectory {

    /** The parent of every state directory's runtime directory. */
    static final Path BASE = Path.of("/run/tapwire");

    private static final Set<PosixFilePermission> MODE = PosixFilePermissions.fromString("rwxr-xr-x");

    private RuntimeDirectory() {
    }

    /** The runtime directory of a state directory (nothing is created). */
    static Path of(Path stateDir) {
        String key = stateDir.toAbsolutePath().normalize().toString();
        return BASE.resolve(HexFormat.of().formatHex(NetworkRealizer.sha256(key), 0, 8));
    }

    /**
     * Makes {@code BASE} and {@code dir} (each safely, as the class says) and records the state directory in it.
     *
     * @throws RealizationException if a directory cannot be made or is not one tapwire can trust
     */
    static void ensure(Path dir, Path stateDir) {
        ensureDirectory(BASE);
        ensureDirectory(dir);
        Path record = dir.resolve("state-dir");
        String text = stateDir.toAbsolutePath().normalize() + "\n";
        try {
            if (!Files.isRegularFile(record, LinkOption.NOFOLLOW_LINKS)
                    || !Files.readString(record, StandardCharsets.UTF_8).equals(text)) {
                NetworkRealizer.replace(record, text);
            }
        } catch (IOException e) {
            throw new RealizationException("cannot read " + record + ": " + e, e);
        }
    }

    /**
     * Removes a network's data from {@code dir}, and {@code dir} itself once no network's data is left in it. A
     * {@code dir} that is not a directory of its own (a link planted there) is left alone.
     */
    static void remove(Path dir, String network) {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        NetworkRealizer.deleteTree(dir.resolve(network));
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, Files::isDirectory)) {
            if (entries.iterator().hasNext()) {
                return;
            }
        } catch (NoSuchFileException e) {
            return;
        } catch (IOException e) {
            throw new RealizationException("cannot list " + dir + ": " + e, e);
        }
        NetworkRealizer.deleteTree(dir);
    }

    private static void ensureDirectory(Path dir) {
        try {
            try {
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(MODE)); // mkdir(2) follows no link
            } catch (FileAlreadyExistsException e) {
                // checked below, as one made now is
            }
            PosixFileAttributes attrs = Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!attrs.isDirectory()) {
                throw new RealizationException(dir + " exists and is " + (attrs.isSymbolicLink() ? "a symbolic link"
                        : "not a directory") + "; tapwire keeps dnsmasq's data there and never follows a link:"
                        + " remove it");
            }
            int owner = (Integer) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            int me = LibC.geteuid();
            Set<PosixFilePermission> perms = attrs.permissions();
            if (owner != me || perms.contains(PosixFilePermission.GROUP_WRITE)
                    || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
                throw new RealizationException("directory " + dir + " (owner uid " + owner + ", mode "
                        + PosixFilePermissions.toString(perms) + ") is not tapwire's: it must be owned by uid " + me
                        + " and writable by no one else; remove it");
            }
            if (!perms.equals(MODE)) {
                Files.setPosixFilePermissions(dir, MODE); // whatever the umask: dnsmasq (nobody) must read it
            }
        } catch (IOException e) {
            throw new RealizationException("cannot create " + dir + " for dnsmasq's data: " + e
                    + (e instanceof AccessDeniedException ? " (realizing named networks needs root)" : ""),
                    e);
        }
    }
}
