package dev.tapwire.network.registry;

import dev.tapwire.network.AddressExhaustedException;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkAlreadyExistsException;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkInUseException;
import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.NetworkNames;
import dev.tapwire.network.NetworkNotFoundException;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.SubnetOverlapException;
import dev.tapwire.network.lock.Lease;
import dev.tapwire.network.lock.LockFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.OpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The JSON-file {@link NetworkRegistry}: one {@code networks/index.json} under a state directory, in
 * the Go reference's format, changed atomically and durably under a lock that holds across threads and
 * processes.
 *
 * <p>Every change runs under {@code networks/index.lock} (an in-process lock plus a {@code FileChannel}
 * lock), re-reads the index only when the file changed since this instance last saw it, and writes a
 * temporary file in the same directory ({@code CREATE_NEW}, no symlinks followed), fsyncs it, renames
 * it over {@code index.json} and fsyncs the directory: a crash at any instant leaves the old or the new
 * index. A corrupt index is never overwritten: every operation fails with
 * {@link dev.tapwire.network.RegistryCorruptedException} until an operator repairs or moves the file.
 *
 * <pre>{@code
 * NetworkRegistry registry = FileNetworkRegistry.open(Path.of("/var/lib/mymanager"));
 * NetworkRecord dev = registry.create("dev");            // 10.44.1.0/24, gateway 10.44.1.1
 * Ipv4Address ip = registry.join("dev", "workspace-1");  // 10.44.1.2, the same after a restart
 * }</pre>
 */
public final class FileNetworkRegistry implements NetworkRegistry {

    /** The default pool auto-allocated subnets come from. */
    public static final Ipv4Subnet DEFAULT_POOL = Ipv4Subnet.parse("10.44.0.0/16");
    /** The default prefix length of auto-allocated subnets. */
    public static final int DEFAULT_SUBNET_PREFIX = 24;
    /** The longest workspace name accepted. */
    public static final int MAX_WORKSPACE_LENGTH = 253;

