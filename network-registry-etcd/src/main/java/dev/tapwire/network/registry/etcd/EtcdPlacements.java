package dev.tapwire.network.registry.etcd;

import dev.tapwire.network.HostConflictException;
import dev.tapwire.network.HostLease;
import dev.tapwire.network.HostRecord;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkNotFoundException;
import dev.tapwire.network.Placement;
import dev.tapwire.network.PlacementChange;
import dev.tapwire.network.PlacementRegistry;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.spi.RegistryRules;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.OptionsUtil;
import io.etcd.jetcd.options.PutOption;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link PlacementRegistry} of an {@link EtcdNetworkRegistry}: on its client, under its prefix, seen by every
 * host of the fleet. Keys (below the prefix):
 * <ul>
 *   <li>{@code p/h/<host>} → {@code <underlay>}: the host record, bound to the host's lease;</li>
 *   <li>{@code p/m/<network>/<workspace>} → {@code <host> <mac>}: where a member runs, bound to the lease of the
 *   host it runs on (a move to another host re-binds it to that host's lease, in one put);</li>
 *   <li>{@code p/v/<network>} → {@code <vni>} and {@code p/n/<vni, 6 hex digits>} → {@code <network>}: a network's
 *   VNI and the VNI's network, written together, bound to no lease and never deleted (a network created again
 *   under its name gets its VNI back).</li>
 * </ul>
 * Every write is one transaction guarded by revisions, which never come back: a placement by the revisions of the
 * member key ({@code m/<network>/<workspace>}: a leave and re-join changes it), of the host's record (a takeover by
 * a restarted agent changes it) and of the placement key read; a takeover by the host record's revision; a VNI by
 * the absence of both VNI keys, which once written are never deleted.
 */
final class EtcdPlacements implements PlacementRegistry {

    private static final Logger LOG = LoggerFactory.getLogger(EtcdPlacements.class);
    private static final String HOSTS = "p/h/";
    private static final String PLACED = "p/m/";
    private static final String VNIS = "p/v/";
    private static final String VNI_HOLDERS = "p/n/";
    /** Placements moved to a new lease per transaction on a takeover (well below the servers' --max-txn-ops). */
    private static final int MOVE_BATCH = 32;
    /** Keys read per request when reading a range whole. */
    private static final int READ_PAGE = 2000;
    /** How soon a renewal that failed is tried again. */
    private static final long RENEW_RETRY_MILLIS = 200;

    private final EtcdNetworkRegistry registry;
    private final Client client;
    private final KV kv;
    private final String prefix;
    private final List<String> endpoints;
    private final Set<EtcdWatch> registryWatches;
    private final AtomicBoolean registryClosed;
    private final Duration timeout;
    private final Duration deadline;
    /** This registry's placement watches and their feeds: a lease lost here tells them at once. */
    private final Map<EtcdWatch, EtcdWatch.Feed<PlacementChange>> watches = new ConcurrentHashMap<>();

    EtcdPlacements(EtcdNetworkRegistry registry, Client client, List<String> endpoints, Set<EtcdWatch> registryWatches,
            AtomicBoolean registryClosed) {
        this.registry = registry;
        this.client = client;
        this.kv = client.getKVClient();
        this.prefix = registry.prefix();
        this.endpoints = List.copyOf(endpoints);
        this.registryWatches = registryWatches;
        this.registryClosed = registryClosed;
        this.timeout = registry.requestTimeout();
        this.deadline = registry.deadline();
    }

    @Override
    public boolean spansHosts() {
        return true;
    }

    /** The first endpoint of the registry (its host and port, unresolved). */
    @Override
    public Optional<InetSocketAddress> defaultUnderlayTarget() {
        URI first = URI.create(endpoints.get(0));
        int port = first.getPort() > 0 ? first.getPort() : 2379;
        return Optional.of(InetSocketAddress.createUnresolved(first.getHost(), port));
    }

