package dev.tapwire.network.registry;

import dev.tapwire.network.HostConflictException;
import dev.tapwire.network.HostLease;
import dev.tapwire.network.HostRecord;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.Placement;
import dev.tapwire.network.PlacementChange;
import dev.tapwire.network.PlacementRegistry;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.lock.Lease;
import dev.tapwire.network.lock.LockFile;
import dev.tapwire.network.registry.PlacementsFile.Holder;
import dev.tapwire.network.registry.PlacementsFile.State;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The file registry's {@link PlacementRegistry}: one host at a time ({@link #spansHosts()} is false). Its record,
 * its members' placements and the networks' VNIs live in {@code networks/placements.json} beside the index — never
 * in it, so {@code index.json} and its export stay as they are — and change under {@code networks/placements.lock}
 * with atomic, durable writes ({@link PlacementsFile}).
 *
 * <p><b>The lease of a single host is its holder process.</b> The record names the holder's pid and start time and
 * holds while that process lives and has neither closed nor withdrawn the lease; a lease closed without withdrawal
 * holds for its TTL from then (a restart within it re-attaches); the lease of a holder that died without closing
 * ends at once, since its death is when it stopped renewing. A process that cannot see the holder's pid (another
 * pid namespace) takes its lease as ended: processes that share a state directory share a pid namespace.
 */
final class FilePlacements implements PlacementRegistry {

    private static final Logger LOG = LoggerFactory.getLogger(FilePlacements.class);

    private final NetworkRegistry registry;
    private final PlacementsFile file;
    private final LockFile lock;
    private final Clock clock;

    FilePlacements(Path networksDir, NetworkRegistry registry, Clock clock) {
        this.registry = registry;
        this.file = new PlacementsFile(networksDir);
        this.lock = LockFile.at(networksDir.resolve("placements.lock"));
        this.clock = clock;
    }

    @Override
    public boolean spansHosts() {
        return false;
    }

    @Override
    public List<HostRecord> hosts() {
        Holder holder = file.read().holder();
        return holder != null && holder.live(clock.instant()) ? List.of(holder.host()) : List.of();
    }

    /** The live host's placements of current members of the network (a member that left has none). */
    @Override
    public List<Placement> placements(String network) {
        State state = file.read();
        Holder holder = state.holder();
        Optional<NetworkRecord> record = registry.find(network);
        if (holder == null || !holder.live(clock.instant()) || record.isEmpty()) {
            return List.of();
        }
        List<Placement> out = new ArrayList<>();
        for (Placement p : state.placements()) {
            if (p.network().equals(network) && p.host().equals(holder.host().name())
                    && record.get().member(p.workspace()).isPresent()) {
                out.add(p);
            }
        }
        out.sort(Comparator.comparing(Placement::workspace));
        return out;
    }

    @Override
    public Optional<Integer> vni(String network) {
        return Optional.ofNullable(file.read().vnis().get(network));
    }

    /**
     * Registers the single host. A live lease of the same name and underlay (a restart of its agent) is taken over
     * with its placements; a live lease of another name, or of the same name with another underlay, is refused; an
     * ended one is replaced, and its placements go with it.
     */
    @Override
    public HostLease register(HostRecord host, Duration ttl) {
        Objects.requireNonNull(host, "host");
        if (ttl == null || ttl.compareTo(Duration.ofSeconds(2)) < 0) {
            throw new InvalidNetworkSpecException("a host lease's TTL must be at least 2 s, not " + ttl);
        }
        String id = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
        change(state -> {
            Holder old = state.holder();
            boolean live = old != null && old.live(clock.instant());
            if (live && !old.host().name().equals(host.name())) {
                throw new HostConflictException(host.name(), "cannot register host " + host + ": host " + old.host()
                        + " (process " + old.pid() + ") holds the placements of " + file.path() + ", and a file"
                        + " registry serves one host at a time; register as " + old.host().name() + ", stop process "
                        + old.pid() + " (or withdraw its lease), or share a registry on etcd between several hosts");
            }
            if (live && !old.host().underlay().equals(host.underlay())) {
                throw new HostConflictException(host.name(), "cannot register host " + host.name() + " with underlay "
                        + host.underlay() + ": it is registered with underlay " + old.host().underlay() + " by process "
                        + old.pid() + "; one name has one tunnel endpoint — register with " + old.host().underlay()
                        + ", or stop process " + old.pid() + " (or withdraw its lease) first");
            }
            List<Placement> kept = live ? state.placements() : List.of();
            if (old != null) {
                LOG.debug("host {} {} the placements of {} (lease of process {} {})", host,
                        live ? "takes over" : "replaces", file.path(), old.pid(), live ? "live" : "ended");
            }
            return new State(Holder.mine(id, host, ttl), kept, state.vnis());
        });
        return new FileLease(id, host, ttl);
    }

    /**
     * Watches {@code placements.json} (inotify), and the holder's liveness once a second (a holder that dies or a
     * closed lease whose TTL runs out changes no file): each change of what {@link #hosts()} and the placements
     * show is reported, after a first {@code RESYNC}.
     */
    @Override
    public RegistryWatch watch(Consumer<PlacementChange> listener) {
        Objects.requireNonNull(listener, "listener");
        return PlacementsWatch.start(file, clock, listener);
    }

    // ---------------------------------------------------------------- changes

    /** Runs {@code edit} on the current state under the lock and writes what it returns, unless that is the same. */
    private void change(UnaryOperator<State> edit) {
        try (Lease held = lock.acquire()) {
            State before = file.read();
            State after = edit.apply(before);
            if (!after.equals(before)) {
                file.write(after);
            }
        }
    }

