package dev.tapwire.network.lock;

import dev.tapwire.network.NetworkException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A mutual-exclusion lock on a stable lock file that holds across threads and processes.
 *
 * <p>Threads of one JVM are ordered by an in-process {@link ReentrantLock} shared by every
 * {@code LockFile} of the same path (so two registries on one directory never meet an
 * {@link java.nio.channels.OverlappingFileLockException}); processes are ordered by a
 * {@link FileChannel#lock() FileChannel lock} (POSIX {@code fcntl} record lock) taken by the outermost
 * holder; the lock file stays open between leases (one {@code stat} per lease, once the lock is granted,
 * checks that the path still names it — a file removed or replaced meanwhile, even while this thread waited,
 * is opened and locked again). The lock file is created when missing (mode 0644, directories 0755, whatever
 * the umask) and never deleted, so every process locks the same inode. It is opened without following symbolic links and only
 * when it is a regular file, so a directory that another user can write to cannot redirect or hang it.
 * Re-entrant: a thread that holds the lease may acquire it again. A lease belongs to the thread that
 * took it and must be closed by that thread.
 *
 * <pre>{@code
 * try (Lease lease = LockFile.at(dir.resolve("index.lock")).acquire()) {
 *     // read, change, write
 * }
 * }</pre>
 */
public final class LockFile {

    private static final ConcurrentMap<Path, Holder> HOLDERS = new ConcurrentHashMap<>();
    private static final Set<OpenOption> CREATE_OPTIONS = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
            LinkOption.NOFOLLOW_LINKS);
    private static final Set<PosixFilePermission> FILE_PERMISSIONS = PosixFilePermissions.fromString("rw-r--r--");
    private static final Set<PosixFilePermission> DIRECTORY_PERMISSIONS =
            PosixFilePermissions.fromString("rwxr-xr-x");
    private static final FileAttribute<?> FILE_MODE = PosixFilePermissions.asFileAttribute(FILE_PERMISSIONS);

    private final Path path;
    private final Holder holder;

    private LockFile(Path path) {
        this.path = path;
        this.holder = HOLDERS.computeIfAbsent(path, p -> new Holder());
    }

    /**
     * Returns the lock for {@code path}; instances for the same file share their in-process lock.
     *
     * @param path the lock file; its parent directory is created when first locked
     * @return the lock
     * @throws NetworkException if the path cannot be resolved
     */
    public static LockFile at(Path path) {
        return new LockFile(canonical(path));
    }

    /**
     * Returns the lock file's path.
     *
     * @return the absolute path
     */
    public Path path() {
        return path;
    }

    /**
     * Waits until the lock is free and takes it.
     *
     * @return the lease; close it to release
     * @throws NetworkException if the lock file cannot be opened or locked, or the thread is interrupted
     */
    public Lease acquire() {
        try {
            holder.threads.lockInterruptibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NetworkException("interrupted while waiting for lock " + path, e);
        }
        return afterThreadLock(true).orElseThrow();
    }

    /**
     * Takes the lock if no other thread or process holds it.
     *
     * @return the lease, or empty when the lock is busy
     * @throws NetworkException if the lock file cannot be opened or locked
     */
    public Optional<Lease> tryAcquire() {
        if (!holder.threads.tryLock()) {
            return Optional.empty();
        }
        return afterThreadLock(false);
    }

    /**
     * Tells whether the current thread holds this lock.
     *
     * @return true while a lease of this thread is open
     */
    public boolean isHeldByCurrentThread() {
        return holder.threads.isHeldByCurrentThread();
    }

    private Optional<Lease> afterThreadLock(boolean wait) {
        if (holder.fileLock != null) {
            // only the thread holding the in-process lock can hold the file lock: that is us, re-entering
            return Optional.of(new ThreadLease(false));
        }
        try {
            while (true) {
                FileChannel channel = channel();
                FileLock fileLock = wait ? channel.lock() : channel.tryLock();
                if (fileLock == null) {
                    holder.threads.unlock();
                    return Optional.empty();
                }
                if (stillNamedByPath()) {
                    holder.fileLock = fileLock;
                    return Optional.of(new ThreadLease(true));
                }
                // removed or replaced while we waited: whoever locks what the path names now would hold it too
                fileLock.release();
                holder.dropChannel();
            }
        } catch (IOException | RuntimeException e) {
            holder.dropChannel();
            holder.threads.unlock();
            throw new NetworkException("cannot lock " + path + ": " + e, e);
        }
    }

    /**
     * Returns the open lock file, kept open between leases (the thread holding the in-process lock calls this).
     * Whether the path still names it is checked once its lock is granted ({@link #stillNamedByPath}); a file
     * removed or replaced is dropped then and opened again, so every process locks the file the path names.
     */
    private FileChannel channel() throws IOException {
        if (holder.channel != null && holder.channel.isOpen()) {
            return holder.channel;
        }
        holder.dropChannel();
        FileChannel channel = openCreatingParents();
        BasicFileAttributes opened = statOrNull(path);
        holder.channel = channel;
        holder.channelKey = opened == null ? null : opened.fileKey();
        return channel;
    }

    /** Tells whether the path still names the open lock file (checked once its lock is granted). */
    private boolean stillNamedByPath() throws IOException {
        BasicFileAttributes attrs = statOrNull(path);
        return attrs != null && attrs.isRegularFile() && attrs.fileKey() != null
                && attrs.fileKey().equals(holder.channelKey);
    }

    private static BasicFileAttributes statOrNull(Path file) throws IOException {
        try {
            return Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /**
     * Opens the lock file without following a symbolic link, creating it (mode 0644) — and its directories
     * (mode 0755, each made durable in its parent) only when the open says they are missing.
     */
    private FileChannel openCreatingParents() throws IOException {
        requireRegularOrAbsent(path);
        try {
            return FileChannel.open(path, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            // first use: create it below
        }
        try {
            try {
                return createLockFile();
            } catch (NoSuchFileException e) {
                createDirectories(path.getParent());
                return createLockFile();
            }
        } catch (FileAlreadyExistsException e) { // another process made it meanwhile, also after the directories
            return FileChannel.open(path, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
        }
    }

    private FileChannel createLockFile() throws IOException {
        FileChannel channel = FileChannel.open(path, CREATE_OPTIONS, FILE_MODE);
        try {
            Files.setPosixFilePermissions(path, FILE_PERMISSIONS); // not narrowed by the umask
        } catch (IOException | RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
        return channel;
    }

    /**
     * Refuses a path that exists as anything but a regular file: a symbolic link (it could point anywhere),
     * a FIFO (opening it would hang while holding the in-process lock) or a device.
     *
     * @param file the file to check
     * @throws IOException if it exists and is not a regular file, or cannot be inspected
     */
    static void requireRegularOrAbsent(Path file) throws IOException {
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return;
        }
        if (!attrs.isRegularFile()) {
            throw new IOException(file + " is " + kind(attrs) + ", not a regular file; tapwire opens only regular"
                    + " files there (remove it, or check who else can write to that directory)");
        }
    }

    private static String kind(BasicFileAttributes attrs) {
        if (attrs.isSymbolicLink()) {
            return "a symbolic link";
        }
        return attrs.isDirectory() ? "a directory" : "a special file (FIFO, socket or device)";
    }

    /**
     * Creates {@code dir} and any missing parents with mode 0755 whatever the umask, and fsyncs the parent of
     * each directory it creates, so a crash cannot lose a directory that a durable file was then written into.
     *
     * @param dir the directory
     * @throws IOException if a directory cannot be created or made durable
     */
    public static void createDirectories(Path dir) throws IOException {
        Path absolute = dir.toAbsolutePath();
        if (Files.isDirectory(absolute)) {
            return;
        }
        Path parent = absolute.getParent();
        if (parent != null) {
            createDirectories(parent);
        }
        try {
            Files.createDirectory(absolute);
        } catch (FileAlreadyExistsException e) {
            if (Files.isDirectory(absolute)) {
                return; // made by someone else meanwhile
            }
            throw e;
        }
        Files.setPosixFilePermissions(absolute, DIRECTORY_PERMISSIONS);
        if (parent != null) {
            try (FileChannel directory = FileChannel.open(parent, StandardOpenOption.READ)) {
                directory.force(true);
            }
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

    /**
     * Resolves symbolic links through the deepest ancestor that exists, so the same file gets the same key
     * whether or not its directories exist yet (two keys for one file would mean two in-process locks and an
     * {@link java.nio.channels.OverlappingFileLockException}).
     */
    private static Path canonical(Path path) {
        Path absolute = path.toAbsolutePath().normalize();
        Path existing = absolute;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return absolute;
        }
        try {
            return existing.toRealPath().resolve(existing.relativize(absolute)).normalize();
        } catch (IOException e) {
            throw new NetworkException("cannot resolve lock path " + path + ": " + e, e);
        }
    }

    private static final class Holder {
        final ReentrantLock threads = new ReentrantLock();
        /** The file lock while a thread holds it; written only by the thread holding {@link #threads}. */
        FileLock fileLock;
        /** The lock file, kept open between leases, and its (device, inode); guarded by {@link #threads}. */
        FileChannel channel;
        Object channelKey;

        void dropChannel() {
            closeQuietly(channel);
            channel = null;
            channelKey = null;
        }
    }

    private final class ThreadLease implements Lease {
        private final AtomicBoolean closed = new AtomicBoolean();
        private final boolean ownsFileLock;

        ThreadLease(boolean ownsFileLock) {
            this.ownsFileLock = ownsFileLock;
        }

        @Override
        public void close() {
            if (!closed.compareAndSet(false, true)) {
                return;
            }
            try {
                if (ownsFileLock) {
                    FileLock fileLock = holder.fileLock;
                    holder.fileLock = null;
                    try {
                        fileLock.release();
                    } catch (IOException | RuntimeException e) {
                        holder.dropChannel(); // closing the channel releases the lock in any case
                    }
                }
            } finally {
                holder.threads.unlock();
            }
        }
    }
}