    @Override
    public List<HostRecord> hosts() {
        return retrying("read the hosts", () -> {
            List<HostRecord> hosts = new ArrayList<>();
            for (KeyValue h : readAll(HOSTS, false, 0)) {
                hosts.add(hostOf(h));
            }
            hosts.sort(Comparator.comparing(HostRecord::name));
            return hosts;
        });
    }

    /** Read at one revision with the network's members and the live hosts: only members on live hosts. */
    @Override
    public List<Placement> placements(String network) {
        if (!dev.tapwire.network.NetworkNames.isValid(network)) {
            return List.of();
        }
        return retrying("read the placements of " + network, () -> {
            GetResponse record = await(kv.get(key("n/" + network)), "read network " + network);
            if (record.getKvs().isEmpty()) {
                return List.<Placement>of();
            }
            long at = record.getHeader().getRevision(); // the rest at the same revision: one view
            Set<String> members = new HashSet<>();
            for (KeyValue m : readAll("m/" + network + "/", true, at)) {
                members.add(text(m.getKey()).substring(prefix.length() + ("m/" + network + "/").length()));
            }
            Set<String> hosts = new HashSet<>();
            for (KeyValue h : readAll(HOSTS, true, at)) {
                hosts.add(text(h.getKey()).substring(prefix.length() + HOSTS.length()));
            }
            List<Placement> out = new ArrayList<>();
            int cut = prefix.length() + (PLACED + network + "/").length();
            for (KeyValue p : readAll(PLACED + network + "/", false, at)) {
                String workspace = text(p.getKey()).substring(cut);
                String[] value = text(p.getValue()).split(" ");
                if (value.length != 2 || !MacAddress.isValid(value[1])) {
                    throw new NetworkException("etcd key " + text(p.getKey()) + " is not a tapwire placement; expected"
                            + " \"<host> <mac>\"");
                }
                if (members.contains(workspace) && hosts.contains(value[0])) {
                    out.add(new Placement(network, workspace, value[0], MacAddress.parse(value[1])));
                }
            }
            out.sort(Comparator.comparing(Placement::workspace));
            return out;
        });
    }

    @Override
    public Optional<Integer> vni(String network) {
        if (!dev.tapwire.network.NetworkNames.isValid(network)) {
            return Optional.empty();
        }
        return retrying("read the VNI of " + network, () -> Optional.ofNullable(first(await(kv.get(key(VNIS + network)),
                "read the VNI of " + network))).map(v -> Integer.parseInt(text(v.getValue()))));
    }

