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
import dev.tapwire.network.PlacementRegistry;
import dev.tapwire.network.RegistryChange;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.SubnetOverlapException;
import dev.tapwire.network.lock.Lease;
import dev.tapwire.network.spi.RegistryRules;
import dev.tapwire.network.lock.LockFile;
import dev.tapwire.network.registry.IndexFile.Snapshot;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The JSON-file {@link NetworkRegistry}: one {@code networks/index.json} under a state directory, in
 * the Go reference's format, changed atomically and durably under a lock that holds across threads and
 * processes.
 *
 * <p>Every change runs under {@code networks/index.lock} (an in-process lock plus a {@code FileChannel}
 * lock) and writes a temporary file in the same directory ({@code CREATE_NEW}, no symlinks followed), fsyncs
 * it, renames it over {@code index.json} and fsyncs the directory: a crash at any instant leaves the old or
 * the new index. Reads take no lock (every write is an atomic rename), so a user who may only read the state
 * directory can list networks, and a read of a missing directory creates nothing. The file is re-parsed only
 * when it was replaced since it was last read or written here; the check holds the last version open, so it
 * stays sound where timestamps are coarse and inode numbers are reused.
 *
 * <p>Only a regular file is read (never through a symbolic link, at most {@value IndexFile#MAX_BYTES}
 * bytes); new files get mode 0644 and directories 0755 whatever the umask, and a rewrite keeps the mode an
 * operator gave {@code index.json}. A corrupt index is never overwritten: every operation fails with
 * {@link dev.tapwire.network.RegistryCorruptedException} until an operator repairs or moves the file; its
 * message gives the position and the problem but never quotes the file's content.
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
    public static final int MAX_WORKSPACE_LENGTH = RegistryRules.MAX_WORKSPACE_LENGTH;

    private static final Logger LOG = LoggerFactory.getLogger(FileNetworkRegistry.class);
    /** Per index file in this JVM, whichever instances use it. */
    private static final ConcurrentMap<Path, Shared> SHARED = new ConcurrentHashMap<>();

    private final Shared shared;
    private final Ipv4Subnet pool;
    private final int subnetPrefix;
    private final Clock clock;
    /** Whether this instance's first change went out: it sweeps what a killed writer left behind. */
    private final AtomicBoolean swept = new AtomicBoolean();
    private final FilePlacements placements;

    private FileNetworkRegistry(Builder builder) {
        Path dir = builder.stateDir.resolve("networks");
        Path key = LockFile.at(dir.resolve("index.lock")).path();
        this.shared = SHARED.computeIfAbsent(key, k -> new Shared(dir, builder.durability));
        this.pool = builder.pool;
        this.subnetPrefix = builder.subnetPrefix;
        this.clock = builder.clock;
        this.placements = new FilePlacements(dir, this, Clock.systemUTC());
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
     * Formats an index exactly as {@code index.json} holds it (the Go reference's bytes): networks sorted by
     * name, two-space indent, one trailing newline. Use it to export a registry, whatever its store.
     *
     * @param index the index
     * @return the UTF-8 bytes
     * @throws NullPointerException if {@code index} is null
     */
    public static byte[] formatIndex(NetworkIndex index) {
        return IndexCodec.format(index.sorted());
    }

    /**
     * Parses an index in the format of {@code index.json} (as {@link #formatIndex} or the Go reference write it),
     * with the checks an index read from disk gets; the result is sorted by name.
     *
     * @param bytes the content
     * @param source what it was read from, for errors (e.g. a file name)
     * @return the index
     * @throws dev.tapwire.network.RegistryCorruptedException if it is not a valid index (the message gives the
     *     position or field, never the content)
     */
    public static NetworkIndex parseIndex(byte[] bytes, Path source) {
        return IndexRules.checkLoaded(IndexCodec.parse(bytes, source), source);
    }

    /**
     * Returns this registry's index file.
     *
     * @return the path of {@code index.json}
     */
    public Path indexFile() {
        return shared.file.path();
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
        RegistryRules.requireNetworkSubnet(name, subnet);
        return mutate(index -> {
            requireAbsent(index, name);
            RegistryRules.overlapping(index.networks(), subnet).ifPresent(other -> {
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
        String ws = RegistryRules.requireWorkspace(workspace);
        return mutate(index -> {
            NetworkRecord record = index.find(network).orElseThrow(() -> notFound(network));
            Optional<Member> existing = record.member(ws);
            if (existing.isPresent()) {
                return new Change<>(existing.get().ip(), null);
            }
            Ipv4Address ip = lowestFreeHost(record);
            LOG.debug("workspace {} joins network {} as {}", ws, network, ip);
            return new Change<>(ip, withMember(index, record, ws, ip));
        });
    }

    @Override
    public Ipv4Address join(String network, String workspace, Ipv4Address requested) {
        String ws = RegistryRules.requireWorkspace(workspace);
        Objects.requireNonNull(requested, "requested");
        return mutate(index -> {
            NetworkRecord record = index.find(network).orElseThrow(() -> notFound(network));
            if (RegistryRules.requireRequestable(record, ws, requested)) {
                return new Change<>(requested, null);
            }
            LOG.debug("workspace {} joins network {} with the requested address {}", ws, network, requested);
            return new Change<>(requested, withMember(index, record, ws, requested));
        });
    }

    @Override
    public void leave(String network, String workspace) {
        String ws = RegistryRules.requireWorkspace(workspace);
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
        String ws = RegistryRules.requireWorkspace(workspace);
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
        return shared.readUnlocked();
    }

    @Override
    public void writeIndex(NetworkIndex index) {
        Objects.requireNonNull(index, "index");
        RegistryRules.validate(index);
        mutate(current -> new Change<>(null, index));
    }

    /**
     * Watches {@code networks/index.json} (inotify): every new index renamed into place, by any process, is read
     * and its difference to the last one reported. Creates the {@code networks/} directory if it is missing.
     *
     * @throws NetworkException if the directory cannot be made or watched
     */
    @Override
    public RegistryWatch watch(Consumer<RegistryChange> listener) {
        Objects.requireNonNull(listener, "listener");
        return FileWatch.start(shared.file.path().getParent(), shared::readUnlocked, listener);
    }

    /**
     * Returns the single-host placements of this state directory, kept in {@code networks/placements.json} beside the
     * index (which they never change): one host at a time, whose lease is its holder process (see
     * {@link PlacementRegistry}; a second host name while one holds is a {@link dev.tapwire.network.HostConflictException}).
     */
    @Override
    public PlacementRegistry placements() {
        return placements;
    }

    /** Returns how many times the index file was parsed under the lock in this JVM. */
    long parseCount() {
        return shared.parses.get();
    }

    // ---------------------------------------------------------------- allocation

    private Ipv4Subnet allocateSubnet(NetworkIndex index, String name) {
        return RegistryRules.allocateSubnet(index.networks(), pool, subnetPrefix, name);
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

    private static NetworkIndex withMember(NetworkIndex index, NetworkRecord record, String workspace,
            Ipv4Address ip) {
        List<Member> members = new ArrayList<>(record.members().size() + 1);
        members.addAll(record.members());
        members.add(new Member(workspace, ip));
        return replace(index, record, record.withMembers(members));
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

    // ---------------------------------------------------------------- persistence

    private record Change<T>(T result, NetworkIndex updated) {
    }

    /** One queued change and its outcome, completed by whichever thread ran it. */
    private static final class Pending<T> {
        final Function<NetworkIndex, Change<T>> edit;
        /** The first change of its registry instance: the writer sweeps stale temporary files first. */
        final boolean sweep;
        final CompletableFuture<T> outcome = new CompletableFuture<>();

        Pending(Function<NetworkIndex, Change<T>> edit, boolean sweep) {
            this.edit = edit;
            this.sweep = sweep;
        }

        @SuppressWarnings("unchecked")
        void succeed(Object result) {
            outcome.complete((T) result);
        }

        void fail(Throwable failure) {
            outcome.completeExceptionally(failure);
        }

        /** Waits for the outcome; an interrupt is thrown as {@link InterruptedException}. */
        T await() throws InterruptedException {
            try {
                return outcome.get();
            } catch (ExecutionException e) {
                throw rethrow(e.getCause());
            }
        }

        /** Waits for the outcome whatever interrupts come meanwhile. */
        T awaitUninterruptibly() {
            try {
                return outcome.join();
            } catch (CompletionException e) {
                throw rethrow(e.getCause());
            }
        }

        private static RuntimeException rethrow(Throwable failure) {
            if (failure instanceof RuntimeException e) {
                throw e;
            }
            if (failure instanceof Error e) {
                throw e;
            }
            throw new NetworkException("the registry change failed: " + failure, failure);
        }
    }

    /**
     * Runs {@code edit} on the current index and persists its result when it changed.
     *
     * <p>Group commit: changes are queued (one queue per index file in this JVM, whichever instance made
     * them) and applied by one writer thread of the registry's own, which takes the lock, applies every queued
     * change in order, persists them with one durable write and completes each. The I/O runs on that thread,
     * so interrupting a caller affects only that caller: an interrupt before the writer took its change
     * withdraws the change and throws; after, the caller waits for the outcome and keeps its interrupt status.
     * A thread that already holds a lease of the index's {@link LockFile} ({@code networks/index.lock}) runs its
     * change itself: the writer would wait for that lease.
     */
    private <T> T mutate(Function<NetworkIndex, Change<T>> edit) {
        Pending<T> mine = new Pending<>(edit, swept.compareAndSet(false, true));
        if (shared.lock.isHeldByCurrentThread()) {
            shared.apply(List.of(mine));
            return mine.awaitUninterruptibly();
        }
        shared.queue.add(mine);
        shared.schedule();
        try {
            return mine.await();
        } catch (InterruptedException e) {
            if (shared.queue.remove(mine)) {
                Thread.currentThread().interrupt();
                throw new NetworkException("interrupted while waiting to change " + shared.file.path()
                        + "; the change was not made", e);
            }
            try {
                return mine.awaitUninterruptibly(); // the writer has it: its outcome is already being decided
            } finally {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * What this JVM shares about one index file, whichever instances use it: the lock, the snapshot last read
     * or written, the queue of changes and the thread that writes them.
     */
    private static final class Shared {
        final LockFile lock;
        final IndexFile file;
        final Queue<Pending<?>> queue = new ConcurrentLinkedQueue<>();
        private final AtomicBoolean scheduled = new AtomicBoolean();
        private final ThreadPoolExecutor writer;
        /** Encoded members reused across writes; used only under the lock. */
        private final IndexCodec.MemberCache encodedMembers = new IndexCodec.MemberCache();
        /** The file as last read or written under the lock; null before the first. */
        private volatile Snapshot cache;
        final AtomicLong parses = new AtomicLong();

        Shared(Path dir, IndexFile.Durability durability) {
            this.lock = LockFile.at(dir.resolve("index.lock"));
            this.file = new IndexFile(dir, durability);
            this.writer = new ThreadPoolExecutor(1, 1, 5, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), task -> {
                Thread thread = new Thread(task, "tapwire-registry-writer " + dir);
                thread.setDaemon(true);
                return thread;
            });
            writer.allowCoreThreadTimeOut(true);
        }

        /** Makes sure a writer will drain the queue. */
        void schedule() {
            if (scheduled.compareAndSet(false, true)) {
                writer.execute(this::drain);
            }
        }

        private void drain() {
            try {
                while (!queue.isEmpty()) {
                    // the lock first, then the queue: whatever arrived while another process held the lock joins
                    // this batch (group commit)
                    List<Pending<?>> batch = List.of();
                    try (Lease lease = lock.acquire()) {
                        batch = takeQueued();
                        apply(batch);
                    } catch (RuntimeException e) { // the lock could not be taken: nothing of the batch ran
                        List<Pending<?>> failed = batch.isEmpty() ? takeQueued() : batch;
                        failed.forEach(p -> p.fail(e));
                    }
                }
            } finally {
                scheduled.set(false);
                if (!queue.isEmpty()) {
                    schedule(); // queued after our last look
                }
            }
        }

        private List<Pending<?>> takeQueued() {
            List<Pending<?>> batch = new ArrayList<>();
            for (Pending<?> p = queue.poll(); p != null; p = queue.poll()) {
                batch.add(p);
            }
            return batch;
        }

        /**
         * Applies {@code batch} in order to the current index and writes once. Changes that fail on their own
         * affect only themselves; when the read or the write fails, every other change of the batch fails with
         * it — none of them is on disk, and each may have read what an earlier one of the batch did. Caller
         * holds the lock.
         */
        void apply(List<Pending<?>> batch) {
            Object[] results = new Object[batch.size()];
            Throwable[] failures = new Throwable[batch.size()];
            try {
                if (batch.stream().anyMatch(p -> p.sweep)) {
                    file.sweepTempFiles();
                }
                NetworkIndex index = load().index();
                boolean changed = false;
                for (int i = 0; i < batch.size(); i++) {
                    try {
                        Change<?> change = batch.get(i).edit.apply(index);
                        results[i] = change.result();
                        if (change.updated() != null) {
                            index = change.updated();
                            changed = true;
                        }
                    } catch (RuntimeException e) {
                        failures[i] = e;
                    }
                }
                if (changed) {
                    store(index.sorted());
                }
                if (batch.size() > 1) {
                    LOG.debug("group commit: {} changes in one write", batch.size());
                }
            } catch (RuntimeException | Error e) {
                Throwable failure = e instanceof Error
                        ? new NetworkException("the change to " + file.path() + " was not made: " + e, e) : e;
                for (int i = 0; i < failures.length; i++) {
                    if (failures[i] == null) {
                        failures[i] = failure;
                    }
                }
                if (e instanceof Error error) {
                    complete(batch, results, failures);
                    throw error;
                }
            }
            complete(batch, results, failures);
        }

        private static void complete(List<Pending<?>> batch, Object[] results, Throwable[] failures) {
            for (int i = 0; i < batch.size(); i++) {
                if (failures[i] != null) {
                    batch.get(i).fail(failures[i]);
                } else {
                    batch.get(i).succeed(results[i]);
                }
            }
        }

        /** Returns the current index, re-reading the file only when it was replaced. Caller holds the lock. */
        Snapshot load() {
            BasicFileAttributes attrs = file.stat();
            if (attrs == null) {
                replaceCache(null);
                return Snapshot.NONE;
            }
            Snapshot cached = cache;
            if (cached != null && cached.describes(attrs)) {
                return cached;
            }
            Snapshot fresh = file.read(attrs);
            parses.incrementAndGet();
            replaceCache(fresh);
            return fresh;
        }

        /** Writes {@code index} atomically and durably and caches it. Caller holds the lock. */
        private void store(NetworkIndex index) {
            byte[] bytes = IndexCodec.format(index, encodedMembers);
            try {
                replaceCache(file.write(index, bytes));
            } catch (RuntimeException e) {
                replaceCache(null);
                throw e;
            }
        }

        private void replaceCache(Snapshot fresh) {
            Snapshot old = cache;
            cache = fresh;
            if (old != null && old != fresh) {
                old.close(); // after publishing the new one: a reader that saw the old inode saw it alive
            }
        }

        /**
         * Reads the index without the lock: renames are atomic, so any reader sees a whole index. Uses the
         * cached snapshot when the path still names its (held open) file.
         */
        NetworkIndex readUnlocked() {
            BasicFileAttributes attrs = file.stat();
            if (attrs == null) {
                return NetworkIndex.EMPTY;
            }
            Snapshot cached = cache; // read after the stat: see Snapshot for why this order is sound
            if (cached != null && cached.describes(attrs)) {
                return cached.index();
            }
            return file.readUnlocked(attrs);
        }
    }

    /** Sets up a {@link FileNetworkRegistry}: subnet pool, subnet size and clock. */
    public static final class Builder {
        private final Path stateDir;
        private Ipv4Subnet pool = DEFAULT_POOL;
        private int subnetPrefix = DEFAULT_SUBNET_PREFIX;
        private Clock clock = Clock.systemUTC();
        private IndexFile.Durability durability = IndexFile.Durability.FSYNC;

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

        /** Replaces fsync, for the tests that prove the fsyncs; takes effect for the first registry on a directory. */
        Builder durability(IndexFile.Durability replacement) {
            this.durability = Objects.requireNonNull(replacement, "durability");
            return this;
        }

        /**
         * Builds the registry.
         *
         * @return the registry
         * @throws InvalidNetworkSpecException if the subnet prefix is not longer than the pool's or longer than /30
         */
        public FileNetworkRegistry build() {
            RegistryRules.requirePrefixFitsPool(pool, subnetPrefix);
            return new FileNetworkRegistry(this);
        }
    }
}
