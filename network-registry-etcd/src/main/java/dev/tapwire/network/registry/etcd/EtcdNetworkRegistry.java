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
import dev.tapwire.network.RegistryChange;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.SubnetOverlapException;
import dev.tapwire.network.spi.RegistryRules;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.ClientBuilder;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.OptionsUtil;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.etcd.jetcd.watch.WatchResponse;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
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
 *   <li>{@code m/<network>/<workspace>} → {@code <ip>}: one per member (join order = creation revision;
 *   {@code <ip> <ordinal>} when {@link #writeIndex} wrote many in one transaction);</li>
 *   <li>{@code a/<network>/<offset>} → {@code <workspace>}: one per address held (the host offset in eight hex
 *   digits, so keys sort as addresses do), so no address is held twice;</li>
 *   <li>{@code h/<network>} → an offset below which every host is taken (raised by a join that found a page of
 *   taken hosts from it, guarded by each of their keys; lowered by a leave below it): a join reads a page of
 *   address keys from there, not all of them, so it costs about the same at 100 or 100,000 members;</li>
 *   <li>{@code v} → a counter bumped by every create and remove, so no two subnets overlap.</li>
 * </ul>
 * A join writes two keys, not the whole index. Every change is one etcd transaction guarded by revision
 * compares (optimistic concurrency): two hosts can never take one address or overlapping subnets; a lost
 * race is retried with jitter, at most {@link Builder#maxAttempts(int)} times, then fails with a clear error.
 *
 * <p>A transaction whose reply is lost (a timeout or {@code UNAVAILABLE} after the commit) may or may not
 * have been applied; jetcd does not retry writes. The operation is then run again from a fresh read: a join
 * finds its own member key and returns that address, a create finds its own network (same subnet and
 * creation time), a leave or remove finds nothing left to do. Nothing leaks and nothing is handed out twice.
 *
 * <p>Removing a network first marks it ({@code removing}) so that no join can commit meanwhile, then deletes
 * it with its members — or, while it has members and {@code force} is false, unmarks it and fails.
 */
public final class EtcdNetworkRegistry implements NetworkRegistry, AutoCloseable {

    /** The default key prefix. */
    public static final String DEFAULT_PREFIX = "/tapwire/";
    /** The default pool auto-allocated subnets come from. */
    public static final Ipv4Subnet DEFAULT_POOL = Ipv4Subnet.parse("10.44.0.0/16");

    private static final Logger LOG = LoggerFactory.getLogger(EtcdNetworkRegistry.class);
    private static final String REMOVING = "removing ";
    /** Address keys read per request when looking for a free host. */
    private static final int PAGE = 64;
    /**
     * How many free hosts, lowest first, one join transaction tries in turn (nested transactions): enough for
     * a burst of concurrent joiners that read the same state to all succeed in their first round trip.
     */
    private static final int CANDIDATES = 16;

    private final Client client;
    private final KV kv;
    private final String prefix;
    private final Ipv4Subnet pool;
    private final int subnetPrefix;
    private final Duration timeout;
    private final int maxAttempts;
    private final int maxTxnOps;
    private final Clock clock;
    private final String endpoints;
    /**
     * The hint and its revision as this client last read it, per network: where the next join's prefetched page of
     * address keys starts, and what a one-round-trip leave is guarded by.
     */
    private final ConcurrentMap<String, HintSeen> hints = new ConcurrentHashMap<>();
    /** The members this client joined, by "network/workspace": a leave of one needs no read first. */
    private final ConcurrentMap<String, MemberSeen> members = new ConcurrentHashMap<>();

    private record HintSeen(long value, long modRevision) {
    }

    private record MemberSeen(Ipv4Address ip, long offset) {
    }
    /** What the caller sees of each commit's reply; a seam for the tests that lose replies. */
    private final UnaryOperator<CompletableFuture<TxnResponse>> replies;
    /** Runs just before each commit is sent; a seam for the test that cuts the connection after a commit. */
    private final Runnable beforeCommit;

    private EtcdNetworkRegistry(Builder b, Client client) {
        this.client = client;
        this.kv = client.getKVClient();
        this.prefix = b.prefix;
        this.pool = b.pool;
        this.subnetPrefix = b.subnetPrefix;
        this.timeout = b.timeout;
        this.maxAttempts = b.maxAttempts;
        this.maxTxnOps = b.maxTxnOps;
        this.clock = b.clock;
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
     * Opens the registry an {@code etcd:} URI names: {@code etcd://h1:2379,h2:2379/prefix} (plain HTTP), or
     * {@code etcd+https://...} for TLS with the JVM's trust store. The path is the key prefix (default
     * {@value #DEFAULT_PREFIX}); query parameters: {@code user}, {@code password}, {@code timeout} (e.g.
     * {@code 5s}), {@code pool} and {@code subnet-prefix} (the size of auto-allocated subnets).
     *
     * @param uri the URI
     * @return the registry
     * @throws InvalidNetworkSpecException if the URI is malformed, saying what is accepted
     */
    public static EtcdNetworkRegistry fromUri(URI uri) {
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        boolean tls = scheme.equals("etcd+https");
        String authority = uri.getRawAuthority();
        if (!(scheme.equals("etcd") || tls) || authority == null || authority.isEmpty()) {
            throw new InvalidNetworkSpecException("registry URI \"" + uri + "\" is not an etcd URI; expected"
                    + " etcd://host:2379[,host:2379...][/prefix/][?user=..&password=..&timeout=5s]");
        }
        List<String> endpoints = new ArrayList<>();
        for (String hostPort : authority.split(",")) {
            endpoints.add((tls ? "https://" : "http://") + hostPort);
        }
        Builder b = builder(endpoints.toArray(String[]::new));
        String path = uri.getPath();
        if (path != null && !path.isEmpty() && !path.equals("/")) {
            b.prefix(path.endsWith("/") ? path : path + "/");
        }
        for (Map.Entry<String, String> p : RegistryRules.parameters(uri, "user", "password", "timeout", "pool",
                "subnet-prefix").entrySet()) {
            String value = p.getValue();
            switch (p.getKey()) {
                case "user" -> b.user = value;
                case "password" -> b.password = value;
                case "timeout" -> b.timeout(parseDuration(value, uri));
                case "pool" -> b.subnetPool(Ipv4Subnet.parse(value));
                default -> b.subnetPrefix(RegistryRules.subnetPrefix(uri, value));
            }
        }
        b.tls = tls;
        return b.build();
    }

    private static Duration parseDuration(String value, URI uri) {
        try {
            if (value.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(value.substring(0, value.length() - 2)));
            }
            if (value.endsWith("s")) {
                return Duration.ofSeconds(Long.parseLong(value.substring(0, value.length() - 1)));
            }
            return Duration.ofSeconds(Long.parseLong(value));
        } catch (NumberFormatException e) {
            throw new InvalidNetworkSpecException("registry URI \"" + uri + "\": timeout \"" + value
                    + "\" is not a duration; expected e.g. 5s or 500ms", e);
        }
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
        return retrying("create network " + name, (uncertain, races) -> {
            // the version first: a create or remove after this read changes it, and the guarded commit then fails
            long version = modRevision(get(key("v"), false));
            GetResponse networks = get(key("n/"), true);
            List<NetworkRecord> existing = new ArrayList<>();
            for (KeyValue kv : networks.getKvs()) {
                existing.add(decodeNetwork(kv));
            }
            Optional<NetworkRecord> same = existing.stream().filter(n -> n.name().equals(name)).findFirst();
            if (same.isPresent()) {
                if (uncertain && Objects.equals(same.get().createdAt(), createdAt)
                        && (explicit == null || same.get().subnet().equals(explicit))) {
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
                            new Cmp(key("n/" + name), Cmp.Op.EQUAL, CmpTarget.createRevision(0))),
                    List.of(put("n/" + name, encodeNetwork(created)), put("v", Long.toString(version + 1)))));
            return done ? created : null;
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
        retrying("remove network " + name, (uncertain, races) -> {
            KeyValue network = first(get(key("n/" + name), false));
            if (network == null) {
                if (uncertain) {
                    return Boolean.TRUE; // our own remove, whose reply was lost
                }
                throw notFound(name);
            }
            String value = text(network.getValue());
            String marked = value.startsWith(REMOVING) ? value : REMOVING + value;
            long markedRevision = network.getModRevision();
            if (!value.startsWith(REMOVING)) { // no join can commit once the network key has changed
                TxnResponse mark = commitResponse(txn(List.of(new Cmp(key("n/" + name), Cmp.Op.EQUAL,
                        CmpTarget.modRevision(network.getModRevision()))), List.of(put("n/" + name, marked))));
                if (!mark.isSucceeded()) {
                    return null;
                }
                markedRevision = mark.getPutResponses().get(0).getHeader().getRevision();
            }
            GetResponse members = get(key("m/" + name + "/"), true);
            if (!members.getKvs().isEmpty() && !force) {
                List<String> workspaces = members.getKvs().stream()
                        .sorted(Comparator.comparingLong(KeyValue::getCreateRevision))
                        .map(kv -> text(kv.getKey()).substring(key("m/" + name + "/").size())).toList();
                commit(txn(List.of(new Cmp(key("n/" + name), Cmp.Op.EQUAL, CmpTarget.modRevision(markedRevision))),
                        List.of(put("n/" + name, value.startsWith(REMOVING) ? value.substring(REMOVING.length())
                                : value))));
                throw new NetworkInUseException(name, workspaces);
            }
            long version = modRevision(get(key("v"), false));
            return commit(txn(List.of(
                            new Cmp(key("n/" + name), Cmp.Op.EQUAL, CmpTarget.modRevision(markedRevision)),
                            new Cmp(key("v"), Cmp.Op.EQUAL, CmpTarget.modRevision(version))),
                    // members first, then the network: a watch sees them leave before it goes
                    List.of(Op.delete(key("m/" + name + "/"), DeleteOption.builder().isPrefix(true).build()),
                            Op.delete(key("a/" + name + "/"), DeleteOption.builder().isPrefix(true).build()),
                            Op.delete(key("h/" + name), DeleteOption.DEFAULT),
                            Op.delete(key("n/" + name), DeleteOption.DEFAULT),
                            put("v", Long.toString(version + 1))))) ? Boolean.TRUE : null;
        });
    }

    @Override
    public Ipv4Address join(String network, String workspace) {
        String ws = RegistryRules.requireWorkspace(workspace);
        return retrying("join " + ws + " to network " + network, (uncertain, races) -> {
            // one round trip: the network, this member, the hint, and a page of address keys from the hint this
            // client saw last (used only if it is not above the hint read now)
            HintSeen last = hints.get(network);
            long guess = last == null ? 1 : last.value();
            List<GetResponse> seen = readTogether(Op.get(key("n/" + network), GetOption.DEFAULT),
                    Op.get(memberKey(network, ws), GetOption.DEFAULT), Op.get(key("h/" + network), GetOption.DEFAULT),
                    Op.get(addressKey(network, guess), pageFrom(network)));
            KeyValue networkKv = first(seen.get(0));
            if (networkKv == null) {
                throw notFound(network);
            }
            if (text(networkKv.getValue()).startsWith(REMOVING)) {
                throw new NetworkNotFoundException("network \"" + network + "\" is being removed");
            }
            KeyValue mine = first(seen.get(1));
            if (mine != null) {
                return memberIp(mine); // a re-join, or our own join whose reply was lost
            }
            KeyValue hintKv = first(seen.get(2));
            NetworkRecord record = decodeNetwork(networkKv);
            long hint = hintKv == null ? 1 : Long.parseLong(text(hintKv.getValue()));
            List<Long> run = new ArrayList<>();
            List<Long> free = freeOffsets(record, hint, guess <= hint ? seen.get(3) : null, CANDIDATES, run);
            hints.put(network, new HintSeen(hint, hintKv == null ? 0 : hintKv.getModRevision()));
            List<Cmp> guards = new ArrayList<>();
            List<Op> raise = new ArrayList<>();
            long raisedTo = -1;
            if (run.size() >= PAGE) {
                // a page or more of hosts from the hint on is taken: take the first free one and raise the hint
                // past that page, guarded by the hint and by each of those keys (a leave of one of them meanwhile
                // makes this start over)
                free = free.subList(0, 1);
                List<Long> checked = run.subList(0, PAGE);
                guards.add(new Cmp(key("h/" + network), Cmp.Op.EQUAL,
                        CmpTarget.modRevision(hintKv == null ? 0 : hintKv.getModRevision())));
                for (long taken : checked) {
                    guards.add(new Cmp(addressKey(network, taken), Cmp.Op.GREATER, CmpTarget.version(0)));
                }
                raisedTo = checked.get(checked.size() - 1) + 1;
                raise.add(put("h/" + network, Long.toString(raisedTo)));
            }
            TxnResponse response = commitResponse(firstFreeTxn(network, ws, record, networkKv, free, guards, raise));
            for (int i = 0; response != null; i++) {
                if (response.isSucceeded()) {
                    long offset = free.get(i);
                    Ipv4Address ip = record.subnet().networkAddress().plus(offset);
                    members.put(network + "/" + ws, new MemberSeen(ip, offset));
                    if (raisedTo >= 0) { // the keys a transaction writes get its revision
                        hints.put(network, new HintSeen(raisedTo, response.getHeader().getRevision()));
                    }
                    LOG.debug("workspace {} joins network {} as {} (candidate {} of {})", ws, network, ip, i + 1,
                            free.size());
                    return ip;
                }
                List<TxnResponse> nested = response.getTxnResponses();
                response = nested.isEmpty() ? null : nested.get(0);
            }
            return null; // every candidate was taken meanwhile (or the network, the member or the hint changed)
        });
    }

    /**
     * Returns one transaction that takes the first of {@code free} still free when etcd applies it: a chain of
     * nested transactions, each guarded by the network, the member's absence, one candidate's absence and
     * {@code guards}, the next tried in the else branch of the one before. Concurrent joiners that read the same
     * free hosts then line up on them inside etcd instead of all but one losing and reading again. The response
     * of level {@code i} (the top one, or the only nested one of level {@code i - 1}) says whether candidate
     * {@code i} was taken.
     */
    private io.etcd.jetcd.Txn firstFreeTxn(String network, String ws, NetworkRecord record, KeyValue networkKv,
            List<Long> free, List<Cmp> guards, List<Op> extra) {
        Op.TxnOp next = null;
        for (int i = free.size() - 1; i >= 1; i--) {
            next = Op.txn(joinCompares(network, ws, networkKv, free.get(i), guards),
                    joinPuts(network, ws, record, free.get(i), extra), next == null ? new Op[0] : new Op[] {next});
        }
        io.etcd.jetcd.Txn txn = kv.txn().If(joinCompares(network, ws, networkKv, free.get(0), guards))
                .Then(joinPuts(network, ws, record, free.get(0), extra));
        return next == null ? txn : txn.Else(next);
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
            List<Long> run) {
        List<Long> free = new ArrayList<>(count);
        boolean broken = false;
        Ipv4Subnet subnet = record.subnet();
        long size = subnet.size();
        long gateway = record.gateway().toLong() - subnet.networkAddress().toLong();
        long end = subnet.prefixLength() < 31 ? size - 1 : size; // the broadcast address is no host
        long o = Math.max(1, hint);
        String network = record.name();
        GetResponse page = prefetched;
        while (o < end) {
            if (page == null) {
                page = await(kv.get(addressKey(network, o), pageFrom(network)), "read addresses of " + network, false);
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
            if (!page.isMore()) {
                break;
            }
            page = null;
        }
        for (; o < end && free.size() < count; o++) {
            if (o != gateway) {
                free.add(o);
            }
        }
        if (!free.isEmpty()) {
            return free;
        }
        throw new AddressExhaustedException("network " + network + " (" + subnet + ") has no free address left: all "
                + (subnet.hostCount() - 1) + " hosts besides the gateway are taken");
    }

    /** Reads a page of address keys (keys only) from a start key to the end of the network's address keys. */
    private GetOption pageFrom(String network) {
        return GetOption.builder().withKeysOnly(true).withRange(OptionsUtil.prefixEndOf(key("a/" + network + "/")))
                .withLimit(PAGE).build();
    }

    /** An address key: the host offset in eight hex digits, so that keys sort as addresses do. */
    private ByteSequence addressKey(String network, long offset) {
        return key("a/" + network + "/" + String.format("%08x", offset));
    }

    private ByteSequence addressKey(String network, Ipv4Subnet subnet, Ipv4Address ip) {
        return key("a/" + network + "/" + String.format("%08x", ip.toLong() - subnet.networkAddress().toLong()));
    }

    private static long offsetOf(KeyValue addressKv) {
        String k = text(addressKv.getKey());
        return Long.parseLong(k.substring(k.length() - 8), 16);
    }

    /** Reads several keys or ranges in one round trip, at one revision (a transaction of reads only). */
    private List<GetResponse> readTogether(Op... reads) throws OutcomeUnknownException {
        try {
            // a transaction is not retried by jetcd as a get is: a lost leader or connection makes the
            // operation start over (reading has no effect, so "uncertain" costs nothing)
            return await(kv.txn().Then(reads).commit(), "read the registry", true).getGetResponses();
        } catch (UncertainCommit e) {
            throw new OutcomeUnknownException(e.getCause());
        }
    }

    @Override
    public void leave(String network, String workspace) {
        String ws = RegistryRules.requireWorkspace(workspace);
        String member = network + "/" + ws;
        retrying("leave " + ws + " from network " + network, (uncertain, races) -> {
            List<GetResponse> seen = null;
            MemberSeen known = members.get(member);
            HintSeen hintSeen = hints.get(network);
            if (known != null && hintSeen != null && races == 0 && !uncertain) {
                // one round trip when this client knows the member's address and the hint: guarded by both, with the
                // reads the slow path needs as the else branch
                List<Op> ops = leaveOps(network, ws, known.offset(), hintSeen.value());
                TxnResponse fast = commitResponse(kv.txn().If(
                                new Cmp(memberKey(network, ws), Cmp.Op.EQUAL, CmpTarget.value(bytes(known.ip().toString()))),
                                // the address key at that offset is this member's (not another subnet's after a
                                // remove and re-create)
                                new Cmp(addressKey(network, known.offset()), Cmp.Op.EQUAL, CmpTarget.value(bytes(ws))),
                                new Cmp(key("h/" + network), Cmp.Op.EQUAL, CmpTarget.modRevision(hintSeen.modRevision())))
                        .Then(ops.toArray(Op[]::new))
                        .Else(Op.get(memberKey(network, ws), GetOption.DEFAULT),
                                Op.get(key("n/" + network), GetOption.DEFAULT),
                                Op.get(key("h/" + network), GetOption.DEFAULT)));
                if (fast.isSucceeded()) {
                    members.remove(member);
                    if (known.offset() < hintSeen.value()) { // we lowered it
                        hints.put(network, new HintSeen(known.offset(), fast.getHeader().getRevision()));
                    }
                    return Boolean.TRUE;
                }
                seen = fast.getGetResponses();
            }
            if (seen == null) {
                seen = readTogether(Op.get(memberKey(network, ws), GetOption.DEFAULT),
                        Op.get(key("n/" + network), GetOption.DEFAULT), Op.get(key("h/" + network), GetOption.DEFAULT));
            }
            KeyValue memberKv = first(seen.get(0));
            KeyValue networkKv = first(seen.get(1));
            if (memberKv == null || networkKv == null) {
                members.remove(member);
                return Boolean.TRUE;
            }
            KeyValue hintKv = first(seen.get(2));
            NetworkRecord record = decodeNetwork(networkKv);
            long offset = memberIp(memberKv).toLong() - record.subnet().networkAddress().toLong();
            long hint = hintKv == null ? 1 : Long.parseLong(text(hintKv.getValue()));
            hints.put(network, new HintSeen(hint, hintKv == null ? 0 : hintKv.getModRevision()));
            // the hint is compared even when it is not written: a join that raised it past this host after it was
            // read must make this leave start over (and lower it)
            TxnResponse committed = commitResponse(txn(List.of(
                            new Cmp(memberKey(network, ws), Cmp.Op.EQUAL, CmpTarget.modRevision(memberKv.getModRevision())),
                            new Cmp(key("h/" + network), Cmp.Op.EQUAL,
                                    CmpTarget.modRevision(hintKv == null ? 0 : hintKv.getModRevision()))),
                    leaveOps(network, ws, offset, hint)));
            boolean done = committed.isSucceeded();
            if (done) {
                members.remove(member);
                if (offset < hint) { // we lowered it
                    hints.put(network, new HintSeen(offset, committed.getHeader().getRevision()));
                }
            }
            return done ? Boolean.TRUE : null;
        });
    }

    /** Deletes a member and its address, and lowers the hint when the address freed lies below it. */
    private List<Op> leaveOps(String network, String ws, long offset, long hint) {
        List<Op> ops = new ArrayList<>(List.of(Op.delete(memberKey(network, ws), DeleteOption.DEFAULT),
                Op.delete(addressKey(network, offset), DeleteOption.DEFAULT)));
        if (offset < hint) {
            ops.add(put("h/" + network, Long.toString(offset)));
        }
        return ops;
    }

    @Override
    public void leaveAll(String workspace) {
        String ws = RegistryRules.requireWorkspace(workspace);
        for (NetworkRecord n : readIndex().networks()) {
            if (n.member(ws).isPresent()) {
                leave(n.name(), ws);
            }
        }
    }

    /**
     * Returns the whole index as one consistent view (one read at one revision), sorted as the file registry
     * sorts it, members in join order: the same {@link NetworkIndex}, and so the same JSON, as the file
     * registry gives for the same networks.
     */
    @Override
    public NetworkIndex readIndex() {
        GetResponse all = get(key(""), true);
        List<KeyValue> networks = new ArrayList<>();
        List<KeyValue> members = new ArrayList<>();
        String n = prefix + "n/";
        String m = prefix + "m/";
        for (KeyValue kv : all.getKvs()) {
            String k = text(kv.getKey());
            if (k.startsWith(n)) {
                networks.add(kv);
            } else if (k.startsWith(m)) {
                members.add(kv);
            }
        }
        // join order: creation revision, then the ordinal writeIndex gives the members one transaction made
        members.sort(Comparator.comparingLong(KeyValue::getCreateRevision).thenComparingInt(EtcdNetworkRegistry::ordinal));
        Map<String, List<Member>> byNetwork = new HashMap<>();
        for (KeyValue mk : members) { // m/<network>/<workspace>: network names hold no '/'
            String rest = text(mk.getKey()).substring(m.length());
            int slash = rest.indexOf('/');
            byNetwork.computeIfAbsent(rest.substring(0, slash), k -> new ArrayList<>())
                    .add(new Member(rest.substring(slash + 1), memberIp(mk)));
        }
        List<NetworkRecord> records = new ArrayList<>();
        for (KeyValue kv : networks) {
            NetworkRecord network = decodeNetwork(kv);
            records.add(network.withMembers(byNetwork.getOrDefault(network.name(), List.of())));
        }
        return new NetworkIndex(records).sorted();
    }

    /**
     * Replaces the whole index in one transaction, after validating it as the file registry does. The
     * transaction is guarded by the revision of every key it read: a change made meanwhile to an existing key, a
     * create or a remove makes it start over; a member joined meanwhile to a network the new index also holds is
     * kept as it is only if the new index agrees. Meant for moving a registry between stores, not for routine use.
     *
     * @throws InvalidNetworkSpecException if the index is invalid, or needs more operations than one transaction
     *     may hold ({@link Builder#maxTxnOps(int)}, the servers' {@code --max-txn-ops})
     * @throws SubnetOverlapException if two subnets overlap
     */
    @Override
    public void writeIndex(NetworkIndex index) {
        Objects.requireNonNull(index, "index");
        RegistryRules.validate(index);
        retrying("write the whole index", (uncertain, races) -> {
            long version = modRevision(get(key("v"), false));
            GetResponse existing = get(key(""), true);
            Map<String, String> wanted = new LinkedHashMap<>();
            for (NetworkRecord network : index.networks()) {
                wanted.put(prefix + "n/" + network.name(), encodeNetwork(network));
                List<Member> members = network.members();
                for (int i = 0; i < members.size(); i++) {
                    Member member = members.get(i);
                    // one transaction gives every key one revision: the ordinal keeps the members' order
                    wanted.put(prefix + "m/" + network.name() + "/" + member.workspace(), member.ip() + " " + i);
                    wanted.put(text(addressKey(network.name(), network.subnet(), member.ip())), member.workspace());
                }
            }
            List<Cmp> compares = new ArrayList<>();
            List<Op> ops = new ArrayList<>();
            compares.add(new Cmp(key("v"), Cmp.Op.EQUAL, CmpTarget.modRevision(version)));
            for (KeyValue kv : existing.getKvs()) {
                String k = text(kv.getKey());
                if (k.equals(prefix + "v")) {
                    continue;
                }
                compares.add(new Cmp(kv.getKey(), Cmp.Op.EQUAL, CmpTarget.modRevision(kv.getModRevision())));
                if (!wanted.containsKey(k)) {
                    ops.add(Op.delete(kv.getKey(), DeleteOption.DEFAULT)); // one key each: etcd refuses a range
                }                                                         // that overlaps a put of the same txn
            }
            wanted.forEach((k, v) -> ops.add(Op.put(bytes(k), bytes(v), PutOption.DEFAULT)));
            ops.add(put("v", Long.toString(version + 1)));
            if (ops.size() > maxTxnOps || compares.size() > maxTxnOps) {
                throw new InvalidNetworkSpecException("replacing the index needs " + Math.max(ops.size(),
                        compares.size()) + " etcd operations in one transaction, but one may hold at most " + maxTxnOps
                        + "; raise --max-txn-ops on the etcd servers and EtcdNetworkRegistry.Builder.maxTxnOps to match");
            }
            return commit(txn(compares, ops)) ? Boolean.TRUE : null;
        });
    }

    /**
     * Watches every key of the registry (etcd watch, from the revision of a read made now): networks created
     * and removed and members joined and left, by any client on any host, delivered in order on a thread of
     * the watch's own.
     *
     * @throws NetworkException if etcd cannot be reached
     */
    @Override
    public RegistryWatch watch(Consumer<RegistryChange> listener) {
        Objects.requireNonNull(listener, "listener");
        long revision = get(key("v"), false).getHeader().getRevision();
        AtomicBoolean closed = new AtomicBoolean();
        ExecutorService delivery = Executors.newSingleThreadExecutor(task -> {
            Thread thread = new Thread(task, "tapwire-etcd-watch " + prefix);
            thread.setDaemon(true);
            return thread;
        });
        Watch.Watcher watcher = client.getWatchClient().watch(key(""),
                WatchOption.builder().isPrefix(true).withPrevKV(true).withRevision(revision + 1).build(),
                Watch.listener(response -> {
                    List<RegistryChange> changes = changesOf(response);
                    if (!changes.isEmpty() && !closed.get()) {
                        delivery.execute(() -> RegistryRules.deliver(changes, listener, () -> !closed.get()));
                    }
                }, error -> {
                    if (!closed.get()) {
                        LOG.warn("etcd registry watch on {} {} failed: {}", endpoints, prefix, error.toString());
                    }
                }));
        return () -> {
            if (closed.compareAndSet(false, true)) {
                watcher.close();
                delivery.shutdown();
                try {
                    delivery.awaitTermination(5, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
    }

    /** Turns one watch response into registry changes; the removing mark and the version counter are not changes. */
    private List<RegistryChange> changesOf(WatchResponse response) {
        List<RegistryChange> changes = new ArrayList<>();
        for (WatchEvent event : response.getEvents()) {
            KeyValue kv = event.getKeyValue();
            String rest = text(kv.getKey()).substring(prefix.length());
            boolean put = event.getEventType() == WatchEvent.EventType.PUT;
            if (rest.startsWith("n/")) {
                String name = rest.substring(2);
                if (put && kv.getVersion() == 1) {
                    changes.add(new RegistryChange(RegistryChange.Type.NETWORK_CREATED, name, null));
                } else if (!put) {
                    changes.add(new RegistryChange(RegistryChange.Type.NETWORK_REMOVED, name, null));
                }
            } else if (rest.startsWith("m/")) {
                int slash = rest.indexOf('/', 2);
                String network = rest.substring(2, slash);
                String workspace = rest.substring(slash + 1);
                KeyValue previous = event.getPrevKV();
                boolean hadPrevious = previous != null && previous.getVersion() > 0;
                if (!put || (hadPrevious && !memberIp(previous).equals(memberIp(kv)))) {
                    if (hadPrevious) {
                        changes.add(new RegistryChange(RegistryChange.Type.MEMBER_LEFT, network,
                                new Member(workspace, memberIp(previous))));
                    }
                }
                if (put && (kv.getVersion() == 1 || (hadPrevious && !memberIp(previous).equals(memberIp(kv))))) {
                    changes.add(new RegistryChange(RegistryChange.Type.MEMBER_JOINED, network,
                            new Member(workspace, memberIp(kv))));
                }
            }
        }
        return changes;
    }

    /** Closes the etcd client. */
    @Override
    public void close() {
        client.close();
    }

    // ---------------------------------------------------------------- etcd plumbing

    /** One attempt of an operation: returns the result, or null when a guarded transaction lost a race. */
    @FunctionalInterface
    private interface Attempt<T> {
        T run(boolean uncertain, int races) throws OutcomeUnknownException;
    }

    /** A transaction whose reply was lost: it may or may not have been applied. */
    private static final class OutcomeUnknownException extends Exception {
        private static final long serialVersionUID = 1L;

        OutcomeUnknownException(Throwable cause) {
            super(cause);
        }
    }

    /**
     * Runs {@code attempt} until it returns a result: again after a lost race (with jitter) and after a
     * transaction whose outcome is unknown (telling the next attempt so), at most {@code maxAttempts} times.
     */
    private <T> T retrying(String what, Attempt<T> attempt) {
        boolean uncertain = false;
        int races = 0;
        Throwable last = null;
        for (int i = 1; i <= maxAttempts; i++) {
            try {
                T result = attempt.run(uncertain, races);
                if (result != null) {
                    return result;
                }
                races++;
                last = null;
            } catch (OutcomeUnknownException e) {
                uncertain = true;
                last = e.getCause();
                LOG.debug("{}: the outcome of a transaction is unknown ({}); reading again", what, last.toString());
            }
            try {
                // a lost race: a little jitter; an unknown outcome: give the cluster time to settle
                long bound = uncertain ? Math.min(500, 20L << Math.min(i, 5)) : Math.min(20, 1L << Math.min(i, 5));
                Thread.sleep(ThreadLocalRandom.current().nextLong(bound + 1));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new NetworkException("interrupted while trying to " + what + " on etcd " + endpoints, e);
            }
        }
        throw new NetworkException("could not " + what + " on etcd " + endpoints + " after " + maxAttempts
                + " attempts: " + (last == null ? "other clients kept changing the same keys" : describe(last)), last);
    }

    private GetResponse get(ByteSequence key, boolean isPrefix) {
        GetOption option = isPrefix ? GetOption.builder().isPrefix(true).build() : GetOption.DEFAULT;
        return await(kv.get(key, option), "read " + text(key), false);
    }

    private boolean commit(io.etcd.jetcd.Txn txn) throws OutcomeUnknownException {
        return commitResponse(txn).isSucceeded();
    }

    private TxnResponse commitResponse(io.etcd.jetcd.Txn txn) throws OutcomeUnknownException {
        try {
            beforeCommit.run();
            return await(replies.apply(txn.commit()), "commit a transaction", true);
        } catch (UncertainCommit e) {
            throw new OutcomeUnknownException(e.getCause());
        }
    }

    private io.etcd.jetcd.Txn txn(List<Cmp> compares, List<Op> ops) {
        return kv.txn().If(compares.toArray(Cmp[]::new)).Then(ops.toArray(Op[]::new));
    }

    /** A commit that failed in a way that leaves its outcome unknown. */
    private static final class UncertainCommit extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UncertainCommit(Throwable cause) {
            super(cause);
        }
    }

    private <T> T await(CompletableFuture<T> future, String what, boolean isCommit) {
        try {
            return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            throw new NetworkException("interrupted while waiting to " + what + " on etcd " + endpoints, e);
        } catch (TimeoutException e) {
            future.cancel(true);
            if (isCommit) {
                throw new UncertainCommit(e);
            }
            throw new NetworkException("etcd " + endpoints + " did not answer within " + timeout.toMillis()
                    + " ms when asked to " + what + " (no quorum, or unreachable)", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            String text = describe(cause);
            if (isCommit && (text.contains("UNAVAILABLE") || text.contains("DEADLINE_EXCEEDED")
                    || text.contains("leader changed") || text.contains("Connection") || text.contains("closed"))) {
                throw new UncertainCommit(cause);
            }
            if (text.contains("UNAUTHENTICATED") || text.contains("PERMISSION_DENIED")
                    || text.contains("authentication failed") || text.contains("user name is empty")
                    || text.contains("invalid auth token")) {
                throw new NetworkException("etcd " + endpoints + " refused to " + what
                        + ": wrong or missing credentials (" + text + ")", cause);
            }
            throw new NetworkException("etcd " + endpoints + " failed to " + what + ": " + text, cause);
        }
    }

    private static String describe(Throwable t) {
        StringBuilder out = new StringBuilder();
        for (Throwable c = t; c != null && out.length() < 400; c = c.getCause()) {
            if (out.length() > 0) {
                out.append(": ");
            }
            out.append(c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage());
        }
        return out.toString();
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

    private static String text(ByteSequence bytes) {
        return bytes.toString(StandardCharsets.UTF_8);
    }

    private static String encodeNetwork(NetworkRecord n) {
        return n.subnet() + " " + n.gateway() + " " + (n.createdAtText() == null ? "-" : n.createdAtText());
    }

    private NetworkRecord decodeNetwork(KeyValue kv) {
        String name = text(kv.getKey()).substring(prefix.length() + 2);
        String value = text(kv.getValue());
        if (value.startsWith(REMOVING)) {
            value = value.substring(REMOVING.length());
        }
        String[] parts = value.split(" ");
        if (parts.length != 3) {
            throw new NetworkException("etcd key " + text(kv.getKey()) + " is not a tapwire network record; expected"
                    + " \"<subnet> <gateway> <created_at or ->\"");
        }
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
        private int maxAttempts = 50;
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
         * Sets the pool auto-allocated subnets come from; its first block is never used.
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
         * @param length e.g. 24
         * @return this builder
         */
        public Builder subnetPrefix(int length) {
            this.subnetPrefix = length;
            return this;
        }

        /**
         * Sets how long one request may take before it counts as failed (a commit then has an unknown outcome).
         *
         * @param requestTimeout e.g. 5 seconds
         * @return this builder
         */
        public Builder timeout(Duration requestTimeout) {
            this.timeout = Objects.requireNonNull(requestTimeout, "requestTimeout");
            return this;
        }

        /**
         * Sets how often an operation is tried when other clients keep winning the race, or a commit's outcome is
         * unknown, before it fails.
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
         *
         * @param ops the limit
         * @return this builder
         */
        public Builder maxTxnOps(int ops) {
            this.maxTxnOps = ops;
            return this;
        }

        /**
         * Sets user name and password for etcd's authentication.
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

        /** Runs {@code hook} just before each commit is sent, for the test that cuts the connection after a commit. */
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
         * @return the registry; close it to release the client
         * @throws InvalidNetworkSpecException if the subnet prefix does not fit the pool, or an endpoint is bad
         */
        public EtcdNetworkRegistry build() {
            RegistryRules.requirePrefixFitsPool(pool, subnetPrefix);
            for (String endpoint : endpoints) {
                boolean https = endpoint.startsWith("https://");
                if (!(https || endpoint.startsWith("http://"))) {
                    throw new InvalidNetworkSpecException("etcd endpoint \"" + endpoint + "\" must be an http:// or"
                            + " https:// URL, e.g. http://127.0.0.1:2379");
                }
                if (https) {
                    tls = true;
                }
            }
            ClientBuilder builder = Client.builder().endpoints(endpoints.toArray(String[]::new))
                    .connectTimeout(timeout);
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
            return new EtcdNetworkRegistry(this, builder.build());
        }
    }
}