    /**
     * Registers the host under a new etcd lease of {@code ttl} (rounded up to whole seconds), renewed every third of
     * it. A live record of the same name with the same underlay (a restarted agent) is taken over: the record and
     * the host's placements are moved to the new lease, then the old lease is revoked.
     */
    @Override
    public HostLease register(HostRecord host, Duration ttl) {
        if (host == null) {
            throw new NullPointerException("host");
        }
        if (ttl == null || ttl.compareTo(Duration.ofSeconds(2)) < 0) {
            throw new InvalidNetworkSpecException("a host lease's TTL must be at least 2 s, not " + ttl);
        }
        long seconds = (ttl.toMillis() + 999) / 1000;
        long lease = retrying("grant a lease for host " + host.name(), () -> await(
                client.getLeaseClient().grant(seconds), "grant a lease").getID());
        String hostKey = HOSTS + host.name();
        AtomicBoolean restart = new AtomicBoolean(); // a live record of this host was there: take its records over
        try {
            long hostRevision = retrying("register host " + host, () -> {
                KeyValue held = first(await(kv.get(key(hostKey)), "read host " + host.name()));
                if (held != null && held.getLease() == lease) {
                    return held.getModRevision(); // our own registration, whose reply was lost
                }
                Cmp guard = held == null ? new Cmp(key(hostKey), Cmp.Op.EQUAL, CmpTarget.createRevision(0))
                        : new Cmp(key(hostKey), Cmp.Op.EQUAL, CmpTarget.modRevision(held.getModRevision()));
                if (held != null && !hostOf(held).underlay().equals(host.underlay())) {
                    throw new HostConflictException(host.name(), "cannot register host " + host.name() + " with underlay "
                            + host.underlay() + ": a live host of that name has underlay " + hostOf(held).underlay()
                            + " (etcd lease " + Long.toHexString(held.getLease()) + "); two hosts cannot share one name —"
                            + " give this host another name (--host, TAPWIRE_HOST), or stop the other one and wait for"
                            + " its lease to expire (its TTL)");
                }
                restart.set(held != null); // before the commit: a lost reply's next attempt finds our own record
                TxnResponse put = commit(kv.txn().If(guard).Then(Op.put(key(hostKey), bytes(host.underlay().toString()),
                        leased(lease))), "register host " + host.name());
                return put.isSucceeded() ? put.getHeader().getRevision() : null;
            });
            if (restart.get()) {
                takeOver(host, lease, hostRevision);
            }
            LOG.debug("host {} registered under etcd lease {} (TTL {} s)", host, Long.toHexString(lease), seconds);
            return new EtcdLease(host, lease, hostRevision, Duration.ofSeconds(seconds));
        } catch (RuntimeException e) {
            revoke(lease);
            throw e;
        }
    }

    /** Moves the host's placements still bound to an earlier lease to {@code lease}, then revokes the earlier ones. */
    private void takeOver(HostRecord host, long lease, long hostRevision) {
        List<KeyValue> earlier = retrying("read the placements of host " + host.name(), () -> {
            List<KeyValue> found = new ArrayList<>();
            for (KeyValue p : readAll(PLACED, false, 0)) {
                if (p.getLease() != lease && text(p.getValue()).startsWith(host.name() + " ")) {
                    found.add(p);
                }
            }
            return found;
        });
        Set<Long> oldLeases = new HashSet<>();
        Cmp ours = new Cmp(key(HOSTS + host.name()), Cmp.Op.EQUAL, CmpTarget.modRevision(hostRevision));
        for (int from = 0; from < earlier.size(); from += MOVE_BATCH) {
            List<KeyValue> batch = earlier.subList(from, Math.min(earlier.size(), from + MOVE_BATCH));
            List<Cmp> guards = new ArrayList<>(List.of(ours));
            List<Op> puts = new ArrayList<>();
            for (KeyValue p : batch) {
                oldLeases.add(p.getLease());
                guards.add(new Cmp(p.getKey(), Cmp.Op.EQUAL, CmpTarget.modRevision(p.getModRevision())));
                puts.add(Op.put(p.getKey(), p.getValue(), leased(lease)));
            }
            boolean moved = retrying("move the placements of host " + host.name(), () -> commit(kv.txn()
                    .If(guards.toArray(Cmp[]::new)).Then(puts.toArray(Op[]::new)), "move placements").isSucceeded());
            if (!moved) {
                moveOneByOne(batch, ours, lease); // one changed meanwhile (moved to another host, unplaced)
            }
        }
        LOG.debug("host {} took over {} placements", host, earlier.size());
        oldLeases.forEach(this::revoke);
    }

    private void moveOneByOne(List<KeyValue> batch, Cmp ours, long lease) {
        for (KeyValue p : batch) {
            retrying("move a placement", () -> {
                commit(kv.txn().If(ours, new Cmp(p.getKey(), Cmp.Op.EQUAL, CmpTarget.modRevision(p.getModRevision())))
                        .Then(Op.put(p.getKey(), p.getValue(), leased(lease))), "move a placement");
                return Boolean.TRUE; // moved, or changed meanwhile: then it is no longer this host's to move
            });
        }
    }