    private NetworkRecord requireMember(String network, String workspace) {
        NetworkRecord record = registry.get(network);
        if (workspace == null || record.member(workspace.strip()).isEmpty()) {
            throw new InvalidNetworkSpecException("workspace \"" + workspace + "\" is not a member of network " + network
                    + ": join it first (only members are placed)");
        }
        return record;
    }

    /** Attaches to the live lease of the single host, which another process (or this one) registered. */
    @Override
    public HostLease attach(String hostName) {
        if (!HostRecord.isValidName(hostName)) {
            throw new InvalidNetworkSpecException("invalid host name \"" + hostName + "\"");
        }
        Holder holder = file.read().holder();
        if (holder == null || !holder.live(clock.instant()) || !holder.host().name().equals(hostName)) {
            throw new NetworkException("host " + hostName + " is not registered in " + file.path()
                    + (holder != null && holder.live(clock.instant()) ? " (host " + holder.host() + " is)" : "")
                    + ": start its agent (which registers it and holds its lease) first");
        }
        return new FileLease(holder.id(), holder.host(), null);
    }

    /**
     * A lease of the single host: held while this process lives, until it is closed or withdrawn; an attached one
     * ({@code ttl} null) ends only itself.
     */
    private final class FileLease implements HostLease {
        private final String id;
        private final HostRecord host;
        private final Duration ttl;
        private final AtomicBoolean closed = new AtomicBoolean();
        private final AtomicBoolean withdrawn = new AtomicBoolean();

        FileLease(String id, HostRecord host, Duration ttl) {
            this.id = id;
            this.host = host;
            this.ttl = ttl;
        }

        @Override
        public HostRecord host() {
            return host;
        }

        private boolean mine(State state) {
            return state.holder() != null && state.holder().id().equals(id);
        }

        private void requireHeld(State state, String what) {
            if (closed.get() || withdrawn.get()) {
                throw new NetworkException("cannot " + what + ": the lease of host " + host + " was "
                        + (withdrawn.get() ? "withdrawn" : "closed") + "; register the host again");
            }
            if (!mine(state)) {
                throw new NetworkException("cannot " + what + ": the lease of host " + host + " has ended"
                        + (state.holder() == null ? "" : " (process " + state.holder().pid() + " registered "
                        + state.holder().host() + " since)") + "; register the host again");
            }
        }

        @Override
        public void place(String network, String workspace, MacAddress mac) {
            Objects.requireNonNull(mac, "mac");
            String ws = requireMember(network, workspace).member(workspace.strip()).orElseThrow().workspace();
            Placement placed = new Placement(network, ws, host.name(), mac);
            change(state -> {
                requireHeld(state, "place " + ws + " of " + network);
                List<Placement> rest = without(state.placements(), network, ws, null);
                rest.add(placed);
                LOG.debug("placing {} of network {} on host {} ({})", ws, network, host.name(), mac);
                return new State(state.holder(), rest, state.vnis());
            });
        }

        @Override
        public void unplace(String network, String workspace) {
            if (workspace == null) {
                return;
            }
            String ws = workspace.strip();
            change(state -> new State(state.holder(), without(state.placements(), network, ws, host.name()),
                    state.vnis()));
        }

        @Override
        public int vni(String network) {
            registry.get(network);
            int[] vni = new int[1];
            change(state -> {
                Integer recorded = state.vnis().get(network);
                if (recorded != null) {
                    vni[0] = recorded;
                    return state;
                }
                Map<String, Integer> vnis = new TreeMap<>(state.vnis());
                vni[0] = allocateVni(network, vnis);
                vnis.put(network, vni[0]);
                LOG.debug("network {} gets VNI {}", network, vni[0]);
                return new State(state.holder(), state.placements(), vnis);
            });
            return vni[0];
        }

        @Override
        public boolean isValid() {
            if (closed.get() || withdrawn.get()) {
                return false;
            }
            State state = file.read();
            return mine(state) && state.holder().live(clock.instant());
        }

        @Override
        public void withdraw() {
            if (!withdrawn.compareAndSet(false, true) || ttl == null) {
                return; // an attached lease ends only itself
            }
            change(state -> {
                if (!mine(state)) {
                    return state;
                }
                LOG.debug("host {} withdraws its lease and {} placements", host, state.placements().size());
                return new State(null, List.of(), state.vnis());
            });
        }

        @Override
        public void close() {
            if (!closed.compareAndSet(false, true) || withdrawn.get() || ttl == null) {
                return;
            }
            try {
                change(state -> mine(state) && state.holder().expiresAt() == null
                        ? new State(state.holder().closedAt(clock.instant(), ttl), state.placements(), state.vnis())
                        : state);
            } catch (RuntimeException e) {
                LOG.warn("closing the lease of host {}: {}; it ends when this process does", host, e.getMessage());
            }
        }
    }

    /** The placements but that of {@code network}/{@code workspace} (only if on {@code host}, when not null). */
    private static List<Placement> without(List<Placement> placements, String network, String workspace, String host) {
        List<Placement> rest = new ArrayList<>(placements.size() + 1);
        for (Placement p : placements) {
            boolean match = p.network().equals(network) && p.workspace().equals(workspace)
                    && (host == null || p.host().equals(host));
            if (!match) {
                rest.add(p);
            }
        }
        return rest;
    }

    /** The first candidate VNI for the network that no other network holds. */
    static int allocateVni(String network, Map<String, Integer> taken) {
        java.util.Set<Integer> used = new java.util.HashSet<>(taken.values());
        for (int probe = 0; probe < MAX_VNI; probe++) {
            int candidate = PlacementRegistry.vniCandidate(network, probe);
            if (!used.contains(candidate)) {
                return candidate;
            }
        }
        throw new NetworkException("no VNI left for network " + network + ": all " + MAX_VNI + " are recorded");
    }
}