    private static final Logger LOG = LoggerFactory.getLogger(FileNetworkRegistry.class);
    private static final String TEMP_PREFIX = "index.json.tmp-";
    private static final long PID = ProcessHandle.current().pid();
    private static final ConcurrentMap<Path, Group> GROUPS = new ConcurrentHashMap<>();
    private static final Set<OpenOption> TEMP_OPTIONS = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
            LinkOption.NOFOLLOW_LINKS);
    private static final FileAttribute<?> INDEX_PERMISSIONS =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-r--r--"));

    private final Path dir;
    private final Path indexFile;
    private final LockFile lock;
    private final Ipv4Subnet pool;
    private final int subnetPrefix;
    private final Clock clock;

    /** The index as last read or written by this instance, and the identity of the file it came from. */
    private Snapshot cache;
    private boolean tempFilesSwept;
    /** How many times this instance parsed the file (for tests of the identity check). Guarded by the lock. */
    private long parses;
    private final IndexCodec.MemberCache encodedMembers = new IndexCodec.MemberCache();
    /** Changes waiting to be written, shared by every instance on the same index in this JVM. */
    private final Group group;

    private FileNetworkRegistry(Builder builder) {
        this.dir = builder.stateDir.resolve("networks");
        this.indexFile = dir.resolve("index.json");
        this.lock = LockFile.at(dir.resolve("index.lock"));
        this.group = GROUPS.computeIfAbsent(lock.path(), p -> new Group());
        this.pool = builder.pool;
        this.subnetPrefix = builder.subnetPrefix;
        this.clock = builder.clock;
    }

    /**
     * Opens the registry under {@code stateDir} with the defaults (pool {@code 10.44.0.0/16}, /24 subnets,
     * the system UTC clock). Nothing is read or created until the first operation.
     *
     * @param stateDir the state directory; the index lives in {@code stateDir/networks/index.json}
     * @return the registry
     * @throws NullPointerException if {@code stateDir} is null
     */
    public static FileNetworkRegistry open(Path stateDir) {
        return builder(stateDir).build();
    }

    /**
     * Starts a builder for a registry under {@code stateDir}.
     *
     * @param stateDir the state directory
     * @return the builder
     * @throws NullPointerException if {@code stateDir} is null
     */
    public static Builder builder(Path stateDir) {
        return new Builder(Objects.requireNonNull(stateDir, "stateDir"));
    }

    /**
     * Returns where the index of a state directory lives: {@code stateDir/networks/index.json}.
     *
     * @param stateDir the state directory
     * @return the index path
     */
    public static Path indexPath(Path stateDir) {
        return stateDir.resolve("networks").resolve("index.json");
    }

    /**
     * Returns this registry's index file.
     *
     * @return the path of {@code index.json}
     */
    public Path indexFile() {
        return indexFile;
    }

    @Override
    public NetworkRecord create(String name) {
        NetworkNames.requireValid(name);
        return mutate(index -> {
            requireAbsent(index, name);
            Ipv4Subnet subnet = allocateSubnet(index, name);
            NetworkRecord created = newRecord(name, subnet);
            LOG.debug("creating network {} on auto-allocated subnet {}", name, subnet);
            return new Change<>(created, withNetwork(index, created));
        });
    }

    @Override
    public NetworkRecord create(String name, Ipv4Subnet subnet) {
        NetworkNames.requireValid(name);
        Objects.requireNonNull(subnet, "subnet");
        if (subnet.prefixLength() > 30) {
            throw new InvalidNetworkSpecException("subnet " + subnet + " for network " + name
                    + " is too small: the prefix must be /30 or shorter (at least 2 hosts besides the gateway)");
        }
        return mutate(index -> {
            requireAbsent(index, name);
            overlapping(index.networks(), subnet).ifPresent(other -> {
                throw new SubnetOverlapException("subnet " + subnet + " for network " + name
                        + " overlaps network " + other.name() + " (" + other.subnet() + ")");
            });
            NetworkRecord created = newRecord(name, subnet);
            LOG.debug("creating network {} on subnet {}", name, subnet);
            return new Change<>(created, withNetwork(index, created));
        });
    }

    @Override
    public List<NetworkRecord> list() {
        return readIndex().networks();
    }

    @Override
    public Optional<NetworkRecord> find(String name) {
        return readIndex().find(name);
    }

    @Override
    public void remove(String name, boolean force) {
        mutate(index -> {
            NetworkRecord network = index.find(name).orElseThrow(() -> notFound(name));
            if (!network.members().isEmpty() && !force) {
                throw new NetworkInUseException(name, network.workspaces());
            }
            List<NetworkRecord> rest = new ArrayList<>(index.networks());
            rest.removeIf(n -> n == network);
            LOG.debug("removing network {} ({} members, force={})", name, network.members().size(), force);
            return new Change<>(null, new NetworkIndex(rest));
        });
    }

    @Override
    public Ipv4Address join(String network, String workspace) {
        String ws = requireWorkspace(workspace);
        return mutate(index -> {
            NetworkRecord record = index.find(network).orElseThrow(() -> notFound(network));
            Optional<Member> existing = record.member(ws);
            if (existing.isPresent()) {
                return new Change<>(existing.get().ip(), null);
            }
            Ipv4Address ip = lowestFreeHost(record);
            List<Member> members = new ArrayList<>(record.members().size() + 1);
            members.addAll(record.members());
            members.add(new Member(ws, ip));
            LOG.debug("workspace {} joins network {} as {}", ws, network, ip);
            return new Change<>(ip, replace(index, record, record.withMembers(members)));
        });
    }

    @Override
    public void leave(String network, String workspace) {
        String ws = requireWorkspace(workspace);
        mutate(index -> {
            Optional<NetworkRecord> record = index.find(network);
            if (record.isEmpty() || record.get().member(ws).isEmpty()) {
                return new Change<>(null, null);
            }
            LOG.debug("workspace {} leaves network {}", ws, network);
            return new Change<>(null, replace(index, record.get(), without(record.get(), ws)));
        });
    }

    @Override
    public void leaveAll(String workspace) {
        String ws = requireWorkspace(workspace);
        mutate(index -> {
            boolean changed = false;
            List<NetworkRecord> networks = new ArrayList<>(index.networks().size());
            for (NetworkRecord n : index.networks()) {
                if (n.member(ws).isPresent()) {
                    networks.add(without(n, ws));
                    changed = true;
                } else {
                    networks.add(n);
                }
            }
            if (changed) {
                LOG.debug("workspace {} leaves every network", ws);
            }
            return new Change<>(null, changed ? new NetworkIndex(networks) : null);
        });
    }

    @Override
    public NetworkIndex readIndex() {
        try (Lease lease = lock.acquire()) {
            return load().index;
        }
    }

    @Override
    public void writeIndex(NetworkIndex index) {
        Objects.requireNonNull(index, "index");
        validate(index);
        mutate(current -> new Change<>(null, index));
    }

    /** Validates a whole index as {@link #writeIndex} requires. */
    static void validate(NetworkIndex index) {
        Set<String> names = new HashSet<>();
        List<NetworkRecord> networks = index.networks();
        for (int i = 0; i < networks.size(); i++) {
            NetworkRecord n = networks.get(i);
            if (!names.add(n.name())) {
                throw new InvalidNetworkSpecException("index names network " + n.name() + " twice");
            }
            overlapping(networks.subList(0, i), n.subnet()).ifPresent(other -> {
                throw new SubnetOverlapException("network " + n.name() + " (" + n.subnet()
                        + ") overlaps network " + other.name() + " (" + other.subnet() + ")");
            });
            Set<String> workspaces = new HashSet<>();
            Set<Ipv4Address> addresses = new HashSet<>();
            for (Member m : n.members()) {
                String ws = requireWorkspace(m.workspace());
                if (!ws.equals(m.workspace())) {
                    throw new InvalidNetworkSpecException("network " + n.name() + ": workspace \"" + m.workspace()
                            + "\" has leading or trailing whitespace");
                }
                if (!workspaces.add(ws)) {
                    throw new InvalidNetworkSpecException("network " + n.name() + " lists workspace " + ws + " twice");
                }
                if (!n.subnet().contains(m.ip())) {
                    throw new InvalidNetworkSpecException("network " + n.name() + ": member " + ws + " has address "
                            + m.ip() + " outside the subnet " + n.subnet());
                }
                if (m.ip().equals(n.gateway()) || m.ip().equals(n.subnet().networkAddress())
                        || (n.subnet().prefixLength() < 31 && m.ip().equals(n.subnet().broadcastAddress()))) {
                    throw new InvalidNetworkSpecException("network " + n.name() + ": member " + ws + " has address "
                            + m.ip() + ", which is the network, gateway or broadcast address");
                }
                if (!addresses.add(m.ip())) {
                    throw new InvalidNetworkSpecException("network " + n.name() + ": address " + m.ip()
                            + " is held by more than one member");
                }
            }
        }
    }

    /** Returns how many times this instance has parsed the index file. */
    long parseCount() {
        try (Lease lease = lock.acquire()) {
            return parses;
        }
    }

    // ---------------------------------------------------------------- allocation

    /** Returns the first of {@code networks} whose subnet overlaps {@code subnet}. */
    private static Optional<NetworkRecord> overlapping(List<NetworkRecord> networks, Ipv4Subnet subnet) {
        return networks.stream().filter(n -> n.subnet().overlaps(subnet)).findFirst();
    }

    private Ipv4Subnet allocateSubnet(NetworkIndex index, String name) {
        long blockSize = 1L << (32 - subnetPrefix);
        long blocks = pool.size() / blockSize;
        for (long k = 1; k < blocks; k++) { // block 0 of the pool is never used
            Ipv4Subnet candidate = new Ipv4Subnet(pool.networkAddress().plus(k * blockSize), subnetPrefix);
            if (overlapping(index.networks(), candidate).isEmpty()) {
                return candidate;
            }
        }
        throw new AddressExhaustedException("no free /" + subnetPrefix + " subnet left in pool " + pool
                + " for network " + name + "; remove a network or create it with an explicit subnet");
    }

    private static Ipv4Address lowestFreeHost(NetworkRecord record) {
        Ipv4Subnet subnet = record.subnet();
        long size = subnet.size();
        long base = subnet.networkAddress().toLong();
        // Only members can occupy hosts, so the lowest free one lies within the first members+3 offsets.
        int window = (int) Math.min(size, record.members().size() + 3L);
        BitSet used = new BitSet(window);
        used.set(0); // network address
        markUsed(used, record.gateway().toLong() - base, window);
        markUsed(used, size - 1, window); // broadcast
        for (Member m : record.members()) {
            markUsed(used, m.ip().toLong() - base, window);
        }
        int offset = used.nextClearBit(1);
        if (offset >= window || offset >= size - 1) {
            throw exhausted(record);
        }
        return subnet.networkAddress().plus(offset);
    }

    private static void markUsed(BitSet used, long offset, int window) {
        if (offset >= 0 && offset < window) {
            used.set((int) offset);
        }
    }

    private static AddressExhaustedException exhausted(NetworkRecord record) {
        return new AddressExhaustedException("network " + record.name() + " (" + record.subnet()
                + ") has no free address left: all " + (record.subnet().hostCount() - 1)
                + " hosts besides the gateway are taken");
    }

    // ---------------------------------------------------------------- index edits

    private NetworkRecord newRecord(String name, Ipv4Subnet subnet) {
        return new NetworkRecord(name, subnet, subnet.firstHost(), clock.instant().truncatedTo(ChronoUnit.SECONDS),
                List.of());
    }

    private static void requireAbsent(NetworkIndex index, String name) {
        if (index.find(name).isPresent()) {
            throw new NetworkAlreadyExistsException("network \"" + name + "\" already exists");
        }
    }

    private static NetworkNotFoundException notFound(String name) {
        return new NetworkNotFoundException("network \"" + name + "\" not found");
    }

    private static NetworkIndex withNetwork(NetworkIndex index, NetworkRecord added) {
        List<NetworkRecord> networks = new ArrayList<>(index.networks().size() + 1);
        networks.addAll(index.networks());
        networks.add(added);
        return new NetworkIndex(networks);
    }

    private static NetworkIndex replace(NetworkIndex index, NetworkRecord old, NetworkRecord updated) {
        List<NetworkRecord> networks = new ArrayList<>(index.networks());
        for (int i = 0; i < networks.size(); i++) {
            if (networks.get(i) == old) {
                networks.set(i, updated);
                break;
            }
        }
        return new NetworkIndex(networks);
    }

    private static NetworkRecord without(NetworkRecord record, String workspace) {
        List<Member> members = new ArrayList<>(record.members().size());
        for (Member m : record.members()) {
            if (!m.workspace().equals(workspace)) {
                members.add(m);
            }
        }
        return record.withMembers(members);
    }

    /**
     * Trims and checks a workspace name.
     *
     * @throws InvalidNetworkSpecException if it is null, blank, longer than 253 characters or holds a control character
     */
    static String requireWorkspace(String workspace) {
        if (workspace == null || workspace.isBlank()) {
            throw new InvalidNetworkSpecException("workspace name must not be blank");
        }
        String ws = workspace.strip();
        if (ws.length() > MAX_WORKSPACE_LENGTH) {
            throw new InvalidNetworkSpecException("workspace name is " + ws.length() + " characters long; at most "
                    + MAX_WORKSPACE_LENGTH + " are accepted");
        }
        for (int i = 0; i < ws.length(); i++) {
            if (Character.isISOControl(ws.charAt(i))) {
                throw new InvalidNetworkSpecException("workspace name \"" + ws.replaceAll("\\p{Cntrl}", "?")
                        + "\" contains a control character at position " + i + "; printable characters only");
            }
        }
        return ws;
    }

    // ---------------------------------------------------------------- persistence

    private record Change<T>(T result, NetworkIndex updated) {
    }

    /** One queued change and, once a writer has run it, its outcome (published by {@code done}). */
    private static final class Pending<T> {
        final Function<NetworkIndex, Change<T>> edit;
        volatile boolean done;
        T result;
        RuntimeException failure;

        Pending(Function<NetworkIndex, Change<T>> edit) {
            this.edit = edit;
        }

        T outcome() {
            if (failure != null) {
                throw failure;
            }
            return result;
        }
    }

    /**
     * Runs {@code edit} under the lock on the current index and persists its result when it changed.
     *
     * <p>Group commit: changes are queued (one queue per index in this JVM, whichever instance made them).
     * One thread at a time is the writer: it takes the lock, applies every queued change in order, persists
     * them with one durable write, and wakes the others; each caller returns only once the write holding
     * its change is on disk. A change that fails affects only its caller.
     */
    private <T> T mutate(Function<NetworkIndex, Change<T>> edit) {
        Pending<T> mine = new Pending<>(edit);
        group.queue.add(mine);
        while (!mine.done) {
            if (group.writer.compareAndSet(false, true)) {
                try (Lease lease = lock.acquire()) {
                    runQueued();
                } catch (RuntimeException e) {
                    if (!mine.done) { // the lock failed before our change ran: take it back
                        group.queue.remove(mine);
                        throw e;
                    }
                } finally {
                    group.writer.set(false);
                    synchronized (group) {
                        group.notifyAll();
                    }
                }
            } else {
                synchronized (group) {
                    if (!mine.done && group.writer.get()) {
                        try {
                            group.wait(10); // woken when the writer finishes; the timeout is a safety net
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            if (group.queue.remove(mine)) {
                                throw new NetworkException("interrupted while waiting to change " + indexFile, e);
                            }
                        }
                    }
                }
            }
        }
        return mine.outcome();
    }

    /** The changes waiting for one index in this JVM, and whether a thread is writing them. */
    private static final class Group {
        final Queue<Pending<?>> queue = new ConcurrentLinkedQueue<>();
        final AtomicBoolean writer = new AtomicBoolean();
    }

    /** Applies every queued change and writes once. Caller holds the lock. */
    private void runQueued() {
        List<Pending<?>> batch = new ArrayList<>();
        for (Pending<?> p = group.queue.poll(); p != null; p = group.queue.poll()) {
            batch.add(p);
        }
        List<Pending<?>> writers = new ArrayList<>();
        try {
            NetworkIndex index = load().index;
            for (Pending<?> p : batch) {
                try {
                    Change<?> change = p.edit.apply(index);
                    setResult(p, change.result);
                    if (change.updated != null) {
                        index = change.updated;
                        writers.add(p);
                    }
                } catch (RuntimeException e) {
                    p.failure = e;
                }
            }
            if (!writers.isEmpty()) {
                store(index.sorted());
            }
            if (batch.size() > 1) {
                LOG.debug("group commit: {} changes in one write", batch.size());
            }
        } catch (RuntimeException e) {
            // the read failed (every change fails) or the write failed (the changes it held fail)
            for (Pending<?> p : writers.isEmpty() ? batch : writers) {
                if (p.failure == null) {
                    p.failure = e;
                }
            }
        } catch (Error e) {
            for (Pending<?> p : batch) {
                if (p.failure == null) {
                    p.failure = new NetworkException("the change to " + indexFile + " was not applied: " + e, e);
                }
            }
            throw e;
        } finally {
            batch.forEach(p -> p.done = true);
        }
    }

    @SuppressWarnings("unchecked")
    private static <T> void setResult(Pending<T> pending, Object result) {
        pending.result = (T) result;
    }

    /** The index and the identity of the file it was read from or written to (null identity: no file). */
    private record Snapshot(NetworkIndex index, FileIdentity identity) {
    }

    private record FileIdentity(Object fileKey, FileTime modified, long size) {
        static FileIdentity of(BasicFileAttributes attrs) {
            return new FileIdentity(attrs.fileKey(), attrs.lastModifiedTime(), attrs.size());
        }
    }

    /** Returns the current index, re-reading the file only when its identity changed. Caller holds the lock. */
    private Snapshot load() {
        sweepTempFiles();
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(indexFile, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            cache = new Snapshot(NetworkIndex.EMPTY, null);
            return cache;
        } catch (IOException e) {
            throw new NetworkException("cannot read registry index " + indexFile + ": " + e, e);
        }
        FileIdentity identity = FileIdentity.of(attrs);
        Snapshot cached = cache;
        if (cached != null && identity.equals(cached.identity)) {
            return cached;
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(indexFile);
        } catch (IOException e) {
            throw new NetworkException("cannot read registry index " + indexFile + ": " + e, e);
        }
        NetworkIndex index = IndexCodec.parse(bytes, indexFile);
        parses++;
        warnAboutReferenceQuirks(index);
        cache = new Snapshot(index, identity);
        LOG.debug("read registry index {} ({} bytes, {} networks)", indexFile, bytes.length, index.networks().size());
        return cache;
    }

    private void warnAboutReferenceQuirks(NetworkIndex index) {
        List<NetworkRecord> networks = index.networks();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < networks.size(); i++) {
            NetworkRecord n = networks.get(i);
            overlapping(networks.subList(0, i), n.subnet()).ifPresent(other -> LOG.warn(
                    "registry index {}: network {} ({}) overlaps network {} ({}); kept as found",
                    indexFile, n.name(), n.subnet(), other.name(), other.subnet()));
            if (!names.add(n.name())) {
                LOG.warn("registry index {}: network {} is listed twice; the first entry is used", indexFile, n.name());
            }
        }
    }

    /** Writes {@code index} atomically and durably and caches it. Caller holds the lock. */
    private void store(NetworkIndex index) {
        byte[] bytes = IndexCodec.format(index, encodedMembers);
        Path temp = dir.resolve(TEMP_PREFIX + PID + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        boolean renamed = false;
        try { // the directory exists: the lock file held by the caller lives in it
            try (FileChannel channel = FileChannel.open(temp, TEMP_OPTIONS, INDEX_PERMISSIONS)) {
                ByteBuffer buffer = ByteBuffer.wrap(bytes);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                channel.force(true);
            }
            Files.move(temp, indexFile, StandardCopyOption.ATOMIC_MOVE);
            renamed = true;
            try (FileChannel directory = FileChannel.open(dir, StandardOpenOption.READ)) {
                directory.force(true);
            }
            BasicFileAttributes attrs = Files.readAttributes(indexFile, BasicFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS);
            cache = new Snapshot(index, FileIdentity.of(attrs));
        } catch (IOException e) {
            cache = null;
            if (!renamed) {
                deleteQuietly(temp);
            }
            throw new NetworkException("cannot write registry index " + indexFile + ": " + describe(e)
                    + (renamed ? "; the new index is in place but may not be durable yet"
                            : "; the previous index is intact"), e);
        }
    }

    private static String describe(IOException e) {
        String message = e.getMessage();
        return e.getClass().getSimpleName() + (message == null ? "" : ": " + message);
    }

    /** Removes temporary files a killed writer left behind; only writers holding the lock create them. */
    private void sweepTempFiles() {
        if (tempFilesSwept) {
            return;
        }
        tempFilesSwept = true;
        if (!Files.isDirectory(dir)) {
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

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            LOG.warn("cannot remove temporary file {}: {}", p, e.toString());
        }
    }

    /** Sets up a {@link FileNetworkRegistry}: subnet pool, subnet size and clock. */
    public static final class Builder {
        private final Path stateDir;
        private Ipv4Subnet pool = DEFAULT_POOL;
        private int subnetPrefix = DEFAULT_SUBNET_PREFIX;
        private Clock clock = Clock.systemUTC();

        private Builder(Path stateDir) {
            this.stateDir = stateDir;
        }

        /**
         * Sets the pool auto-allocated subnets come from; its first block is never used.
         *
         * @param subnetPool the pool, e.g. {@code 10.44.0.0/16}
         * @return this builder
         * @throws NullPointerException if {@code subnetPool} is null
         */
        public Builder subnetPool(Ipv4Subnet subnetPool) {
            this.pool = Objects.requireNonNull(subnetPool, "subnetPool");
            return this;
        }

        /**
         * Sets the prefix length of auto-allocated subnets.
         *
         * @param prefix the prefix, e.g. 24
         * @return this builder
         */
        public Builder subnetPrefix(int prefix) {
            this.subnetPrefix = prefix;
            return this;
        }

        /**
         * Sets the clock {@code created_at} is read from.
         *
         * @param clock the clock
         * @return this builder
         * @throws NullPointerException if {@code clock} is null
         */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Builds the registry.
         *
         * @return the registry
         * @throws InvalidNetworkSpecException if the subnet prefix is not longer than the pool's or longer than /30
         */
        public FileNetworkRegistry build() {
            if (subnetPrefix <= pool.prefixLength() || subnetPrefix > 30) {
                throw new InvalidNetworkSpecException("subnet prefix /" + subnetPrefix + " does not fit pool " + pool
                        + ": it must be longer than /" + pool.prefixLength() + " and at most /30");
            }
            return new FileNetworkRegistry(this);
        }
    }
}