    /**
     * Watches {@code p/} on a client of its own, as the registry's watch does ({@link EtcdWatch}: resumes from its
     * revision, {@code RESYNC} when that was compacted), starting with a {@code RESYNC}. A lease of this registry that
     * is lost reports {@code HOST_DOWN} for its host at once, before etcd can say so.
     */
    @Override
    public RegistryWatch watch(java.util.function.Consumer<PlacementChange> listener) {
        java.util.Objects.requireNonNull(listener, "listener");
        long revision = retrying("start a placement watch", () -> await(kv.get(key(HOSTS),
                GetOption.builder().withCountOnly(true).build()), "start a watch").getHeader().getRevision());
        EtcdWatch.Feed<PlacementChange> feed = new EtcdWatch.Feed<>("p/", this::changesOf, PlacementChange.resync(),
                listener);
        EtcdWatch watch = new EtcdWatch(registry, feed, revision + 1, w -> {
            registryWatches.remove(w);
            watches.remove(w);
        });
        registryWatches.add(watch);
        watches.put(watch, feed);
        watch.start();
        watch.resync();
        return watch;
    }

    private List<PlacementChange> changesOf(String rest, boolean put, KeyValue now, KeyValue previous) {
        if (rest.startsWith(HOSTS)) {
            String host = rest.substring(HOSTS.length());
            return List.of(new PlacementChange(put ? PlacementChange.Type.HOST_UP : PlacementChange.Type.HOST_DOWN,
                    null, null, host));
        }
        if (!rest.startsWith(PLACED)) {
            return List.of();
        }
        String tail = rest.substring(PLACED.length());
        int slash = tail.indexOf('/');
        KeyValue source = put ? now : previous;
        if (source == null || source.getValue().isEmpty()) {
            return List.of(PlacementChange.resync()); // no previous value to tell whose placement went
        }
        String host = text(source.getValue()).split(" ")[0];
        return List.of(new PlacementChange(put ? PlacementChange.Type.PLACED : PlacementChange.Type.UNPLACED,
                tail.substring(0, slash), tail.substring(slash + 1), host));
    }

    // ---------------------------------------------------------------- a host's lease

    /**
     * Attaches to the live lease of a host that another client registered: places through it, never renews, revokes
     * or takes it over.
     */
    @Override
    public HostLease attach(String hostName) {
        if (!HostRecord.isValidName(hostName)) {
            throw new InvalidNetworkSpecException("invalid host name \"" + hostName + "\"");
        }
        KeyValue record = retrying("read host " + hostName, () -> Optional.ofNullable(first(await(
                kv.get(key(HOSTS + hostName)), "read host " + hostName)))).orElse(null);
        if (record == null) {
            throw new NetworkException("host " + hostName + " is not registered in etcd " + String.join(",", endpoints)
                    + " " + prefix + ": start its agent (which registers it and keeps its lease) first");
        }
        return new EtcdLease(hostOf(record), record.getLease(), record.getModRevision(), null);
    }

    /**
     * A host's etcd lease: the registering one renews it every third of its TTL on a thread of its own; an attached
     * one ({@code ttl} null) renews nothing and ends nothing but itself.
     */
    private final class EtcdLease implements HostLease {
        private final HostRecord host;
        private final long id;
        private final long hostRevision;
        private final Duration ttl;
        private final AtomicBoolean closed = new AtomicBoolean();
        private final AtomicBoolean withdrawn = new AtomicBoolean();
        private volatile String lost;
        private volatile long renewed = System.nanoTime();
        private final ScheduledExecutorService renewer;

        EtcdLease(HostRecord host, long id, long hostRevision, Duration ttl) {
            this.host = host;
            this.id = id;
            this.hostRevision = hostRevision;
            this.ttl = ttl;
            if (ttl == null) {
                this.renewer = null; // attached: the registering client renews it
                return;
            }
            this.renewer = Executors.newSingleThreadScheduledExecutor(task -> {
                Thread thread = new Thread(task, "tapwire-host-lease " + host.name());
                thread.setDaemon(true);
                return thread;
            });
            long period = Math.max(100, ttl.toMillis() / 3);
            renewer.scheduleWithFixedDelay(this::renew, period, period, TimeUnit.MILLISECONDS);
        }

