package dev.tapwire.network.registry;

import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.RegistryCorruptedException;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The index file on disk: reads that follow no symbolic link, open only regular files and cap the size, and
 * writes that are atomic (temporary file, rename) and durable (fsync of the file before the rename and of the
 * directory after it).
 *
 * <p>A {@link Snapshot} keeps the file it was read from or written to <em>open</em>. While it is open the
 * kernel cannot reuse its inode number, so "the path still names the inode I hold, with the same size and
 * modification time" proves that no rename-based writer replaced it — even on a filesystem whose timestamps
 * are coarse and which hands freed inode numbers straight back out (ext4).
 */
final class IndexFile {

    /** The largest index accepted: far above 100,000 members (about 6 MiB), far below memory trouble. */
    static final long MAX_BYTES = 64L << 20;

    private static final Logger LOG = LoggerFactory.getLogger(IndexFile.class);
    private static final String TEMP_PREFIX = "index.json.tmp-";
    private static final long PID = ProcessHandle.current().pid();
    private static final Set<OpenOption> TEMP_OPTIONS = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
            LinkOption.NOFOLLOW_LINKS);
    private static final Set<OpenOption> READ_OPTIONS = Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
    private static final Set<PosixFilePermission> DEFAULT_MODE = PosixFilePermissions.fromString("rw-r--r--");

    /** Makes what was written to a file or directory durable; a seam for the tests that prove the fsyncs. */
    interface Durability {
        /** The real thing: {@code fsync(2)}. */
        Durability FSYNC = (channel, path) -> channel.force(true);

        /**
         * Makes everything written to {@code channel} durable.
         *
         * @param channel an open file or directory
         * @param path what it is, for errors and tests
         * @throws IOException if the kernel reports a failure
         */
        void force(FileChannel channel, Path path) throws IOException;
    }

    /**
     * The index as read from or written to one version of the file, and that version held open.
     *
     * @param index the parsed index
     * @param fileKey the file's (device, inode), or null when there was no file
     * @param modified its modification time
     * @param size its size
     * @param pin the file held open so that its inode number cannot be reused, or null when there was no file
     */
    record Snapshot(NetworkIndex index, Object fileKey, FileTime modified, long size, FileChannel pin)
            implements Closeable {

        static final Snapshot NONE = new Snapshot(NetworkIndex.EMPTY, null, null, 0, null);

        boolean describes(BasicFileAttributes attrs) {
            return pin != null && pin.isOpen() && attrs.fileKey() != null && attrs.fileKey().equals(fileKey)
                    && attrs.lastModifiedTime().equals(modified) && attrs.size() == size;
        }

        @Override
        public void close() {
            if (pin != null) {
                try {
                    pin.close();
                } catch (IOException e) {
                    LOG.debug("closing a superseded index file: {}", e.toString());
                }
            }
        }
    }

    private final Path dir;
    private final Path file;
    private final Durability durability;

    IndexFile(Path dir, Durability durability) {
        this.dir = dir;
        this.file = dir.resolve("index.json");
        this.durability = durability;
    }

    Path path() {
        return file;
    }

    /**
     * Returns the attributes of the index file, or null when there is none (nor, perhaps, its directory).
     *
     * @throws NetworkException if it cannot be inspected
     */
    BasicFileAttributes stat() {
        try {
            return Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new NetworkException("cannot read registry index " + file + ": " + describe(e), e);
        }
    }

    /**
     * Reads and parses the file that {@code attrs} (from {@link #stat()}) describes, keeping it open.
     *
     * <p>The caller holds the registry lock, under which no tapwire writer renames: what is opened is what
     * was inspected.
     *
     * @param attrs the file's attributes; must be non-null
     * @return the snapshot; the caller closes it when superseded
     * @throws RegistryCorruptedException if it is not a regular file, too large or not a valid index
     * @throws NetworkException if it cannot be read
     */
    Snapshot read(BasicFileAttributes attrs) {
        requireReadable(attrs);
        FileChannel channel = null;
        try {
            channel = FileChannel.open(file, READ_OPTIONS);
            byte[] bytes = readAll(channel);
            NetworkIndex index = IndexRules.checkLoaded(IndexCodec.parse(bytes, file), file);
            LOG.debug("read registry index {} ({} bytes, {} networks)", file, bytes.length, index.networks().size());
            Snapshot snapshot = new Snapshot(index, attrs.fileKey(), attrs.lastModifiedTime(), attrs.size(), channel);
            channel = null;
            return snapshot;
        } catch (IOException e) {
            throw new NetworkException("cannot read registry index " + file + ": " + describe(e), e);
        } finally {
            closeQuietly(channel);
        }
    }

    /**
     * Reads and parses the current file without the lock and without keeping it open.
     *
     * @return the index; empty when there is no file
     * @throws RegistryCorruptedException if it is not a regular file, too large or not a valid index
     * @throws NetworkException if it cannot be read
     */
    NetworkIndex readUnlocked(BasicFileAttributes attrs) {
        requireReadable(attrs);
        try (FileChannel channel = FileChannel.open(file, READ_OPTIONS)) {
            return IndexRules.checkLoaded(IndexCodec.parse(readAll(channel), file), file);
        } catch (NoSuchFileException e) {
            return NetworkIndex.EMPTY; // removed between stat and open: the index is empty now
        } catch (IOException e) {
            throw new NetworkException("cannot read registry index " + file + ": " + describe(e), e);
        }
    }

    private void requireReadable(BasicFileAttributes attrs) {
        if (!attrs.isRegularFile()) {
            throw new RegistryCorruptedException("registry index " + file + " is "
                    + (attrs.isSymbolicLink() ? "a symbolic link" : attrs.isDirectory() ? "a directory"
                            : "a special file (FIFO, socket or device)")
                    + ", not a regular file; it was left untouched — tapwire reads only a regular file there");
        }
        if (attrs.size() > MAX_BYTES) {
            throw tooLarge(attrs.size());
        }
    }

    private byte[] readAll(FileChannel channel) throws IOException {
        long size = channel.size();
        if (size > MAX_BYTES) {
            throw tooLarge(size);
        }
        ByteBuffer buffer = ByteBuffer.allocate((int) size);
        while (buffer.hasRemaining() && channel.read(buffer) >= 0) {
            // fill
        }
        if (buffer.hasRemaining()) { // shrank while read: not how a tapwire writer changes it
            throw new NetworkException("registry index " + file + " changed while it was read; was it edited in"
                    + " place? tapwire replaces it atomically");
        }
        return buffer.array();
    }

    private RegistryCorruptedException tooLarge(long size) {
        return new RegistryCorruptedException("registry index " + file + " is " + size + " bytes; at most "
                + MAX_BYTES + " are accepted (about a million members); it was left untouched");
    }

    /**
     * Writes {@code bytes} as the new index: a temporary file in the same directory, fsync, rename over the
     * index, fsync of the directory. The new file keeps the mode of the one it replaces (an operator's
     * choice), else gets 0644 whatever the umask. The caller holds the registry lock.
     *
     * @param index the index the bytes encode
     * @param bytes the encoded index
     * @return the snapshot of the new file, kept open; the caller closes it when superseded
     * @throws NetworkException if the new index could not be put in place; the previous one is then intact.
     *     A failure of the directory's fsync after the rename is not thrown: the change is visible to
     *     every reader by then, so it is logged as a warning instead
     */
    Snapshot write(NetworkIndex index, byte[] bytes) {
        BasicFileAttributes previous = stat();
        Path temp = dir.resolve(TEMP_PREFIX + PID + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        FileChannel channel = null;
        try {
            channel = FileChannel.open(temp, TEMP_OPTIONS);
            Files.setPosixFilePermissions(temp, modeOf(previous));
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
            durability.force(channel, temp);
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            closeQuietly(channel);
            deleteQuietly(temp);
            throw new NetworkException("cannot write registry index " + file + ": " + describe(e)
                    + (previous == null ? "; no index was written" : "; the previous index is intact"), e);
        }
        syncDirectory();
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            closeQuietly(channel);
            LOG.warn("registry index {} was written but cannot be inspected: {}", file, describe(e));
            return Snapshot.NONE; // forces a re-read next time
        }
        return new Snapshot(index, attrs.fileKey(), attrs.lastModifiedTime(), attrs.size(), channel);
    }

    private Set<PosixFilePermission> modeOf(BasicFileAttributes previous) throws IOException {
        if (previous == null) {
            return DEFAULT_MODE;
        }
        try {
            return Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return DEFAULT_MODE;
        }
    }

    private void syncDirectory() {
        try (FileChannel directory = FileChannel.open(dir, StandardOpenOption.READ)) {
            durability.force(directory, dir);
        } catch (IOException e) {
            LOG.warn("registry index {} is in place but fsync of {} failed, so it may not survive a power loss: {}",
                    file, dir, describe(e));
        }
    }

    /** Removes temporary files a killed writer left behind. Caller holds the lock: only lock holders make them. */
    void sweepTempFiles() {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (DirectoryStream<Path> stale = Files.newDirectoryStream(dir, TEMP_PREFIX + "*")) {
            for (Path p : stale) {
                LOG.debug("removing stale temporary index file {}", p);
                deleteQuietly(p);
            }
        } catch (IOException e) {
            LOG.warn("cannot list {} for stale temporary files: {}", dir, e.toString());
        }
    }

    static String describe(IOException e) {
        String message = e.getMessage();
        return e.getClass().getSimpleName() + (message == null ? "" : ": " + message);
    }

    private static String describe(Exception e) {
        return e instanceof IOException io ? describe(io) : e.toString();
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            LOG.warn("cannot remove temporary file {}: {}", p, e.toString());
        }
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // nothing more to release
            }
        }
    }
}
