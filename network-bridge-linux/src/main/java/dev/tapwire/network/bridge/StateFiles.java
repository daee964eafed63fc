package dev.tapwire.network.bridge;

import dev.tapwire.network.bridge.linux.raw.LibC;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The realizer's files, written and read without trusting the directory they are in more than it deserves: a
 * directory that group or others can write is refused (another user could plant links there); a file is read
 * without following a link and only when it is a regular file; a temporary file is created exclusively
 * ({@code O_CREAT|O_EXCL}, which follows no link), then renamed over its target (a rename replaces a link, never
 * writes through it).
 */
final class StateFiles {

    /** Files tapwire writes here are small records; anything larger is not one of them. */
    private static final int MAX_SIZE = 1 << 20;
    private static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-r--r--");
    private static final Set<OpenOption> CREATE = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
            LinkOption.NOFOLLOW_LINKS);
    private static final Set<OpenOption> READ = Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);

    private StateFiles() {
    }

    /**
     * Refuses a directory that is a symbolic link (unless {@code mayBeLink}), not a directory, not owned by this
     * user or root, or writable by group or others. A missing directory passes (it is created safely later).
     *
     * @param dir the directory
     * @param what what it is, for the message ("state directory")
     * @param mayBeLink whether a link to a directory is accepted (a path the user gave)
     * @throws RealizationException naming the directory, its owner and mode, and what is accepted
     */
    static void requireSafeDirectory(Path dir, String what, boolean mayBeLink) {
        try {
            LinkOption[] options = mayBeLink ? new LinkOption[0] : new LinkOption[] {LinkOption.NOFOLLOW_LINKS};
            PosixFileAttributes attrs;
            try {
                attrs = Files.readAttributes(dir, PosixFileAttributes.class, options);
            } catch (NoSuchFileException e) {
                return;
            }
            if (!attrs.isDirectory()) {
                throw new RealizationException(what + " " + dir + " is " + (attrs.isSymbolicLink() ? "a symbolic link"
                        : "not a directory") + "; tapwire needs a directory there and never follows a link: remove it");
            }
            int owner = (Integer) Files.getAttribute(dir, "unix:uid", options);
            Set<PosixFilePermission> perms = attrs.permissions();
            int me = LibC.geteuid();
            if (owner != me && owner != 0 || perms.contains(PosixFilePermission.GROUP_WRITE)
                    || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
                throw new RealizationException(what + " " + dir + " (owner uid " + owner + ", mode "
                        + PosixFilePermissions.toString(perms) + ") can be changed by another user, who could plant"
                        + " links there that tapwire would write through: it must be owned by uid " + me
                        + (me == 0 ? "" : " or root") + " and writable by no one else (chmod go-w " + dir + ")");
            }
        } catch (IOException e) {
            throw new RealizationException("cannot inspect " + what + " " + dir + ": " + e, e);
        }
    }

    /**
     * Reads a small regular file without following a link.
     *
     * @return its text, or empty when there is no such file
     * @throws RealizationException if it is a link or not a regular file, too large, or cannot be read
     */
    static Optional<String> readSmall(Path file) {
        try (SeekableByteChannel in = Files.newByteChannel(file, READ)) {
            if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                throw new RealizationException(file + " is not a regular file; tapwire reads no other kind: remove it");
            }
            long size = in.size();
            if (size > MAX_SIZE) {
                throw new RealizationException(file + " is " + size + " bytes, not one of tapwire's records: remove it");
            }
            ByteBuffer buffer = ByteBuffer.allocate((int) size);
            while (buffer.hasRemaining() && in.read(buffer) >= 0) {
                // fill
            }
            return Optional.of(new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new RealizationException("cannot read " + file + " (a link is never followed): " + e, e);
        }
    }

    /**
     * Reads a small regular file's lines without following a link.
     *
     * @return the lines, empty when there is no such file
     * @throws RealizationException as {@link #readSmall}
     */
    static List<String> readLines(Path file) {
        return readSmall(file).map(t -> t.lines().toList()).orElse(List.of());
    }

    /**
     * Replaces a file atomically: a hidden temporary file beside it, created exclusively, written, synced and
     * renamed over it. A leftover temporary file (or a link planted under its name) is removed first, never
     * followed.
     *
     * @return true when the file changed
     * @throws RealizationException if it cannot be written
     */
    static boolean replace(Path file, String content) {
        try {
            if (Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)
                    && readSmall(file).filter(content::equals).isPresent()) {
                return false;
            }
            // dnsmasq ignores files whose names start with a dot in the directories it watches
            Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
            Files.deleteIfExists(tmp); // removes a link itself, never its target
            writeNew(tmp, content);
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
            return true;
        } catch (IOException e) {
            throw new RealizationException("cannot write " + file + ": " + e, e);
        }
    }

    /**
     * Creates a file that does not exist yet, complete before it appears under its name.
     *
     * @throws RealizationException if it cannot be written, or exists already
     */
    static void create(Path file, String content) {
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        try {
            Files.deleteIfExists(tmp);
            writeNew(tmp, content);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new RealizationException("cannot write " + file + ": " + e, e);
        }
    }

    /** Creates {@code file} exclusively (no link followed, none replaced), mode 0644, and syncs it. */
    private static void writeNew(Path file, String content) throws IOException {
        try (FileChannel out = FileChannel.open(file, CREATE, PosixFilePermissions.asFileAttribute(FILE_MODE))) {
            ByteBuffer bytes = ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8));
            while (bytes.hasRemaining()) {
                out.write(bytes);
            }
            Files.setPosixFilePermissions(file, FILE_MODE); // not narrowed by the umask; file is ours, just made
            out.force(true);
        } catch (FileAlreadyExistsException e) {
            throw new IOException(file + " appeared while being created exclusively (another process, or a planted"
                    + " link): not written", e);
        }
    }
}