        @Override
        public HostRecord host() {
            return host;
        }

        private void renew() {
            if (registryClosed.get()) {
                close();
                return;
            }
            long wait = Math.max(100, Math.min(timeout.toMillis(), ttl.toMillis() / 3));
            try {
                long left = client.getLeaseClient().keepAliveOnce(id).get(wait, TimeUnit.MILLISECONDS).getTTL();
                if (left <= 0) {
                    lose(whyGone());
                    return;
                }
                renewed = System.nanoTime();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException | TimeoutException e) {
                String why = describe(e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e);
                if (why.contains("lease not found")) {
                    lose(whyGone());
                } else if (System.nanoTime() - renewed > ttl.toNanos()) {
                    lose("it was not renewed for longer than its TTL of " + ttl.toSeconds() + " s (" + why + ")");
                } else { // again soon, not a third of the TTL later: a member that went away is one of several
                    LOG.debug("host {}: renewing etcd lease {} failed ({}); trying again", host, Long.toHexString(id), why);
                    try {
                        renewer.schedule(this::renew, RENEW_RETRY_MILLIS, TimeUnit.MILLISECONDS);
                    } catch (java.util.concurrent.RejectedExecutionException closing) {
                        // closed meanwhile
                    }
                }
            }
        }

        /** Why etcd no longer knows the lease: another registration of this host took over, or it expired. */
        private String whyGone() {
            try {
                KeyValue record = first(client.getKVClient().get(key(HOSTS + host.name()))
                        .get(Math.max(100, ttl.toMillis() / 3), TimeUnit.MILLISECONDS));
                if (record != null && record.getLease() != id) {
                    return "another registration of host " + host.name() + " (a second agent of that name, or this one"
                            + " restarted) took over its records";
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException | TimeoutException | RuntimeException e) {
                LOG.debug("host {}: cannot read its record after losing its lease: {}", host, e.toString());
            }
            return "etcd says its lease is gone (it expired or was revoked), and with it its host record and placements";
        }

        /** The lease is lost: no renewal any more, a HOST_DOWN to this registry's watches, a warning. */
        private void lose(String why) {
            if (lost != null || closed.get() || withdrawn.get()) {
                return;
            }
            lost = why;
            if (renewer != null) {
                renewer.shutdown();
            }
            LOG.warn("host {} lost its registration: {}; this lease can place nothing more — register the host again",
                    host, why);
            PlacementChange down = new PlacementChange(PlacementChange.Type.HOST_DOWN, null, null, host.name());
            watches.forEach((watch, feed) -> tell(watch, feed, down));
        }

        private void requireHeld(String what) {
            String ended = withdrawn.get() ? "was withdrawn" : closed.get() ? "was closed" : lost != null
                    ? "was lost: " + lost : null;
            if (ended != null) {
                throw new NetworkException("cannot " + what + ": the lease of host " + host + " " + ended
                        + "; register the host again");
            }
        }

        @Override
        public void place(String network, String workspace, MacAddress mac) {
            java.util.Objects.requireNonNull(mac, "mac");
            dev.tapwire.network.NetworkNames.requireValid(network);
            String ws = RegistryRules.requireWorkspace(workspace);
            String what = "place " + ws + " of network " + network + " on host " + host.name();
            requireHeld(what);
            String placementKey = PLACED + network + "/" + ws;
            String value = host.name() + " " + mac;
            retrying(what, () -> {
                List<GetResponse> seen = readTogether(Op.get(key("n/" + network), GetOption.DEFAULT),
                        Op.get(key("m/" + network + "/" + ws), GetOption.DEFAULT),
                        Op.get(key(HOSTS + host.name()), GetOption.DEFAULT), Op.get(key(placementKey), GetOption.DEFAULT));
                if (seen.get(0).getKvs().isEmpty()) {
                    throw new NetworkNotFoundException("network \"" + network + "\" not found");
                }
                KeyValue member = first(seen.get(1));
                if (member == null) {
                    throw new InvalidNetworkSpecException("workspace \"" + ws + "\" is not a member of network "
                            + network + ": join it first (only members are placed)");
                }
                KeyValue record = first(seen.get(2));
                if (record == null || record.getLease() != id) {
                    lose(record == null ? "its host record is gone (the lease expired)"
                            : "another registration of host " + host.name() + " took it over");
                    requireHeld(what);
                }
                KeyValue placed = first(seen.get(3));
                if (placed != null && placed.getLease() == id && text(placed.getValue()).equals(value)) {
                    return Boolean.TRUE;
                }
                Cmp same = placed == null ? new Cmp(key(placementKey), Cmp.Op.EQUAL, CmpTarget.createRevision(0))
                        : new Cmp(key(placementKey), Cmp.Op.EQUAL, CmpTarget.modRevision(placed.getModRevision()));
                TxnResponse put = commit(kv.txn().If(
                                new Cmp(key("m/" + network + "/" + ws), Cmp.Op.EQUAL,
                                        CmpTarget.modRevision(member.getModRevision())),
                                new Cmp(key(HOSTS + host.name()), Cmp.Op.EQUAL, CmpTarget.modRevision(record.getModRevision())),
                                same)
                        .Then(Op.put(key(placementKey), bytes(value), leased(id))), what);
                if (put.isSucceeded() && placed != null && !text(placed.getValue()).startsWith(host.name() + " ")) {
                    LOG.debug("{} of network {} moved to host {}", ws, network, host.name());
                }
                return put.isSucceeded() ? Boolean.TRUE : null;
            });
        }

        @Override
        public void unplace(String network, String workspace) {
            if (!dev.tapwire.network.NetworkNames.isValid(network) || workspace == null || workspace.isBlank()) {
                return;
            }
            String placementKey = PLACED + network + "/" + workspace.strip();
            retrying("unplace " + workspace + " of network " + network, () -> {
                KeyValue placed = first(await(kv.get(key(placementKey)), "read a placement"));
                if (placed == null || !text(placed.getValue()).startsWith(host.name() + " ")) {
                    return Boolean.TRUE; // not placed, or placed on another host: left alone
                }
                return commit(kv.txn().If(new Cmp(key(placementKey), Cmp.Op.EQUAL,
                                CmpTarget.modRevision(placed.getModRevision())))
                        .Then(Op.delete(key(placementKey), DeleteOption.DEFAULT)), "unplace").isSucceeded()
                        ? Boolean.TRUE : null;
            });
        }

        @Override
        public int vni(String network) {
            dev.tapwire.network.NetworkNames.requireValid(network);
            return retrying("allocate a VNI for network " + network, () -> {
                List<GetResponse> seen = readTogether(Op.get(key(VNIS + network), GetOption.DEFAULT),
                        Op.get(key("n/" + network), GetOption.DEFAULT));
                KeyValue recorded = first(seen.get(0));
                if (recorded != null) {
                    return Integer.parseInt(text(recorded.getValue()));
                }
                KeyValue record = first(seen.get(1));
                if (record == null) {
                    throw new NetworkNotFoundException("network \"" + network + "\" not found");
                }
                for (int probe = 0; probe < MAX_VNI; probe++) {
                    int candidate = PlacementRegistry.vniCandidate(network, probe);
                    String holderKey = VNI_HOLDERS + String.format("%06x", candidate);
                    if (first(await(kv.get(key(holderKey)), "read VNI " + candidate)) != null) {
                        continue; // another network's: probe the next
                    }
                    TxnResponse put = commit(kv.txn().If(
                                    new Cmp(key(VNIS + network), Cmp.Op.EQUAL, CmpTarget.createRevision(0)),
                                    new Cmp(key(holderKey), Cmp.Op.EQUAL, CmpTarget.createRevision(0)),
                                    new Cmp(key("n/" + network), Cmp.Op.EQUAL, CmpTarget.modRevision(record.getModRevision())))
                            .Then(Op.put(key(VNIS + network), bytes(Integer.toString(candidate)), PutOption.DEFAULT),
                                    Op.put(key(holderKey), bytes(network), PutOption.DEFAULT)), "record a VNI");
                    if (put.isSucceeded()) {
                        LOG.debug("network {} gets VNI {} (probe {})", network, candidate, probe);
                        return candidate;
                    }
                    return null; // taken meanwhile, or the network changed: read again
                }
                throw new NetworkException("no VNI left for network " + network + ": all " + MAX_VNI + " are recorded");
            });
        }

        @Override
        public boolean isValid() {
            if (closed.get() || withdrawn.get() || lost != null) {
                return false;
            }
            if (renewer != null) {
                return true;
            }
            try { // attached: valid while the host's record is bound to this lease
                return retrying("read host " + host.name(), () -> Optional.ofNullable(first(await(
                        kv.get(key(HOSTS + host.name())), "read host " + host.name())))).map(r -> r.getLease() == id)
                        .orElse(false);
            } catch (NetworkException e) {
                return false;
            }
        }

        @Override
        public void withdraw() {
            if (!withdrawn.compareAndSet(false, true) || renewer == null) {
                return; // an attached lease ends only itself
            }
            renewer.shutdownNow();
            retrying("withdraw the lease of host " + host.name(), () -> await(client.getLeaseClient().revoke(id),
                    "revoke lease " + Long.toHexString(id)));
            LOG.debug("host {} withdrew its lease", host);
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true) && renewer != null) {
                renewer.shutdownNow();
                LOG.debug("host {} stops renewing its lease (records kept for up to {} s)", host, ttl.toSeconds());
            }
        }

