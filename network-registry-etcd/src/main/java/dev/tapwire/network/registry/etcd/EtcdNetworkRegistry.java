package dev.tapwire.network.registry.etcd;

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
import dev.tapwire.network.spi.RegistryRules;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.ClientBuilder;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Txn;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.OptionsUtil;
import io.etcd.jetcd.options.PutOption;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link NetworkRegistry} on etcd (v3 API, through jetcd): one registry that every host of a fleet
 * shares, so a member's address is unique across the fleet and stable across stop/start wherever the
 * workspace runs.
 *
 * <p>Keys, under the prefix (default {@code /tapwire/}):
 * <ul>
 *   <li>{@code n/<network>} → {@code <subnet> <gateway> <created_at or ->}: one per network;</li>
 *   <li>{@code c/<network>} → a random token only the create that made the network wrote, so that after a lost
 *   reply it tells its own network from another client's (a key apart, so that older clients read networks as
 *   before);</li>
 *   <li>{@code m/<network>/<workspace>} → {@code <ip>}: one per member (join order = creation revision;
 *   {@code <ip> <ordinal>} when {@link #writeIndex} wrote many in one transaction);</li>
 *   <li>{@code a/<network>/<offset>} → {@code <workspace>}: one per address held (the host offset in eight hex
 *   digits, so keys sort as addresses do), so no address is held twice;</li>
 *   <li>{@code h/<network>} → an offset below which every host is taken (raised by a join that found a page of
 *   taken hosts from it, lowered by a leave below it, and written by every leave): a join reads a page of
 *   address keys from there, not all of them, so it costs about the same at 100 or 100,000 members;</li>
 *   <li>{@code v} → a counter bumped by every create, remove and {@link #writeIndex}, so no two subnets overlap;</li>
 *   <li>{@code r/<network>} and {@code i}: short-lived marks, bound to an etcd lease, of a remove of an empty
 *   network and of a {@link #writeIndex} under way; a client that dies holding one loses it when its lease
 *   expires (a few seconds);</li>
 *   <li>{@code s/<id>/...} and {@code commit}: the new index a {@link #writeIndex} stages, and its commit record
 *   (bound to no lease: from it on, the import is finished by whoever holds the mark next).</li>
 * </ul>
 * A join writes two keys, not the whole index. Every change (but an import: {@link #writeIndex}) is one etcd
 * transaction guarded by revision compares (optimistic concurrency): two hosts can never take one address or
 * overlapping subnets; a lost race is retried with jitter until the operation's deadline
 * ({@link Builder#deadline(Duration)}).
 *
 * <p><b>Stale commits never apply.</b> A transaction sent to a member that then stalls (a GC pause, SIGSTOP, a
 * slow disk) is applied when that member resumes — possibly long after its caller gave up. Every transaction is
 * therefore guarded by revisions, which never come back, not by values or absences, which do: a join compares the
 * revision of the network's {@code h/} key, which every leave rewrites, so a join read before a leave can never
 * bring the member back; a leave compares the revision of the member key it read, so it can never delete the
 * member that joined again at the same address.
 *
 * <p><b>Unknown outcomes.</b> A transaction whose reply is lost (a timeout or {@code UNAVAILABLE} after the commit)
 * may or may not have been applied; jetcd does not retry writes. The operation is then run again from a fresh
 * read: a join finds its own member key and returns that address, a create finds its own network (by a token
 * only it wrote), a leave or remove finds nothing left to do. When the deadline passes first, the error says that
 * the outcome is unknown: calling the same operation again is always safe — a join then returns the same address.
 *
 * <p><b>Deadline.</b> Each operation — all its reads, commits and retries — ends within one deadline (default
 * twice the request timeout, 10 s), with quorum lost, an endpoint black-holed or not; each request waits at most
 * the request timeout (default 5 s) and is then tried on another member.
 */
public final class EtcdNetworkRegistry implements NetworkRegistry, AutoCloseable {

    /** The default key prefix. */
    public static final String DEFAULT_PREFIX = "/tapwire/";
    /** The default pool auto-allocated subnets come from. */
    public static final Ipv4Subnet DEFAULT_POOL = Ipv4Subnet.parse("10.44.0.0/16");

    private static final Logger LOG = LoggerFactory.getLogger(EtcdNetworkRegistry.class);
    /** The mark an older tapwire put before a network's value while removing it; read as the plain value. */
    private static final String REMOVING = "removing ";
    /** Address keys read per request when looking for a free host. */
    private static final int PAGE = 64;
    /** Keys read per request when reading a range whole (the index, a network's members), so no reply is too big. */
    private static final int READ_PAGE = 2000;
    /**
     * How many free hosts, lowest first, one join transaction tries in turn (nested transactions): enough for
     * a burst of concurrent joiners that read the same state to all succeed in their first round trip.
     */
    private static final int CANDIDATES = 16;
    /**
     * How many free hosts a join chosen from the {@link JoinCache} tries: concurrent joins of one client are offered
     * different ones, so a few are enough for joiners of other clients; each one more makes the transaction larger.
     */
    private static final int CACHED_CANDIDATES = 4;
    /** How many joins of this client read first after one chosen from the {@link JoinCache} lost a race. */
    private static final int CACHE_PAUSE = 64;
    /** The commit record of an import: {@code <id> applying}, then {@code <id> applied}; bound to no lease. */
    private static final String COMMIT = "commit";
    private static final String APPLYING = "applying";
    private static final String APPLIED = "applied";
    /** Where an import stages the new index: {@code s/<id>/n/...}, {@code s/<id>/h/...}, {@code s/<id>/m/...}. */
    private static final String STAGING = "s/";
    /** The most bytes one transaction of an import carries (the servers' --max-request-bytes is 1.5 MiB). */
    private static final int BATCH_BYTES = 512 * 1024;
    /** Netty's list of handlers that gRPC appends to a transport failure: noise to an operator. */
    private static final java.util.regex.Pattern CHANNEL_PIPELINE = java.util.regex.Pattern.compile(
            "\\s*Channel Pipeline: \\[[^\\]]*\\]");

    private final Client client;
    private final KV kv;
    private final String prefix;
    private final Ipv4Subnet pool;
    private final int subnetPrefix;
    private final Duration timeout;
    private final Duration deadline;
    private final int maxAttempts;
    private final int maxTxnOps;
    private final Clock clock;
    private final String endpoints;
    private final List<String> endpointList;
    /** The client settings, for the watches' own clients. */
    private final ClientBuilder clientTemplate;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Set<EtcdWatch> watches = ConcurrentHashMap.newKeySet();
    /** The deadline (System.nanoTime) of the operation the calling thread runs. */
    private final ThreadLocal<Long> operationDeadline = new ThreadLocal<>();
    /**
     * The hint and its revision as this client last read it, per network: where the next join's prefetched page of
     * address keys starts, and what a one-round-trip leave is guarded by.
     */
    private final ConcurrentMap<String, HintSeen> hints = new ConcurrentHashMap<>();
    /** The members this client joined, by "network/workspace": a leave of one needs no read first. */
    private final ConcurrentMap<String, MemberSeen> members = new ConcurrentHashMap<>();
    /** What this client knows of the networks' keys, so that a join is one round trip when nothing raced. */
    private final JoinCache joinCache = new JoinCache(this::decodeNetwork);
    /** The watch that feeds {@link #joinCache}, started by the first join (one of the {@link #watches}). */
    private volatile EtcdWatch cacheWatch;
    /** The revision {@link #cacheWatch} started from. */
    private volatile long cacheWatchFrom;
    /** What the caller sees of each commit's reply; a seam for the tests that lose replies. */
    private final UnaryOperator<CompletableFuture<TxnResponse>> replies;
    /** Runs just before each commit is sent; a seam for the tests that cut or freeze a member after a read. */
    private final Runnable beforeCommit;

    private record HintSeen(long value, long modRevision) {
    }

    /** A member as this client last wrote or read it: the revision of its member key guards a leave. */
    private record MemberSeen(Ipv4Address ip, long offset, long modRevision) {
    }

    private EtcdNetworkRegistry(Builder b, Client client, ClientBuilder template) {
        this.client = client;
        this.clientTemplate = template;
        this.kv = client.getKVClient();
        this.prefix = b.prefix;
        this.pool = b.pool;
        this.subnetPrefix = b.subnetPrefix;
        this.timeout = b.timeout;
        this.deadline = b.deadline != null ? b.deadline : b.timeout.multipliedBy(2);
        this.maxAttempts = b.maxAttempts;
        this.maxTxnOps = b.maxTxnOps;
        this.clock = b.clock;
        this.endpointList = List.copyOf(b.endpoints);
        this.endpoints = String.join(",", b.endpoints);
        this.replies = b.replies;
        this.beforeCommit = b.beforeCommit;
    }

    /**
     * Starts a builder for a registry on the etcd cluster at {@code endpoints}.
     *
     * @param endpoints client URLs, e.g. {@code http://10.0.0.1:2379}
     * @return the builder
     * @throws InvalidNetworkSpecException if there is no endpoint
     */
    public static Builder builder(String... endpoints) {
        if (endpoints.length == 0) {
            throw new InvalidNetworkSpecException("an etcd registry needs at least one endpoint, e.g. http://127.0.0.1:2379");
        }
        return new Builder(List.of(endpoints));
    }

    /**
     * Opens the registry an {@code etcd:} URI names; see {@link EtcdUris#open(URI)} for the forms accepted.
     *
     * @param uri the URI
     * @return the registry
     * @throws InvalidNetworkSpecException if the URI is malformed, saying what is accepted (never printing a secret)
     */
    public static EtcdNetworkRegistry fromUri(URI uri) {
        return EtcdUris.open(uri);
    }

    /**
     * Returns the deadline of each operation: all its requests and retries end within it.
     *
     * @return the deadline
     */
    public Duration deadline() {
        return deadline;
    }

    // ---------------------------------------------------------------- the contract

    @Override
    public NetworkRecord create(String name) {
        NetworkNames.requireValid(name);
        return createWith(name, null);
    }

    @Override
    public NetworkRecord create(String name, Ipv4Subnet subnet) {
        NetworkNames.requireValid(name);
        Objects.requireNonNull(subnet, "subnet");
        RegistryRules.requireNetworkSubnet(name, subnet);
        return createWith(name, subnet);
    }

    private NetworkRecord createWith(String name, Ipv4Subnet explicit) {
        Instant createdAt = clock.instant().truncatedTo(ChronoUnit.SECONDS);
        // only this call writes this token: after a lost reply it tells our own create from another client's
        String token = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
        return retrying("create network " + name, attempt -> {
            // the version first: a create or remove after this read changes it, and the guarded commit then fails
            List<GetResponse> marks = readTogether(Op.get(key("v"), GetOption.DEFAULT),
                    Op.get(key(COMMIT), GetOption.DEFAULT), Op.get(key("i"), GetOption.DEFAULT));
            if (first(marks.get(1)) != null) {
                throw importUnderWay(first(marks.get(2)) != null);
            }
            long version = modRevision(marks.get(0));
            List<NetworkRecord> existing = new ArrayList<>();
            for (KeyValue kv : readRange("n/", 0).keys()) {
                existing.add(decodeNetwork(kv));
            }
            Optional<NetworkRecord> same = existing.stream().filter(n -> n.name().equals(name)).findFirst();
            if (same.isPresent()) {
                KeyValue made = attempt.uncertain() ? first(get(key("c/" + name))) : null;
                if (made != null && text(made.getValue()).equals(token)) {
                    return same.get(); // our own create, whose reply was lost
                }
                throw new NetworkAlreadyExistsException("network \"" + name + "\" already exists");
            }
            Ipv4Subnet subnet = explicit != null ? explicit
                    : RegistryRules.allocateSubnet(existing, pool, subnetPrefix, name);
            if (explicit != null) {
                RegistryRules.overlapping(existing, explicit).ifPresent(other -> {
                    throw new SubnetOverlapException("subnet " + explicit + " for network " + name
                            + " overlaps network " + other.name() + " (" + other.subnet() + ")");
                });
            }
            NetworkRecord created = new NetworkRecord(name, subnet, subnet.firstHost(), createdAt, List.of());
            boolean done = commit(txn(List.of(
                            new Cmp(key("v"), Cmp.Op.EQUAL, CmpTarget.modRevision(version)),
                            new Cmp(key("n/" + name), Cmp.Op.EQUAL, CmpTarget.createRevision(0)),
                            noImportApplying()),
                    List.of(put("n/" + name, encodeNetwork(created)), put("c/" + name, token),
                            put("v", Long.toString(version + 1)))));
            return done ? created : null;
        });
    }

    @Override
    public List<NetworkRecord> list() {
        return readIndex().networks();
    }

    /** Reads the network and its members only (at one revision), not the whole registry. */
    @Override
    public Optional<NetworkRecord> find(String name) {
        return retrying("read network " + name, attempt -> {
            List<GetResponse> seen = readTogether(Op.get(key("n/" + name), GetOption.DEFAULT),
                    Op.get(key(COMMIT), GetOption.DEFAULT));
            long at = seen.get(0).getHeader().getRevision();
            KeyValue importing = first(seen.get(1));
            KeyValue network = first(seen.get(0));
            if (importing != null) { // an import being applied: the index it replaces, whole
                at = importing.getCreateRevision();
                network = first(get(key("n/" + name), GetOption.builder().withRevision(at).build()));
            }
            if (network == null) {
                return Optional.<NetworkRecord>empty();
            }
            Range members = readRange("m/" + name + "/", at);
            return Optional.of(decodeNetwork(network).withMembers(membersInJoinOrder(members.keys(), "m/" + name + "/")));
        });
    }

    /**
     * Removes a network. A network with members (and {@code force} false) is refused at once, without touching it:
     * joins go on meanwhile. An empty one is marked for one round trip (a lease-bound {@code r/} key that joins
     * wait for), checked empty again and deleted; a client that dies holding the mark loses it when its lease
     * expires.
     */
    @Override
    public void remove(String name, boolean force) {
        retrying("remove network " + name, attempt -> {
            List<GetResponse> seen = readTogether(Op.get(key("n/" + name), GetOption.DEFAULT),
                    Op.get(key("v"), GetOption.DEFAULT),
                    Op.get(key("m/" + name + "/"), GetOption.builder().isPrefix(true).withKeysOnly(true)
                            .withLimit(1).build()),
                    Op.get(key(COMMIT), GetOption.DEFAULT), Op.get(key("i"), GetOption.DEFAULT));
            if (first(seen.get(3)) != null) {
                throw importUnderWay(first(seen.get(4)) != null);
            }
            KeyValue network = first(seen.get(0));
            if (network == null) {
                if (attempt.uncertain()) {
                    return Boolean.TRUE; // our own remove, whose reply was lost
                }
                throw notFound(name);
            }
            long version = modRevision(seen.get(1));
            List<Cmp> guards = new ArrayList<>(List.of(
                    new Cmp(key("n/" + name), Cmp.Op.EQUAL, CmpTarget.modRevision(network.getModRevision())),
                    new Cmp(key("v"), Cmp.Op.EQUAL, CmpTarget.modRevision(version)), noImportApplying()));
            if (force) { // every member goes with it, whoever joined meanwhile
                return commit(txn(guards, removeOps(name, version))) ? Boolean.TRUE : null;
            }
            if (!seen.get(2).getKvs().isEmpty()) {
                throw inUse(name, seen.get(0).getHeader().getRevision());
            }
            // empty: mark it so that no join commits between the check and the delete
            long lease = grantLease();
            try {
                TxnResponse mark = commitResponse(txn(List.of(guards.get(0),
                                new Cmp(key("r/" + name), Cmp.Op.EQUAL, CmpTarget.createRevision(0))),
                        List.of(Op.put(key("r/" + name), bytes("removing"),
                                PutOption.builder().withLeaseId(lease).build()))));
                if (!mark.isSucceeded()) {
                    return null; // another remove holds it, or the network changed
                }
                long marked = mark.getHeader().getRevision();
                GetResponse after = get(key("m/" + name + "/"),
                        GetOption.builder().isPrefix(true).withKeysOnly(true).withLimit(1).build());
                if (!after.getKvs().isEmpty()) { // a join committed before the mark
                    throw inUse(name, after.getHeader().getRevision());
                }
                guards.add(new Cmp(key("r/" + name), Cmp.Op.EQUAL, CmpTarget.modRevision(marked)));
                return commit(txn(guards, removeOps(name, version))) ? Boolean.TRUE : null;
            } finally {
                revokeLease(lease); // deletes the mark, if it is still there
            }
        });
    }

    private List<Op> removeOps(String name, long version) {
        // members first, then the network: a watch sees them leave before it goes
        return List.of(Op.delete(key("m/" + name + "/"), DeleteOption.builder().isPrefix(true).build()),
                Op.delete(key("a/" + name + "/"), DeleteOption.builder().isPrefix(true).build()),
                Op.delete(key("h/" + name), DeleteOption.DEFAULT),
                Op.delete(key("c/" + name), DeleteOption.DEFAULT),
                Op.delete(key("n/" + name), DeleteOption.DEFAULT),
                put("v", Long.toString(version + 1)));
    }

    private NetworkInUseException inUse(String name, long revision) throws Retry {
        List<String> workspaces = new ArrayList<>();
        String under = "m/" + name + "/";
        for (Member m : membersInJoinOrder(readRange(under, revision).keys(), under)) {
            workspaces.add(m.workspace());
        }
        return new NetworkInUseException(name, workspaces);
    }

    private long grantLease() throws Retry {
        return await(client.getLeaseClient().grant(leaseSeconds()), "grant a lease", false).getID();
    }

    private long leaseSeconds() {
        return Math.max(2, (timeout.toMillis() + 999) / 1000);
    }

    private void revokeLease(long lease) {
        client.getLeaseClient().revoke(lease).exceptionally(e -> {
            LOG.debug("revoking etcd lease {} failed ({}); it expires on its own", lease, e.toString());
            return null;
        });
    }

    @Override
    public Ipv4Address join(String network, String workspace) {
        String ws = RegistryRules.requireWorkspace(workspace);
        return retrying("join " + ws + " to network " + network, attempt -> {
            List<GetResponse> seen = null;
            HintSeen last = hints.get(network);
            long guess = last == null ? 1 : last.value();
            JoinCache.Choice cached = attempt.races() == 0 && !attempt.uncertain()
                    ? joinCache.choose(network, CACHED_CANDIDATES, PAGE) : null;
            if (cached != null) {
                // one round trip: the candidates from what this client knows, guarded as after a read; when the
                // cache was stale the else branch brings the reads a join goes on with
                guess = cached.hint();
                try {
                    TxnResponse response = commitResponse(firstFreeTxn(network, ws, cached.record(),
                            cached.networkKv(), cached.free(), joinGuards(network, cached.hintRevision()), List.of(),
                            joinReads(network, ws, guess)));
                    Ipv4Address ip = joined(network, ws, cached.record(), cached.free(), -1, response);
                    if (ip != null) {
                        return ip;
                    }
                    seen = innermost(response).getGetResponses();
                    joinCache.missed(network, CACHE_PAUSE);
                } finally {
                    joinCache.settled(network, cached);
                }
            }
            if (seen == null) {
                seen = readTogether(joinReads(network, ws, guess));
            }
            if (first(seen.get(6)) != null) {
                throw importUnderWay(first(seen.get(4)) != null);
            }
            KeyValue networkKv = first(seen.get(0));
            if (networkKv == null) {
                throw notFound(network);
            }
            NetworkRecord record = decodeNetwork(networkKv);
            KeyValue mine = first(seen.get(1));
            if (mine != null) { // a re-join, or our own join whose reply was lost
                Ipv4Address ip = memberIp(mine);
                members.put(network + "/" + ws, new MemberSeen(ip, offsetIn(record, ip), mine.getModRevision()));
                return ip;
            }
            if (first(seen.get(4)) != null) {
                throw new Retry(Retry.Kind.BUSY, "another client is replacing the whole index (writeIndex)");
            }
            if (first(seen.get(5)) != null) {
                throw new Retry(Retry.Kind.BUSY, "another client is removing network " + network);
            }
            KeyValue hintKv = first(seen.get(2));
            long hint = hintKv == null ? 1 : Long.parseLong(text(hintKv.getValue()));
            long hintRevision = hintKv == null ? 0 : hintKv.getModRevision();
            if (guess <= hint) {
                long revision = seen.get(0).getHeader().getRevision();
                if (ensureCacheWatch(revision + 1)) {
                    joinCache.prime(revision, networkKv, record, hint, hintRevision, guess, seen.get(3));
                }
            }
            List<Long> run = new ArrayList<>();
            List<Long> free = freeOffsets(record, hint, guess <= hint ? seen.get(3) : null, CANDIDATES, run);
            hints.put(network, new HintSeen(hint, hintRevision));
            // the hint's revision: every leave rewrites it, so a join read before a leave never applies after it
            List<Cmp> guards = joinGuards(network, hintRevision);
            List<Op> raise = new ArrayList<>();
            long raisedTo = -1;
            if (run.size() >= PAGE) {
                // a page or more of hosts from the hint on is taken: take the first free one and raise the hint to
                // it. The hint's revision guards that: every leave rewrites the hint, so a host of that run freed
                // meanwhile makes this start over
                free = free.subList(0, 1);
                raisedTo = free.get(0);
                raise.add(put("h/" + network, Long.toString(raisedTo)));
            }
            TxnResponse response = commitResponse(firstFreeTxn(network, ws, record, networkKv, free, guards, raise,
                    new Op[0]));
            // null: every candidate was taken meanwhile (or the network, the member or the hint changed)
            return joined(network, ws, record, free, raisedTo, response);
        });
    }

    /**
     * The reads a join decides from, in one round trip: the network, this member, the hint, a page of address keys
     * from {@code guess} (the hint this client saw last; used only if it is not above the hint read now), the marks.
     */
    private Op[] joinReads(String network, String ws, long guess) {
        return new Op[] {Op.get(key("n/" + network), GetOption.DEFAULT), Op.get(memberKey(network, ws), GetOption.DEFAULT),
                Op.get(key("h/" + network), GetOption.DEFAULT), Op.get(addressKey(network, guess), pageFrom(network, PAGE)),
                Op.get(key("i"), GetOption.DEFAULT), Op.get(key("r/" + network), GetOption.DEFAULT),
                Op.get(key(COMMIT), GetOption.DEFAULT)};
    }

    /**
     * Returns the address a {@link #firstFreeTxn} took, or null when it took none, and records what it wrote: the
     * member's revision (its leave's guard), the hint raised to {@code raisedTo} (unless -1), the address taken.
     */
    private Ipv4Address joined(String network, String ws, NetworkRecord record, List<Long> free, long raisedTo,
            TxnResponse response) {
        for (int i = 0; response != null; i++) {
            if (response.isSucceeded()) {
                long offset = free.get(i);
                Ipv4Address ip = record.subnet().networkAddress().plus(offset);
                // the keys a transaction writes get its revision
                long revision = response.getHeader().getRevision();
                members.put(network + "/" + ws, new MemberSeen(ip, offset, revision));
                if (raisedTo >= 0) {
                    hints.put(network, new HintSeen(raisedTo, revision));
                    joinCache.hint(network, raisedTo, revision);
                }
                joinCache.taken(network, offset, revision);
                LOG.debug("workspace {} joins network {} as {} (candidate {} of {})", ws, network, ip, i + 1,
                        free.size());
                return ip;
            }
            List<TxnResponse> nested = response.getTxnResponses();
            response = nested.isEmpty() ? null : nested.get(0);
        }
        return null;
    }

    /** The deepest level of a {@link #firstFreeTxn} that failed throughout: its else branch's responses. */
    private static TxnResponse innermost(TxnResponse response) {
        while (!response.getTxnResponses().isEmpty()) {
            response = response.getTxnResponses().get(0);
        }
        return response;
    }

    /**
     * Starts the watch that feeds the join cache, from {@code from}, unless it runs already; returns whether it
     * covers every change after {@code from - 1} (a read at that revision may prime the cache).
     */
    private boolean ensureCacheWatch(long from) {
        EtcdWatch running = cacheWatch;
        if (running == null) {
            synchronized (watches) {
                if (cacheWatch == null && !closed.get()) {
                    EtcdWatch watch = new EtcdWatch(this, new EtcdWatch.Feed<String>("", (rest, put, kv, previous) -> {
                        joinCache.event(rest, put, kv);
                        return List.of();
                    }, "resync", resync -> joinCache.clear()), from, watches::remove);
                    watches.add(watch);
                    watch.start();
                    cacheWatchFrom = from;
                    cacheWatch = watch;
                }
                running = cacheWatch;
            }
        }
        return running != null && cacheWatchFrom <= from;
    }

    /**
     * Joins with a requested address in one guarded transaction, read and guarded as {@link #join(String, String)}
     * is: the network's and the hint's revisions (every leave rewrites the hint, so a join read before a leave
     * never applies after it), the member's and the address key's absence, no import or remove under way. The hint
     * is left as it is: taking a host never makes a host below it free. Of two joins requesting one address at
     * once, one commits and the other, reading again, finds the address held and names its holder.
     */
    @Override
    public Ipv4Address join(String network, String workspace, Ipv4Address requested) {
        String ws = RegistryRules.requireWorkspace(workspace);
        Objects.requireNonNull(requested, "requested");
        return retrying("join " + ws + " to network " + network + " as " + requested, attempt -> {
            List<GetResponse> seen = readTogether(Op.get(key("n/" + network), GetOption.DEFAULT),
                    Op.get(memberKey(network, ws), GetOption.DEFAULT), Op.get(key("h/" + network), GetOption.DEFAULT),
                    Op.get(key("i"), GetOption.DEFAULT), Op.get(key("r/" + network), GetOption.DEFAULT),
                    Op.get(key(COMMIT), GetOption.DEFAULT));
            if (first(seen.get(5)) != null) {
                throw importUnderWay(first(seen.get(3)) != null);
            }
            KeyValue networkKv = first(seen.get(0));
            if (networkKv == null) {
                throw notFound(network);
            }
            NetworkRecord record = decodeNetwork(networkKv);
            RegistryRules.requireRequestable(record, ws, requested); // the address itself: the record has no members
            long offset = offsetIn(record, requested);
            KeyValue mine = first(seen.get(1));
            if (mine != null) { // a re-join, or our own join whose reply was lost
                Ipv4Address ip = memberIp(mine);
                RegistryRules.requireRequestable(record.withMembers(List.of(new Member(ws, ip))), ws, requested);
                members.put(network + "/" + ws, new MemberSeen(ip, offset, mine.getModRevision()));
                return ip;
            }
            if (first(seen.get(3)) != null) {
                throw new Retry(Retry.Kind.BUSY, "another client is replacing the whole index (writeIndex)");
            }
            if (first(seen.get(4)) != null) {
                throw new Retry(Retry.Kind.BUSY, "another client is removing network " + network);
            }
            KeyValue holder = first(get(addressKey(network, offset)));
            if (holder != null) {
                throw RegistryRules.addressHeld(network, requested, text(holder.getValue()));
            }
            KeyValue hintKv = first(seen.get(2));
            long hintRevision = hintKv == null ? 0 : hintKv.getModRevision();
            TxnResponse response = commitResponse(kv.txn()
                    .If(joinCompares(network, ws, networkKv, offset, joinGuards(network, hintRevision)))
                    .Then(joinPuts(network, ws, record, offset, List.of())));
            if (!response.isSucceeded()) {
                return null; // the network, the member, the address or the hint changed meanwhile: read again
            }
            members.put(network + "/" + ws, new MemberSeen(requested, offset, response.getHeader().getRevision()));
            joinCache.taken(network, offset, response.getHeader().getRevision());
            LOG.debug("workspace {} joins network {} with the requested address {}", ws, network, requested);
            return requested;
        });
    }

    /**
     * The guards of every join besides the network, the member and the address: the hint's revision (every leave
     * rewrites it), no import mark, no remove mark, no import being applied.
     */
    private List<Cmp> joinGuards(String network, long hintRevision) {
        return List.of(new Cmp(key("h/" + network), Cmp.Op.EQUAL, CmpTarget.modRevision(hintRevision)),
                new Cmp(key("i"), Cmp.Op.EQUAL, CmpTarget.createRevision(0)),
                new Cmp(key("r/" + network), Cmp.Op.EQUAL, CmpTarget.createRevision(0)), noImportApplying());
    }

    /**
     * Returns one transaction that takes the first of {@code free} still free when etcd applies it: a chain of
     * nested transactions, each guarded by the network, the member's absence, one candidate's absence and
     * {@code guards}, the next tried in the else branch of the one before, {@code otherwise} in the last one's.
     * Concurrent joiners that read the same
     * free hosts then line up on them inside etcd instead of all but one losing and reading again. The response
     * of level {@code i} (the top one, or the only nested one of level {@code i - 1}) says whether candidate
     * {@code i} was taken.
     */
    private Txn firstFreeTxn(String network, String ws, NetworkRecord record, KeyValue networkKv, List<Long> free,
            List<Cmp> guards, List<Op> extra, Op[] otherwise) {
        Op[] next = otherwise;
        for (int i = free.size() - 1; i >= 1; i--) {
            next = new Op[] {Op.txn(joinCompares(network, ws, networkKv, free.get(i), guards),
                    joinPuts(network, ws, record, free.get(i), extra), next)};
        }
        Txn txn = kv.txn().If(joinCompares(network, ws, networkKv, free.get(0), guards))
                .Then(joinPuts(network, ws, record, free.get(0), extra));
        return next.length == 0 ? txn : txn.Else(next);
    }

    private Cmp[] joinCompares(String network, String ws, KeyValue networkKv, long offset, List<Cmp> guards) {
        List<Cmp> compares = new ArrayList<>(List.of(
                new Cmp(key("n/" + network), Cmp.Op.EQUAL, CmpTarget.modRevision(networkKv.getModRevision())),
                new Cmp(memberKey(network, ws), Cmp.Op.EQUAL, CmpTarget.createRevision(0)),
                new Cmp(addressKey(network, offset), Cmp.Op.EQUAL, CmpTarget.createRevision(0))));
        compares.addAll(guards);
        return compares.toArray(Cmp[]::new);
    }

    private Op[] joinPuts(String network, String ws, NetworkRecord record, long offset, List<Op> extra) {
        List<Op> ops = new ArrayList<>(List.of(
                Op.put(memberKey(network, ws), bytes(record.subnet().networkAddress().plus(offset).toString()),
                        PutOption.DEFAULT),
                Op.put(addressKey(network, offset), bytes(ws), PutOption.DEFAULT)));
        ops.addAll(extra);
        return ops.toArray(Op[]::new);
    }

    /**
     * Finds up to {@code count} free host offsets, lowest first, at or above {@code hint} (below it every host
     * is taken): address keys sort by offset, so this reads them in pages from the hint until enough gaps are
     * found — a few keys, whatever the size of the network. {@code run} receives the offsets taken in an
     * unbroken run from the hint (the join raises the hint past a page of them).
     *
     * @throws AddressExhaustedException when no host is free
     */
    private List<Long> freeOffsets(NetworkRecord record, long hint, GetResponse prefetched, int count,
            List<Long> run) throws Retry {
        List<Long> free = new ArrayList<>(count);
        boolean broken = false;
        Ipv4Subnet subnet = record.subnet();
        long size = subnet.size();
        long gateway = offsetIn(record, record.gateway());
        long end = subnet.prefixLength() < 31 ? size - 1 : size; // the broadcast address is no host
        long o = Math.max(1, hint);
        String network = record.name();
        GetResponse page = prefetched;
        while (o < end) {
            if (page == null) { // past the first page: larger ones, so a long run of taken hosts costs few round trips
                page = await(kv.get(addressKey(network, o), pageFrom(network, READ_PAGE)), "read addresses of "
                        + network, false);
            }
            for (KeyValue taken : page.getKvs()) {
                long k = offsetOf(taken);
                if (k < o) {
                    continue; // below the hint: the page started lower
                }
                for (; o < k; o++) {
                    if (o != gateway && o < end) {
                        broken = true; // a free host: the run of taken ones from the hint ends here
                        free.add(o);
                        if (free.size() == count) {
                            return free;
                        }
                    }
                }
                if (!broken) {
                    run.add(k);
                }
                o = k + 1;
            }
            if (!page.isMore() || !free.isEmpty()) {
                break; // a free host found: the candidates this page offers are enough, read no further page for more
            }
            page = null;
        }
        for (; o < end && free.size() < count && (free.isEmpty() || page == null || !page.isMore()); o++) {
            if (o != gateway) {
                free.add(o); // past the last address key: every host is free
            }
        }
        if (!free.isEmpty()) {
            return free;
        }
        throw new AddressExhaustedException("network " + network + " (" + subnet + ") has no free address left: all "
                + (subnet.hostCount() - 1) + " hosts besides the gateway are taken");
    }

    /** Reads a page of address keys (keys only) from a start key to the end of the network's address keys. */
    private GetOption pageFrom(String network, int size) {
        return GetOption.builder().withKeysOnly(true).withRange(OptionsUtil.prefixEndOf(key("a/" + network + "/")))
                .withLimit(size).build();
    }

    /** An address key: the host offset in eight hex digits, so that keys sort as addresses do. */
    private ByteSequence addressKey(String network, long offset) {
        return key("a/" + network + "/" + String.format("%08x", offset));
    }

    private static long offsetIn(NetworkRecord record, Ipv4Address ip) {
        return ip.toLong() - record.subnet().networkAddress().toLong();
    }

    private static long offsetOf(KeyValue addressKv) {
        String k = text(addressKv.getKey());
        return Long.parseLong(k.substring(k.length() - 8), 16);
    }

    @Override
    public void leave(String network, String workspace) {
        String ws = RegistryRules.requireWorkspace(workspace);
        String member = network + "/" + ws;
        retrying("leave " + ws + " from network " + network, attempt -> {
            List<GetResponse> seen = null;
            MemberSeen known = members.get(member);
            HintSeen hintSeen = hints.get(network);
            if (known != null && hintSeen != null && attempt.races() == 0 && !attempt.uncertain()) {
                // one round trip when this client knows the member key's revision and the hint: guarded by both,
                // with the reads the slow path needs as the else branch
                TxnResponse fast = commitResponse(kv.txn().If(
                                new Cmp(memberKey(network, ws), Cmp.Op.EQUAL, CmpTarget.modRevision(known.modRevision())),
                                new Cmp(key("h/" + network), Cmp.Op.EQUAL, CmpTarget.modRevision(hintSeen.modRevision())),
                                new Cmp(key("i"), Cmp.Op.EQUAL, CmpTarget.createRevision(0)), noImportApplying())
                        .Then(leaveOps(network, ws, known.offset(), hintSeen.value()).toArray(Op[]::new))
                        .Else(Op.get(memberKey(network, ws), GetOption.DEFAULT),
                                Op.get(key("n/" + network), GetOption.DEFAULT),
                                Op.get(key("h/" + network), GetOption.DEFAULT), Op.get(key("i"), GetOption.DEFAULT),
                                Op.get(key(COMMIT), GetOption.DEFAULT)));
                if (fast.isSucceeded()) {
                    members.remove(member);
                    long lowered = Math.min(known.offset(), hintSeen.value());
                    hints.put(network, new HintSeen(lowered, fast.getHeader().getRevision()));
                    joinCache.freed(network, known.offset(), lowered, fast.getHeader().getRevision());
                    return Boolean.TRUE;
                }
                seen = fast.getGetResponses();
            }
            if (seen == null) {
                seen = readTogether(Op.get(memberKey(network, ws), GetOption.DEFAULT),
                        Op.get(key("n/" + network), GetOption.DEFAULT), Op.get(key("h/" + network), GetOption.DEFAULT),
                        Op.get(key("i"), GetOption.DEFAULT), Op.get(key(COMMIT), GetOption.DEFAULT));
            }
            if (first(seen.get(4)) != null) {
                throw importUnderWay(first(seen.get(3)) != null);
            }
            KeyValue memberKv = first(seen.get(0));
            KeyValue networkKv = first(seen.get(1));
            if (memberKv == null || networkKv == null) {
                members.remove(member);
                return Boolean.TRUE;
            }
            if (first(seen.get(3)) != null) {
                throw new Retry(Retry.Kind.BUSY, "another client is replacing the whole index (writeIndex)");
            }
            KeyValue hintKv = first(seen.get(2));
            NetworkRecord record = decodeNetwork(networkKv);
            long offset = offsetIn(record, memberIp(memberKv));
            long hint = hintKv == null ? 1 : Long.parseLong(text(hintKv.getValue()));
            long hintRevision = hintKv == null ? 0 : hintKv.getModRevision();
            hints.put(network, new HintSeen(hint, hintRevision));
            // the hint is compared even when its value does not change: a join that raised it past this host
            // after it was read must make this leave start over (and lower it)
            TxnResponse committed = commitResponse(txn(List.of(
                            new Cmp(memberKey(network, ws), Cmp.Op.EQUAL, CmpTarget.modRevision(memberKv.getModRevision())),
                            new Cmp(key("h/" + network), Cmp.Op.EQUAL, CmpTarget.modRevision(hintRevision)),
                            new Cmp(key("i"), Cmp.Op.EQUAL, CmpTarget.createRevision(0)), noImportApplying()),
                    leaveOps(network, ws, offset, hint)));
            if (!committed.isSucceeded()) {
                return null;
            }
            members.remove(member);
            hints.put(network, new HintSeen(Math.min(offset, hint), committed.getHeader().getRevision()));
            joinCache.freed(network, offset, Math.min(offset, hint), committed.getHeader().getRevision());
            return Boolean.TRUE;
        });
    }

    /**
     * Deletes a member and its address, and writes the hint — lowered when the address freed lies below it, and
     * written even when not, so that its revision tells every join read before this leave that it is stale.
     */
    private List<Op> leaveOps(String network, String ws, long offset, long hint) {
        return List.of(Op.delete(memberKey(network, ws), DeleteOption.DEFAULT),
                Op.delete(addressKey(network, offset), DeleteOption.DEFAULT),
                put("h/" + network, Long.toString(Math.min(offset, hint))));
    }

    /** Reads the network names, then this workspace's member key in each (a bounded transaction of reads at a time). */
    @Override
    public void leaveAll(String workspace) {
        String ws = RegistryRules.requireWorkspace(workspace);
        List<String> joined = retrying("find the networks of " + ws, attempt -> {
            List<GetResponse> marks = readTogether(Op.get(key(COMMIT), GetOption.DEFAULT),
                    Op.get(key("i"), GetOption.DEFAULT));
            if (first(marks.get(0)) != null) { // an import being applied: the networks are about to change
                throw importUnderWay(first(marks.get(1)) != null);
            }
            List<String> names = new ArrayList<>();
            for (KeyValue n : readRange("n/", 0).keys()) {
                names.add(text(n.getKey()).substring(prefix.length() + 2));
            }
            List<String> found = new ArrayList<>();
            int batch = Math.max(1, Math.min(maxTxnOps, 128));
            for (int from = 0; from < names.size(); from += batch) {
                List<String> some = names.subList(from, Math.min(names.size(), from + batch));
                List<GetResponse> seen = readTogether(some.stream()
                        .map(n -> Op.get(memberKey(n, ws), GetOption.builder().withCountOnly(true).build()))
                        .toArray(Op[]::new));
                for (int i = 0; i < some.size(); i++) {
                    if (seen.get(i).getCount() > 0) {
                        found.add(some.get(i));
                    }
                }
            }
            return found;
        });
        for (String network : joined) {
            leave(network, ws);
        }
    }

    /**
     * Returns the whole index as one consistent view (read in pages at one revision, address keys left out),
     * sorted as the file registry sorts it, members in join order: the same {@link NetworkIndex}, and so the same
     * JSON, as the file registry gives for the same networks.
     */
    @Override
    public NetworkIndex readIndex() {
        return retrying("read the index", attempt -> {
            // the commit record and the first page of networks in one round trip, at one revision
            List<GetResponse> first = readTogether(Op.get(key(COMMIT), GetOption.DEFAULT),
                    Op.get(key("n/"), pageOf("n/", 0)));
            KeyValue importing = first(first.get(0));
            Range networks;
            if (importing != null) { // an import being applied: the index it replaces, whole
                networks = readRange("n/", importing.getCreateRevision());
            } else {
                networks = readRange("n/", first.get(0).getHeader().getRevision(), first.get(1));
            }
            Range members = readRange("m/", networks.revision());
            Map<String, List<KeyValue>> byNetwork = new HashMap<>();
            String m = prefix + "m/";
            for (KeyValue mk : members.keys()) { // m/<network>/<workspace>: network names hold no '/'
                String rest = text(mk.getKey()).substring(m.length());
                byNetwork.computeIfAbsent(rest.substring(0, rest.indexOf('/')), k -> new ArrayList<>()).add(mk);
            }
            List<NetworkRecord> records = new ArrayList<>();
            for (KeyValue kv : networks.keys()) {
                NetworkRecord network = decodeNetwork(kv);
                records.add(network.withMembers(membersInJoinOrder(byNetwork.getOrDefault(network.name(), List.of()),
                        "m/" + network.name() + "/")));
            }
            return new NetworkIndex(records).sorted();
        });
    }

    /** Members from their keys (under {@code under}), in join order: creation revision, then writeIndex's ordinal. */
    private List<Member> membersInJoinOrder(List<KeyValue> keys, String under) {
        List<KeyValue> sorted = new ArrayList<>(keys);
        sorted.sort(Comparator.comparingLong(KeyValue::getCreateRevision).thenComparingInt(EtcdNetworkRegistry::ordinal));
        int cut = prefix.length() + under.length();
        List<Member> out = new ArrayList<>(sorted.size());
        for (KeyValue mk : sorted) {
            out.add(new Member(text(mk.getKey()).substring(cut), memberIp(mk)));
        }
        return out;
    }

    /**
     * Replaces the whole index, after validating it as the file registry does, in bounded transactions (each at
     * most {@link Builder#maxTxnOps(int)} operations and 512 KiB), so that an index of any size fits the servers'
     * default limits — and all-or-nothing for every reader and writer, even when this client dies half-way:
     * <ol>
     *   <li>it takes the import mark {@code i} (bound to a lease this client keeps alive): joins, leaves and other
     *   imports wait while it is held;</li>
     *   <li>it stages the new index under {@code s/<id>/}, each transaction guarded by the mark's revision; live
     *   keys are untouched, and a client that dies here leaves only staging keys, which the next import
     *   removes;</li>
     *   <li>one transaction guarded by the mark writes the commit record {@code commit} (bound to no lease) and
     *   bumps {@code v}: from here the new index is the outcome;</li>
     *   <li>it replaces the live keys from the staged ones, each transaction guarded by the mark and the commit
     *   record, then removes the staging keys, the record and the mark. Reads meanwhile are served at the
     *   revision of the commit record (the old index, whole); a client that finds the record while nobody holds
     *   the mark (the importer died) takes the mark and finishes the replacement before its own operation.</li>
     * </ol>
     * A watch sees the replacement as the changes it makes: every member leaves and the new ones join, networks
     * are created, changed or removed. Each transaction has the operation's deadline of its own. Meant for moving
     * a registry between stores, not for routine use.
     *
     * @throws InvalidNetworkSpecException if the index is invalid
     * @throws SubnetOverlapException if two subnets overlap
     * @throws NetworkException if etcd cannot be reached, or another import holds the mark past the deadline, or
     *     this client lost its mark (it stalled past the lease; a committed import is then finished by the next
     *     client, a staged one dropped)
     */
    @Override
    public void writeIndex(NetworkIndex index) {
        Objects.requireNonNull(index, "index");
        RegistryRules.validate(index);
        ensureOpen();
        String id = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
        String staging = STAGING + id + "/";
        List<Write> staged = new ArrayList<>();
        for (NetworkRecord network : index.networks()) {
            staged.add(Write.put(key(staging + "n/" + network.name()), encodeNetwork(network)));
            staged.add(Write.put(key(staging + "h/" + network.name()), Long.toString(lowestFree(network))));
            List<Member> members = network.members();
            for (int i = 0; i < members.size(); i++) { // the ordinal in the key: staged members read back in order
                Member member = members.get(i);
                // the address first: a workspace may hold spaces, an address never does
                staged.add(Write.put(key(staging + "m/" + network.name() + "/" + String.format("%08x", i)),
                        member.ip() + " " + member.workspace()));
            }
        }
        ImportMark mark = ownDeadline(() -> retrying("take the import mark", attempt -> {
            List<GetResponse> seen = readTogether(Op.get(key("i"), GetOption.DEFAULT));
            if (first(seen.get(0)) != null) {
                throw new Retry(Retry.Kind.BUSY, "another client is replacing the whole index (writeIndex)");
            }
            return tryMark(id);
        }));
        try {
            applyCommitted(mark); // an import whose client died after its commit point: finished first
            deleteAll(STAGING, List.of(mark.guard()), mark); // what imports that died while staging left
            long started = System.nanoTime();
            commitInBatches("stage the new index", List.of(mark.guard()), staged, mark);
            ownDeadline(() -> retrying("commit the import", attempt -> {
                if (attempt.uncertain()) {
                    KeyValue record = first(get(key(COMMIT)));
                    if (record != null && text(record.getValue()).startsWith(id + " ")) {
                        return Boolean.TRUE; // our own commit, whose reply was lost
                    }
                }
                // v bumped: a create or remove that read before the commit point never applies after it
                long version = modRevision(get(key("v")));
                if (!commit(txn(List.of(mark.guard(), new Cmp(key(COMMIT), Cmp.Op.EQUAL, CmpTarget.createRevision(0))),
                        List.of(put(COMMIT, id + " " + APPLYING), put("v", Long.toString(version + 1)))))) {
                    throw lostMark(mark, "before its commit point: nothing of it was applied");
                }
                return Boolean.TRUE;
            }));
            LOG.debug("import {}: {} keys staged in {} ms, committed", id, staged.size(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
            applyCommitted(mark);
            LOG.debug("import {} applied in {} ms", id, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
        } finally {
            revokeLease(mark.lease);
        }
    }

    /** One put or delete of a bounded transaction, and about how many bytes it adds to the request. */
    private record Write(Op op, int size) {
        static Write put(ByteSequence key, String value) {
            ByteSequence v = EtcdNetworkRegistry.bytes(value);
            return new Write(Op.put(key, v, PutOption.DEFAULT), key.size() + v.size() + 16);
        }

        static Write delete(ByteSequence key) {
            return new Write(Op.delete(key, DeleteOption.DEFAULT), key.size() + 16);
        }
    }

    /**
     * The import mark this client holds: its lease (kept alive between transactions) and the revision that
     * guards every transaction of the import.
     */
    private final class ImportMark {
        final long lease;
        final long revision;
        final long ttlNanos;
        long refreshed = System.nanoTime();

        ImportMark(long lease, long revision, long ttlSeconds) {
            this.lease = lease;
            this.revision = revision;
            this.ttlNanos = TimeUnit.SECONDS.toNanos(ttlSeconds);
        }

        Cmp guard() {
            return new Cmp(key("i"), Cmp.Op.EQUAL, CmpTarget.modRevision(revision));
        }

        /** Keeps the lease alive when a third of its time has passed since the last time. */
        void refresh() {
            if (System.nanoTime() - refreshed < ttlNanos / 3) {
                return;
            }
            long ttl = ownDeadline(() -> retrying("keep the import mark alive", attempt -> await(
                    client.getLeaseClient().keepAliveOnce(lease), "keep lease " + lease + " alive", false).getTTL()));
            if (ttl <= 0) {
                throw lostMark(this, "(its lease expired)");
            }
            refreshed = System.nanoTime();
        }
    }

    /** Takes the import mark {@code i} under a new lease; null when another client took it first. */
    private ImportMark tryMark(String id) throws Retry {
        long seconds = leaseSeconds();
        long lease = grantLease();
        try {
            TxnResponse marked = commitResponse(txn(List.of(new Cmp(key("i"), Cmp.Op.EQUAL, CmpTarget.createRevision(0))),
                    List.of(Op.put(key("i"), bytes(id), PutOption.builder().withLeaseId(lease).build()))));
            if (marked.isSucceeded()) {
                return new ImportMark(lease, marked.getHeader().getRevision(), seconds);
            }
        } catch (Retry | RuntimeException e) {
            revokeLease(lease);
            throw e;
        }
        revokeLease(lease);
        return null;
    }

    /**
     * Finishes a committed import (its commit record present) under {@code mark}: replaces the live keys from the
     * staged ones, then removes the staging keys and the record. Idempotent: whoever holds the mark next starts
     * it over and reaches the same keys.
     */
    private void applyCommitted(ImportMark mark) {
        KeyValue record = ownDeadline(() -> retrying("read the commit record of an import",
                attempt -> Optional.ofNullable(first(get(key(COMMIT)))))).orElse(null);
        if (record == null) {
            return;
        }
        String[] fields = text(record.getValue()).split(" ");
        String staging = STAGING + fields[0] + "/";
        long recordRevision = record.getModRevision();
        if (fields.length < 2 || !fields[1].equals(APPLIED)) {
            List<Cmp> guards = List.of(mark.guard(), new Cmp(key(COMMIT), Cmp.Op.EQUAL,
                    CmpTarget.modRevision(recordRevision)));
            // members first, then networks: a watch sees them leave before their network changes or goes
            for (String under : List.of("m/", "a/", "c/")) {
                deleteAll(under, guards, mark);
            }
            Map<ByteSequence, String> networks = new LinkedHashMap<>();
            Map<String, NetworkRecord> records = new HashMap<>();
            List<Write> writes = new ArrayList<>();
            ownDeadline(() -> retrying("read the staged networks", attempt -> {
                networks.clear();
                records.clear();
                writes.clear();
                for (String kind : List.of("n/", "h/")) {
                    for (KeyValue kv : readRange(staging + kind, 0).keys()) {
                        String rest = text(kv.getKey()).substring(prefix.length() + staging.length());
                        networks.put(key(rest), text(kv.getValue()));
                        if (kind.equals("n/")) {
                            records.put(rest.substring(2), decodeNetwork(key(rest), kv.getValue()));
                        }
                    }
                    for (KeyValue kv : readRange(kind, 0).keys()) {
                        if (!networks.containsKey(kv.getKey())) {
                            writes.add(Write.delete(kv.getKey()));
                        }
                    }
                }
                return Boolean.TRUE;
            }));
            networks.forEach((k, v) -> writes.add(Write.put(k, v)));
            commitInBatches("replace the networks", guards, writes, mark);
            ByteSequence from = key(staging + "m/");
            ByteSequence end = OptionsUtil.prefixEndOf(from);
            int cut = prefix.length() + staging.length() + 2;
            while (true) {
                ByteSequence start = from;
                GetResponse page = ownDeadline(() -> retrying("read the staged members", attempt -> await(
                        kv.get(start, GetOption.builder().withRange(end).withLimit(READ_PAGE).build()),
                        "read staged members", false)));
                List<Write> members = new ArrayList<>();
                for (KeyValue staged : page.getKvs()) {
                    String rest = text(staged.getKey()).substring(cut); // <network>/<ordinal>
                    int slash = rest.indexOf('/');
                    String network = rest.substring(0, slash);
                    int ordinal = Integer.parseInt(rest.substring(slash + 1), 16);
                    String member = text(staged.getValue()); // "<address> <workspace>"
                    int space = member.indexOf(' ');
                    Ipv4Address ip = Ipv4Address.parse(member.substring(0, space));
                    String workspace = member.substring(space + 1);
                    members.add(Write.put(memberKey(network, workspace), ip + " " + ordinal));
                    members.add(Write.put(addressKey(network, offsetIn(records.get(network), ip)), workspace));
                }
                commitInBatches("write the imported members", guards, members, mark);
                if (!page.isMore() || page.getKvs().isEmpty()) {
                    break;
                }
                from = page.getKvs().get(page.getKvs().size() - 1).getKey().concat(ByteSequence.from(new byte[] {0}));
            }
            recordRevision = ownDeadline(() -> retrying("mark the import applied", attempt -> {
                TxnResponse done = commitResponse(txn(guards, List.of(put(COMMIT, fields[0] + " " + APPLIED))));
                if (!done.isSucceeded()) {
                    KeyValue now = first(get(key(COMMIT)));
                    if (now != null && text(now.getValue()).equals(fields[0] + " " + APPLIED)) {
                        return now.getModRevision(); // our own, whose reply was lost
                    }
                    throw lostMark(mark, "after its commit point: the next client finishes it");
                }
                return done.getHeader().getRevision();
            }));
        }
        List<Cmp> guards = List.of(mark.guard(), new Cmp(key(COMMIT), Cmp.Op.EQUAL, CmpTarget.modRevision(recordRevision)));
        deleteAll(staging, guards, mark);
        ownDeadline(() -> retrying("finish the import", attempt -> {
            if (!commit(txn(guards, List.of(Op.delete(key(COMMIT), DeleteOption.DEFAULT),
                    Op.delete(key("i"), DeleteOption.DEFAULT))))) {
                if (first(get(key(COMMIT))) == null) {
                    return Boolean.TRUE; // our own, whose reply was lost
                }
                throw lostMark(mark, "after its commit point: the next client finishes it");
            }
            return Boolean.TRUE;
        }));
        LOG.debug("import {} applied", fields[0]);
    }

    /**
     * Before an operation that found the commit record of an import: when nobody holds the import mark (the
     * importer died after its commit point), takes it and finishes the import; then the operation waits (it is
     * tried again) until the import is done.
     */
    private Retry importUnderWay(boolean markHeld) {
        if (!markHeld) {
            ImportMark mark;
            try {
                mark = tryMark(HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong()));
            } catch (Retry e) {
                return e;
            }
            if (mark != null) {
                LOG.warn("an import into etcd {} {} was committed by a client that is gone; finishing it", endpoints,
                        prefix);
                try {
                    applyCommitted(mark);
                } finally {
                    revokeLease(mark.lease);
                }
            }
        }
        return new Retry(Retry.Kind.BUSY, "another client is replacing the whole index (writeIndex)");
    }

    /** Deletes every key under {@code under}, a page of keys (one range delete) per transaction. */
    private void deleteAll(String under, List<Cmp> guards, ImportMark mark) {
        ByteSequence from = key(under);
        ByteSequence end = OptionsUtil.prefixEndOf(from);
        while (true) {
            mark.refresh();
            boolean more = ownDeadline(() -> retrying("delete " + prefix + under, attempt -> {
                GetResponse page = await(kv.get(from, GetOption.builder().withRange(end).withKeysOnly(true)
                        .withLimit(READ_PAGE).build()), "read " + prefix + under, false);
                if (page.getKvs().isEmpty()) {
                    return Boolean.FALSE;
                }
                ByteSequence last = page.getKvs().get(page.getKvs().size() - 1).getKey();
                if (!commit(txn(guards, List.of(Op.delete(from, DeleteOption.builder()
                        .withRange(last.concat(ByteSequence.from(new byte[] {0}))).build()))))) {
                    throw lostMark(mark, "while deleting " + prefix + under);
                }
                return page.isMore();
            }));
            if (!more) {
                return;
            }
        }
    }

    /** Commits {@code writes} in order, in transactions of at most maxTxnOps operations and 512 KiB, all guarded. */
    private void commitInBatches(String what, List<Cmp> guards, List<Write> writes, ImportMark mark) {
        int from = 0;
        while (from < writes.size()) {
            int to = from;
            long size = 0;
            while (to < writes.size() && to - from < Math.max(1, maxTxnOps)
                    && (to == from || size + writes.get(to).size() <= BATCH_BYTES)) {
                size += writes.get(to).size();
                to++;
            }
            List<Op> ops = writes.subList(from, to).stream().map(Write::op).toList();
            mark.refresh();
            ownDeadline(() -> retrying(what, attempt -> {
                if (!commit(txn(guards, ops))) {
                    throw lostMark(mark, "while it had to " + what);
                }
                return Boolean.TRUE;
            }));
            from = to;
        }
    }

    private NetworkException lostMark(ImportMark mark, String when) {
        return new NetworkException("writeIndex lost its import mark on etcd " + endpoints + " " + prefix + " " + when
                + ": this client stalled longer than the mark's lease (" + TimeUnit.NANOSECONDS.toSeconds(mark.ttlNanos)
                + " s), or another client took it over; an import past its commit point is finished by the next client"
                + " that finds it, one before it is dropped");
    }

    /** Runs {@code body} with deadlines of its own, not those of the operation the calling thread runs. */
    private <T> T ownDeadline(java.util.function.Supplier<T> body) {
        Long outer = operationDeadline.get();
        operationDeadline.remove();
        try {
            return body.get();
        } finally {
            if (outer != null) {
                operationDeadline.set(outer);
            }
        }
    }

    /** A compare that holds while no import is being applied (no commit record). */
    private Cmp noImportApplying() {
        return new Cmp(key(COMMIT), Cmp.Op.EQUAL, CmpTarget.createRevision(0));
    }

    /** The lowest host offset of a network that no member holds (the gateway counts as held): its first hint. */
    private static long lowestFree(NetworkRecord network) {
        java.util.Set<Long> taken = new java.util.HashSet<>();
        taken.add(offsetIn(network, network.gateway()));
        for (Member m : network.members()) {
            taken.add(offsetIn(network, m.ip()));
        }
        long o = 1;
        while (taken.contains(o)) {
            o++;
        }
        return o;
    }

    /**
     * Watches every key of the registry (etcd watch, from the revision of a read made now) on a client of its own:
     * networks created, changed and removed and members joined and left, by any client on any host, delivered in
     * order on a thread of the watch's own. A watch that cannot resume where it stopped (the revisions it missed
     * were compacted) tells its listener {@link RegistryChange.Type#RESYNC} and goes on from the present; one whose
     * member stops answering (no reply to a progress request within the request timeout), loses its leader or its
     * connection moves to the next endpoint from where it stopped, within about twice the request timeout.
     *
     * @throws NetworkException if etcd cannot be reached
     */
    @Override
    public RegistryWatch watch(Consumer<RegistryChange> listener) {
        Objects.requireNonNull(listener, "listener");
        ensureOpen();
        long revision = retrying("start a watch", attempt -> get(key("v")).getHeader().getRevision());
        EtcdWatch watch = new EtcdWatch(this, listener, revision + 1, watches::remove);
        watches.add(watch);
        watch.start();
        return watch;
    }

    /** This registry's placements, made on first use. */
    private volatile EtcdPlacements placements;

    /**
     * Returns where the fleet's members run, on this registry's client and under its prefix: host records bound to
     * each host's lease, per-member placements bound to the same lease, and VNIs recorded fleet-wide (see
     * {@link EtcdPlacements} for the keys). Closing this registry closes its placement watches and stops renewing
     * its leases.
     */
    @Override
    public PlacementRegistry placements() {
        EtcdPlacements made = placements;
        if (made == null) {
            synchronized (watches) {
                made = placements;
                if (made == null) {
                    made = new EtcdPlacements(this, client, endpointList, watches, closed);
                    placements = made;
                }
            }
        }
        return made;
    }

    /** Closes the etcd client and every watch still open. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            for (EtcdWatch w : List.copyOf(watches)) {
                w.close();
            }
            client.close();
        }
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new NetworkException("this etcd registry (" + endpoints + " " + prefix + ") is closed");
        }
    }

    // ---------------------------------------------------------------- for the watch

    String prefix() {
        return prefix;
    }

    Duration requestTimeout() {
        return timeout;
    }

    String endpointsText() {
        return endpoints;
    }

    /** A new client for a watch, with the endpoints rotated by {@code shift}, reaching the first it can. */
    Client watchClient(int shift) {
        List<String> rotated = new ArrayList<>(endpointList);
        java.util.Collections.rotate(rotated, -Math.floorMod(shift, rotated.size()));
        return clientTemplate.copy().endpoints(rotated.toArray(String[]::new)).loadBalancerPolicy("pick_first").build();
    }

    /**
     * Turns one event into registry changes; the marks, the hint and the version counter are not changes.
     *
     * @param key the key, below the prefix
     */
    List<RegistryChange> changesOf(String rest, boolean put, KeyValue kv, KeyValue previous) {
        List<RegistryChange> changes = new ArrayList<>();
        boolean hadPrevious = previous != null && previous.getVersion() > 0;
        if (rest.startsWith("n/")) {
            String name = rest.substring(2);
            if (put && !hadPrevious) {
                changes.add(new RegistryChange(RegistryChange.Type.NETWORK_CREATED, name, null));
            } else if (put) {
                NetworkRecord before = decodeNetwork(previous);
                NetworkRecord after = decodeNetwork(kv);
                if (!before.subnet().equals(after.subnet()) || !before.gateway().equals(after.gateway())) {
                    changes.add(new RegistryChange(RegistryChange.Type.NETWORK_CHANGED, name, null));
                }
            } else {
                changes.add(new RegistryChange(RegistryChange.Type.NETWORK_REMOVED, name, null));
            }
        } else if (rest.startsWith("m/")) {
            int slash = rest.indexOf('/', 2);
            String network = rest.substring(2, slash);
            String workspace = rest.substring(slash + 1);
            boolean moved = put && hadPrevious && !memberIp(previous).equals(memberIp(kv));
            if ((!put || moved) && hadPrevious) {
                changes.add(new RegistryChange(RegistryChange.Type.MEMBER_LEFT, network,
                        new Member(workspace, memberIp(previous))));
            }
            if (put && (!hadPrevious || moved)) {
                changes.add(new RegistryChange(RegistryChange.Type.MEMBER_JOINED, network,
                        new Member(workspace, memberIp(kv))));
            }
        }
        return changes;
    }

    // ---------------------------------------------------------------- etcd plumbing

    /** What an attempt knows of those before it. */
    private record Attempt(boolean uncertain, int races) {
    }

    /** One attempt of an operation: returns the result, or null when a guarded transaction lost a race. */
    @FunctionalInterface
    private interface Step<T> {
        T run(Attempt attempt) throws Retry;
    }

    /** Why an attempt must be made again: an unknown outcome, a request that got no answer, a mark held by another. */
    private static final class Retry extends Exception {
        private static final long serialVersionUID = 1L;

        enum Kind { UNKNOWN_OUTCOME, UNANSWERED, BUSY }

        final Kind kind;

        Retry(Kind kind, Throwable cause) {
            super(cause);
            this.kind = kind;
        }

        Retry(Kind kind, String why) {
            super(why);
            this.kind = kind;
        }
    }

    /**
     * Runs {@code step} until it returns a result: again after a lost race (with jitter), after a request that got
     * no answer (jetcd then tries another member), after a commit whose outcome is unknown (telling the next attempt
     * so) and while another client holds a mark — until the operation's deadline or {@code maxAttempts}.
     */
    private <T> T retrying(String what, Step<T> step) {
        ensureOpen();
        Long outer = operationDeadline.get();
        long end = outer != null ? outer : System.nanoTime() + deadline.toNanos();
        operationDeadline.set(end);
        try {
            boolean uncertain = false;
            int races = 0;
            Retry last = null;
            Retry telling = null; // the last failure that says more than "no answer in time"
            for (int i = 1; ; i++) {
                try {
                    T result = step.run(new Attempt(uncertain, races));
                    if (result != null) {
                        return result;
                    }
                    races++;
                    last = null;
                } catch (Retry e) {
                    uncertain |= e.kind == Retry.Kind.UNKNOWN_OUTCOME;
                    last = e;
                    if (!(e.getCause() instanceof TimeoutException)) {
                        telling = e;
                    }
                    LOG.debug("{}: {}; trying again", what, e.getCause() == null ? e.getMessage() : describe(e.getCause()));
                }
                long left = end - System.nanoTime();
                if (i >= maxAttempts || left <= 0) {
                    throw failure(what, i, uncertain, last, telling);
                }
                // a lost race: a little jitter; anything else: give the cluster time to settle
                long bound = last == null ? Math.min(20, 1L << Math.min(i, 5)) : Math.min(500, 20L << Math.min(i, 5));
                sleep(Math.min(TimeUnit.NANOSECONDS.toMillis(left) + 1, ThreadLocalRandom.current().nextLong(bound + 1)),
                        what);
            }
        } finally {
            if (outer == null) {
                operationDeadline.remove();
            }
        }
    }

    private void sleep(long millis, String what) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NetworkException("interrupted while trying to " + what + " on etcd " + endpoints, e);
        }
    }

    private NetworkException failure(String what, int attempts, boolean uncertain, Retry last, Retry telling) {
        String within = "could not " + what + " on etcd " + endpoints + " within its deadline of " + deadline.toMillis()
                + " ms (" + attempts + " attempt" + (attempts == 1 ? "" : "s") + ")";
        String lastWhy = last == null ? "other clients kept changing the same keys"
                : last.getCause() == null ? last.getMessage() : describe(last.getCause());
        if (telling != null && telling != last) {
            lastWhy += "; before that: " + (telling.getCause() == null ? telling.getMessage()
                    : describe(telling.getCause()));
        }
        if (lastWhy.contains("Network closed for unknown reason") && endpoints.contains("http://")) {
            lastWhy += " (a server that speaks TLS closes plain http connections so: if the server speaks TLS, use"
                    + " https:// endpoints or an etcd+https:// URI)";
        } else if (lastWhy.contains("Connection reset") && endpoints.contains("https://") && !lastWhy.contains("TLS")) {
            lastWhy += " (a server that does not speak TLS resets TLS connections so: if it does not speak TLS, use"
                    + " http:// endpoints or an etcd:// URI)";
        }
        if (uncertain) {
            return new NetworkException(within + ": the outcome is unknown — a commit's reply was lost, so the change"
                    + " may or may not have been made. Calling the same operation again is safe: a join returns the"
                    + " address it took, a create the network it made, a leave or remove finds nothing left to do."
                    + " Last error: " + lastWhy, last);
        }
        return new NetworkException(within + ": " + lastWhy, last);
    }

    /** The time left for the next request: the request timeout, or less when the operation's deadline is nearer. */
    private long requestMillis() {
        Long end = operationDeadline.get();
        long millis = timeout.toMillis();
        if (end != null) {
            millis = Math.min(millis, TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime()));
        }
        return Math.max(1, millis);
    }

    private GetResponse get(ByteSequence key) throws Retry {
        return get(key, GetOption.DEFAULT);
    }

    private GetResponse get(ByteSequence key, GetOption option) throws Retry {
        return await(kv.get(key, option), "read " + text(key), false);
    }

    /** Keys read in pages at one revision, and that revision. */
    private record Range(List<KeyValue> keys, long revision) {
    }

    /**
     * Reads every key under {@code under} in pages of {@value #READ_PAGE}, all at {@code revision} (0: now, and
     * the rest at the revision of the first page), so that no reply is too big and the whole is one view.
     */
    private Range readRange(String under, long revision) throws Retry {
        return readRange(under, revision, null);
    }

    /** As {@link #readRange(String, long)}, with its first page already read (at {@code revision}) when not null. */
    private Range readRange(String under, long revision, GetResponse firstPage) throws Retry {
        ByteSequence from = key(under);
        List<KeyValue> keys = new ArrayList<>();
        long at = revision;
        GetResponse prefetched = firstPage;
        while (true) {
            GetResponse page = prefetched != null ? prefetched
                    : await(kv.get(from, pageOf(under, at)), "read " + prefix + under, false);
            prefetched = null;
            if (at <= 0) {
                at = page.getHeader().getRevision();
            }
            keys.addAll(page.getKvs());
            if (!page.isMore() || page.getKvs().isEmpty()) {
                return new Range(keys, at);
            }
            ByteSequence lastKey = page.getKvs().get(page.getKvs().size() - 1).getKey();
            from = lastKey.concat(ByteSequence.from(new byte[] {0}));
        }
    }

    /** One page of a range read under {@code under}, at {@code revision} (0: now). */
    private GetOption pageOf(String under, long revision) {
        GetOption.Builder option = GetOption.builder().withRange(OptionsUtil.prefixEndOf(key(under))).withLimit(READ_PAGE);
        if (revision > 0) {
            option.withRevision(revision);
        }
        return option.build();
    }

    /** Reads several keys or ranges in one round trip, at one revision (a transaction of reads only). */
    private List<GetResponse> readTogether(Op... reads) throws Retry {
        // reading has no effect, so a reply lost costs only the time
        return await(kv.txn().Then(reads).commit(), "read the registry", false).getGetResponses();
    }

    private boolean commit(Txn txn) throws Retry {
        return commitResponse(txn).isSucceeded();
    }

    private TxnResponse commitResponse(Txn txn) throws Retry {
        beforeCommit.run();
        return await(replies.apply(txn.commit()), "commit a transaction", true);
    }

    private Txn txn(List<Cmp> compares, List<Op> ops) {
        return kv.txn().If(compares.toArray(Cmp[]::new)).Then(ops.toArray(Op[]::new));
    }

    private <T> T await(CompletableFuture<T> future, String what, boolean isCommit) throws Retry {
        long millis = requestMillis();
        try {
            return future.get(millis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            throw new NetworkException("interrupted while waiting to " + what + " on etcd " + endpoints, e);
        } catch (TimeoutException e) {
            future.cancel(true);
            throw new Retry(isCommit ? Retry.Kind.UNKNOWN_OUTCOME : Retry.Kind.UNANSWERED,
                    new TimeoutException("no answer within " + millis + " ms when asked to " + what
                            + " (no quorum, the member is stalled, or it is unreachable)"));
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            String text = describe(cause);
            if (EtcdFailures.isCredentials(text)) {
                throw new NetworkException("etcd " + endpoints + " refused to " + what
                        + ": wrong or missing credentials (" + text + ")", cause);
            }
            if (EtcdFailures.isTooBig(text)) {
                throw new NetworkException("etcd " + endpoints + " refused to " + what + ": " + text
                        + " — the request or its reply exceeds a server limit (--max-request-bytes, --max-txn-ops);"
                        + " raise it on the servers, or set maxTxnOps (URI max-txn-ops) no higher than their"
                        + " --max-txn-ops (default 128)",
                        cause);
            }
            if (text.contains("required revision has been compacted")) {
                // a read at the revision of an import's commit point, compacted since: wait for the import to end
                throw new Retry(Retry.Kind.BUSY, cause);
            }
            if (EtcdFailures.isTransient(text) || EtcdFailures.tls(cause) != null) {
                throw new Retry(isCommit ? Retry.Kind.UNKNOWN_OUTCOME : Retry.Kind.UNANSWERED, cause);
            }
            throw new NetworkException("etcd " + endpoints + " failed to " + what + ": " + text, cause);
        }
    }

    /** The failure in words: what TLS refused, when it was TLS, then the chain of messages. */
    private static String describe(Throwable t) {
        String tls = EtcdFailures.tls(t);
        StringBuilder out = new StringBuilder(tls == null ? "" : tls + " — ");
        int start = out.length();
        for (Throwable c = t; c != null && out.length() < 600; c = c.getCause()) {
            if (out.length() > start) {
                out.append(": ");
            }
            out.append(c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage());
        }
        return CHANNEL_PIPELINE.matcher(out).replaceAll("");
    }

    /** A member key's value: {@code <ip>}, or {@code <ip> <ordinal>} when written by {@link #writeIndex}. */
    private static Ipv4Address memberIp(KeyValue member) {
        String value = text(member.getValue());
        int space = value.indexOf(' ');
        return Ipv4Address.parse(space < 0 ? value : value.substring(0, space));
    }

    private static int ordinal(KeyValue member) {
        String value = text(member.getValue());
        int space = value.indexOf(' ');
        return space < 0 ? 0 : Integer.parseInt(value.substring(space + 1));
    }

    private static KeyValue first(GetResponse response) {
        return response.getKvs().isEmpty() ? null : response.getKvs().get(0);
    }

    private static long modRevision(GetResponse response) {
        KeyValue kv = first(response);
        return kv == null ? 0 : kv.getModRevision();
    }

    private ByteSequence key(String suffix) {
        return bytes(prefix + suffix);
    }

    private ByteSequence memberKey(String network, String workspace) {
        return key("m/" + network + "/" + workspace);
    }

    private Op put(String suffix, String value) {
        return Op.put(key(suffix), bytes(value), PutOption.DEFAULT);
    }

    private static ByteSequence bytes(String text) {
        return ByteSequence.from(text, StandardCharsets.UTF_8);
    }

    static String text(ByteSequence bytes) {
        return bytes.toString(StandardCharsets.UTF_8);
    }

    private static String encodeNetwork(NetworkRecord n) {
        return n.subnet() + " " + n.gateway() + " " + (n.createdAtText() == null ? "-" : n.createdAtText());
    }

    private static String[] networkFields(ByteSequence key, ByteSequence bytes) {
        String value = text(bytes);
        if (value.startsWith(REMOVING)) {
            value = value.substring(REMOVING.length());
        }
        String[] parts = value.split(" ");
        if (parts.length != 3) {
            throw new NetworkException("etcd key " + text(key) + " is not a tapwire network record; expected"
                    + " \"<subnet> <gateway> <created_at or ->\"");
        }
        return parts;
    }

    private NetworkRecord decodeNetwork(KeyValue kv) {
        return decodeNetwork(kv.getKey(), kv.getValue());
    }

    private NetworkRecord decodeNetwork(ByteSequence key, ByteSequence value) {
        String name = text(key).substring(prefix.length() + 2);
        String[] parts = networkFields(key, value);
        return NetworkRecord.fromJson(name, Ipv4Subnet.parse(parts[0]), Ipv4Address.parse(parts[1]),
                parts[2].equals("-") ? null : parts[2], List.of());
    }

    private static NetworkNotFoundException notFound(String name) {
        return new NetworkNotFoundException("network \"" + name + "\" not found");
    }

    /** Sets up an {@link EtcdNetworkRegistry}: prefix, allocation, timeouts, retries, credentials, TLS. */
    public static final class Builder {
        private final List<String> endpoints;
        private String prefix = DEFAULT_PREFIX;
        private Ipv4Subnet pool = DEFAULT_POOL;
        private int subnetPrefix = 24;
        private Duration timeout = Duration.ofSeconds(5);
        private Duration deadline;
        private int maxAttempts = Integer.MAX_VALUE;
        private int maxTxnOps = 128;
        private Clock clock = Clock.systemUTC();
        private String user;
        private String password;
        private boolean tls;
        private Consumer<ClientBuilder> customizer = b -> { };
        private UnaryOperator<CompletableFuture<TxnResponse>> replies = UnaryOperator.identity();
        private Runnable beforeCommit = () -> { };

        private Builder(List<String> endpoints) {
            this.endpoints = endpoints;
        }

        /**
         * Sets the key prefix every key lives under.
         *
         * @param keyPrefix e.g. {@code /tapwire/}; must start and end with {@code /}
         * @return this builder
         * @throws InvalidNetworkSpecException if it does not start and end with {@code /}
         */
        public Builder prefix(String keyPrefix) {
            if (keyPrefix == null || !keyPrefix.startsWith("/") || !keyPrefix.endsWith("/")) {
                throw new InvalidNetworkSpecException("etcd key prefix \"" + keyPrefix + "\" must start and end with"
                        + " '/', e.g. /tapwire/");
            }
            this.prefix = keyPrefix;
            return this;
        }

        /**
         * Sets the pool auto-allocated subnets come from; its first block is never used. A pool outside the private
         * ranges is accepted with a warning; one that holds {@code 0.0.0.0/8}, loopback or multicast is refused when
         * the registry is built.
         *
         * @param subnetPool e.g. {@code 10.44.0.0/16}
         * @return this builder
         */
        public Builder subnetPool(Ipv4Subnet subnetPool) {
            this.pool = Objects.requireNonNull(subnetPool, "subnetPool");
            return this;
        }

        /**
         * Sets the prefix length of auto-allocated subnets.
         *
         * @param length e.g. 24; longer than the pool's and at most 30
         * @return this builder
         */
        public Builder subnetPrefix(int length) {
            this.subnetPrefix = length;
            return this;
        }

        /**
         * Sets how long one request may wait for its answer before it is tried again (on another member; a commit
         * then has an unknown outcome).
         *
         * @param requestTimeout e.g. 5 seconds; positive
         * @return this builder
         * @throws InvalidNetworkSpecException if it is not positive
         */
        public Builder timeout(Duration requestTimeout) {
            this.timeout = positive(requestTimeout, "request timeout");
            return this;
        }

        /**
         * Sets the deadline of each operation: all its requests and retries end within it, then it fails saying why
         * (and whether its outcome is unknown). Default: twice the request timeout.
         *
         * @param operationDeadline e.g. 10 seconds; positive
         * @return this builder
         * @throws InvalidNetworkSpecException if it is not positive
         */
        public Builder deadline(Duration operationDeadline) {
            this.deadline = positive(operationDeadline, "deadline");
            return this;
        }

        private static Duration positive(Duration d, String what) {
            Objects.requireNonNull(d, what);
            if (d.isNegative() || d.isZero()) {
                throw new InvalidNetworkSpecException("the etcd registry's " + what + " must be positive, not " + d);
            }
            return d;
        }

        /**
         * Sets how often an operation is tried at most within its deadline (lost races, unknown outcomes, members
         * that do not answer). Default: no limit but the deadline.
         *
         * @param attempts at least 1
         * @return this builder
         */
        public Builder maxAttempts(int attempts) {
            this.maxAttempts = Math.max(1, attempts);
            return this;
        }

        /**
         * Sets how many operations one transaction may hold: the servers' {@code --max-txn-ops} (default 128).
         * {@link EtcdNetworkRegistry#writeIndex} splits an import into transactions of at most this many.
         *
         * @param ops the limit
         * @return this builder
         */
        public Builder maxTxnOps(int ops) {
            this.maxTxnOps = ops;
            return this;
        }

        /**
         * Sets user name and password for etcd's authentication. Over plain {@code http://} endpoints the password
         * travels in clear: a warning is logged then.
         *
         * @param userName the user
         * @param secret the password
         * @return this builder
         */
        public Builder credentials(String userName, String secret) {
            this.user = Objects.requireNonNull(userName, "userName");
            this.password = Objects.requireNonNull(secret, "secret");
            return this;
        }

        /**
         * Lets the caller set anything else jetcd's {@link ClientBuilder} offers — a TLS context with client
         * certificates ({@code sslContext}), keep-alive, authority.
         *
         * @param customize changes the client builder
         * @return this builder
         */
        public Builder client(Consumer<ClientBuilder> customize) {
            this.customizer = Objects.requireNonNull(customize, "customize");
            return this;
        }

        /** Runs {@code hook} just before each commit is sent, for the tests that cut or freeze a member. */
        Builder beforeCommit(Runnable hook) {
            this.beforeCommit = Objects.requireNonNull(hook, "hook");
            return this;
        }

        /** Replaces what callers see of commit replies, for the tests that lose a reply after the commit. */
        Builder interceptReplies(UnaryOperator<CompletableFuture<TxnResponse>> interceptor) {
            this.replies = Objects.requireNonNull(interceptor, "interceptor");
            return this;
        }

        /**
         * Sets the clock {@code created_at} is read from.
         *
         * @param source the clock
         * @return this builder
         */
        public Builder clock(Clock source) {
            this.clock = Objects.requireNonNull(source, "source");
            return this;
        }

        /**
         * Connects the client (lazily: the first operation reaches the cluster) and builds the registry.
         *
         * @return the registry; close it to release the client and its watches
         * @throws InvalidNetworkSpecException if the pool or subnet prefix cannot be right, or an endpoint is bad
         */
        public EtcdNetworkRegistry build() {
            RegistryRules.requirePrefixFitsPool(pool, subnetPrefix);
            EtcdUris.checkPool(pool);
            boolean plain = false;
            for (String endpoint : endpoints) {
                boolean https = endpoint.startsWith("https://");
                if (!(https || endpoint.startsWith("http://")) || endpoint.length() <= (https ? 8 : 7)) {
                    throw new InvalidNetworkSpecException("etcd endpoint \"" + endpoint + "\" must be an http:// or"
                            + " https:// URL with a host, e.g. http://127.0.0.1:2379");
                }
                tls |= https;
                plain |= !https;
            }
            if (password != null && plain && !tls) {
                LOG.warn("the etcd registry's password travels in clear over plain http to {}; use https",
                        String.join(",", endpoints));
            }
            ClientBuilder builder = Client.builder().endpoints(endpoints.toArray(String[]::new))
                    .connectTimeout(timeout)
                    // a call fails at once on a connection that cannot be made (with its cause: TLS, refused) and
                    // is tried again within the deadline, instead of waiting out the timeout without a word
                    .waitForReady(false)
                    // a member that stops answering (frozen, black-holed) is found out within ~15 s, not 40 s
                    .keepaliveTime(Duration.ofSeconds(10)).keepaliveTimeout(Duration.ofSeconds(5))
                    .keepaliveWithoutCalls(true);
            if (user != null) {
                builder.user(bytes(user)).password(bytes(password == null ? "" : password));
            }
            if (tls) {
                try {
                    builder.sslContext(b -> { });
                } catch (javax.net.ssl.SSLException e) {
                    throw new NetworkException("cannot set up TLS for etcd " + endpoints + ": " + e.getMessage(), e);
                }
            }
            customizer.accept(builder);
            return new EtcdNetworkRegistry(this, builder.copy().build(), builder);
        }
    }
}