        @Override
        public String toString() {
            return "lease " + Long.toHexString(id) + " of host " + host + " (record revision " + hostRevision + ")";
        }
    }

    private static <T> void tell(EtcdWatch watch, EtcdWatch.Feed<T> feed, T change) {
        watch.enqueue(() -> feed.deliver(List.of(change), () -> true));
    }

    // ---------------------------------------------------------------- etcd plumbing

    /** Why an attempt must be made again: no answer in time, or a failure that may pass. */
    private static final class Again extends Exception {
        private static final long serialVersionUID = 1L;

        Again(String why, Throwable cause) {
            super(why, cause);
        }
    }

    /** One attempt: a result, or null when a guarded transaction lost a race. */
    @FunctionalInterface
    private interface Step<T> {
        T run() throws Again;
    }

    /** Runs {@code step} until it returns a result, with jitter between attempts, within the registry's deadline. */
    private <T> T retrying(String what, Step<T> step) {
        if (registryClosed.get()) {
            throw new NetworkException("cannot " + what + ": this etcd registry (" + String.join(",", endpoints) + " "
                    + prefix + ") is closed");
        }
        long end = System.nanoTime() + deadline.toNanos();
        Again last = null;
        for (int attempt = 1; ; attempt++) {
            try {
                T result = step.run();
                if (result != null) {
                    return result;
                }
                last = null;
            } catch (Again e) {
                last = e;
                LOG.debug("{}: {}; trying again", what, e.getMessage());
            }
            long left = end - System.nanoTime();
            if (left <= 0) {
                throw new NetworkException("could not " + what + " on etcd " + String.join(",", endpoints)
                        + " within its deadline of " + deadline.toMillis() + " ms (" + attempt + " attempts): "
                        + (last == null ? "other clients kept changing the same keys" : last.getMessage())
                        + "; calling it again is safe", last);
            }
            long bound = last == null ? 20 : Math.min(500, 20L << Math.min(attempt, 5));
            try {
                Thread.sleep(Math.min(TimeUnit.NANOSECONDS.toMillis(left) + 1, ThreadLocalRandom.current().nextLong(bound + 1)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new NetworkException("interrupted while trying to " + what, e);
            }
        }
    }

    private <T> T await(CompletableFuture<T> future, String what) throws Again {
        try {
            return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            throw new NetworkException("interrupted while waiting to " + what + " on etcd", e);
        } catch (TimeoutException e) {
            future.cancel(true);
            throw new Again("no answer within " + timeout.toMillis() + " ms when asked to " + what, e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            String text = describe(cause);
            if (EtcdFailures.isCredentials(text)) {
                throw new NetworkException("etcd " + String.join(",", endpoints) + " refused to " + what
                        + ": wrong or missing credentials (" + text + ")", cause);
            }
            if (EtcdFailures.isTransient(text) || EtcdFailures.tls(cause) != null
                    || text.contains("required revision has been compacted")) { // a paged read: read again from now
                throw new Again(text, cause);
            }
            throw new NetworkException("etcd " + String.join(",", endpoints) + " failed to " + what + ": " + text, cause);
        }
    }

    private TxnResponse commit(io.etcd.jetcd.Txn txn, String what) throws Again {
        // every commit here is guarded and idempotent from a fresh read: after a lost reply the attempt reads again
        return await(txn.commit(), what);
    }

    private List<GetResponse> readTogether(Op... reads) throws Again {
        return await(kv.txn().Then(reads).commit(), "read placements").getGetResponses();
    }

    private void revoke(long lease) {
        client.getLeaseClient().revoke(lease).exceptionally(e -> {
            LOG.debug("revoking etcd lease {} failed ({}); it expires on its own", Long.toHexString(lease), e.toString());
            return null;
        });
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

    private HostRecord hostOf(KeyValue hostKv) {
        return new HostRecord(text(hostKv.getKey()).substring(prefix.length() + HOSTS.length()),
                Ipv4Address.parse(text(hostKv.getValue())));
    }

    /**
     * Reads every key under {@code under} in pages of {@value #READ_PAGE}, all at {@code revision} (0: now, and the
     * rest at the revision of the first page), so that no reply nears gRPC's message limit.
     */
    private List<KeyValue> readAll(String under, boolean keysOnly, long revision) throws Again {
        List<KeyValue> keys = new ArrayList<>();
        ByteSequence from = key(under);
        ByteSequence end = OptionsUtil.prefixEndOf(key(under));
        long at = revision;
        while (true) {
            GetOption.Builder page = GetOption.builder().withRange(end).withLimit(READ_PAGE).withKeysOnly(keysOnly);
            if (at > 0) {
                page.withRevision(at);
            }
            GetResponse got = await(kv.get(from, page.build()), "read " + prefix + under);
            at = at > 0 ? at : got.getHeader().getRevision();
            keys.addAll(got.getKvs());
            if (!got.isMore() || got.getKvs().isEmpty()) {
                return keys;
            }
            from = got.getKvs().get(got.getKvs().size() - 1).getKey().concat(ByteSequence.from(new byte[] {0}));
        }
    }

    private static PutOption leased(long lease) {
        return PutOption.builder().withLeaseId(lease).build();
    }

    private static KeyValue first(GetResponse response) {
        return response.getKvs().isEmpty() ? null : response.getKvs().get(0);
    }

    private ByteSequence key(String suffix) {
        return bytes(prefix + suffix);
    }

    private static ByteSequence bytes(String text) {
        return ByteSequence.from(text, StandardCharsets.UTF_8);
    }

    private static String text(ByteSequence bytes) {
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
