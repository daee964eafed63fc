package dev.tapwire.network.bridge;

import dev.tapwire.network.HostConflictException;
import dev.tapwire.network.HostLease;
import dev.tapwire.network.HostRecord;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.Placement;
import dev.tapwire.network.PlacementRegistry;
import dev.tapwire.network.PlacementChange;
import dev.tapwire.network.RegistryChange;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.lock.Lease;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps this host's part of a fleet in step with the registry, for as long as it runs: the host's lease (renewed by
 * the {@link PlacementRegistry}), the placements of the NICs tapwire made here (the missing placed, the stale
 * unplaced), the DNS and DHCP data of the networks realized here (DHCP only for members placed here), and the overlay
 * each such network needs — its VNI, this host's tunnel endpoint, every member on another live host (MAC, registry
 * address, that host's endpoint) and the endpoints VXLAN is accepted from ({@link #tunnels}).
 *
 * <p>Level-triggered: every change the placement or network registry reports, and every {@link Settings#resync}
 * regardless, wakes one reconcile that computes the wanted state from a fresh read and applies the difference; no
 * event is replayed, none needs to have been seen. A restarted agent reconciles before {@link #start} returns.
 *
 * <p>The agent acts in the network namespace of the thread that starts it. {@link #close} stops it without
 * withdrawing its lease or touching the realization: an agent started again within the lease's TTL takes over
 * without other hosts ever dropping this one. Thread-safe.
 */
public final class HostAgent implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(HostAgent.class);
    private static final Duration FIRST_SYNC_WAIT = Duration.ofSeconds(30);

    /**
     * What an agent runs with.
     *
     * @param rootDir the state directory, as given to the bridge provider that makes this host's NICs
     * @param registry the registry of the networks
     * @param placements the placements of the fleet (usually {@code registry.placements()})
     * @param host this host's name and underlay (tunnel endpoint) address
     * @param ttl how long this host's records outlive its last lease renewal (at least 2 s)
     * @param underlayMtu the MTU of the interface holding the underlay address
     * @param resync how often the agent reconciles when nothing was reported (at most the TTL)
     */
    public record Settings(Path rootDir, NetworkRegistry registry, PlacementRegistry placements, HostRecord host,
            Duration ttl, int underlayMtu, Duration resync) {

        /** The host lease TTL when none is given. */
        public static final Duration DEFAULT_TTL = Duration.ofSeconds(10);

        /**
         * Validates the settings.
         *
         * @param rootDir the state directory, as given to the bridge provider that makes this host's NICs
         * @param registry the registry of the networks
         * @param placements the placements of the fleet (usually {@code registry.placements()})
         * @param host this host's name and underlay (tunnel endpoint) address
         * @param ttl how long this host's records outlive its last lease renewal (at least 2 s)
         * @param underlayMtu the MTU of the interface holding the underlay address
         * @param resync how often the agent reconciles when nothing was reported (at most the TTL)
         * @throws InvalidNetworkSpecException if a value is missing, the TTL is shorter than 2 s, the resync period
         *     not positive or longer than the TTL, or the underlay MTU leaves no room for VXLAN
         */
        public Settings {
            if (rootDir == null || registry == null || placements == null || host == null || ttl == null
                    || resync == null) {
                throw new InvalidNetworkSpecException("a host agent needs a state directory, a registry, placements,"
                        + " its host record, a TTL and a resync period");
            }
            if (ttl.compareTo(Duration.ofSeconds(2)) < 0) {
                throw new InvalidNetworkSpecException("host lease TTL " + ttl.toMillis() + " ms is too short: at least"
                        + " 2 s (default " + DEFAULT_TTL.toSeconds() + " s)");
            }
            if (resync.isNegative() || resync.isZero() || resync.compareTo(ttl) > 0) {
                throw new InvalidNetworkSpecException("resync period " + resync.toMillis() + " ms: accepted is more"
                        + " than 0 and at most the TTL (" + ttl.toMillis() + " ms)");
            }
            new NetworkRealizer.Fleet(placements, host.name(), underlayMtu); // validates the MTU
        }

        /**
         * Settings with the default TTL, resyncing every third of it.
         *
         * @param rootDir the state directory
         * @param registry the registry of the networks
         * @param placements the placements of the fleet
         * @param host this host's name and underlay address
         * @param underlayMtu the MTU of the underlay interface
         * @return the settings
         * @throws InvalidNetworkSpecException as the canonical constructor
         */
        public static Settings of(Path rootDir, NetworkRegistry registry, PlacementRegistry placements,
                HostRecord host, int underlayMtu) {
            return new Settings(rootDir, registry, placements, host, DEFAULT_TTL, underlayMtu,
                    DEFAULT_TTL.dividedBy(3));
        }

        /**
         * Settings from a provider's: its state directory and registry ({@link NetworkRegistry#placements() its
         * placements}), its {@link ProviderSettings#host() host}, {@link ProviderSettings#underlay() underlay} and
         * {@link ProviderSettings#hostTtl() host TTL}, resyncing every third of the TTL; the underlay MTU is read from
         * the device holding the underlay address in the calling thread's network namespace.
         *
         * @param provider the provider settings, with a registry
         * @return the settings
         * @throws InvalidNetworkSpecException if the settings carry no registry, or a value is invalid
         * @throws dev.tapwire.network.DeviceOperationException if no device here holds the underlay address
         * @throws dev.tapwire.network.NetworkException if the underlay cannot be found (see {@link
         *     ProviderSettings#underlay()})
         */
        public static Settings from(ProviderSettings provider) {
            if (provider == null) {
                throw new InvalidNetworkSpecException("a host agent needs provider settings");
            }
            NetworkRegistry registry = provider.findRegistry().orElseThrow(() -> new InvalidNetworkSpecException(
                    "a host agent needs a registry (ProviderSettings.withRegistry; the CLI's --registry)"));
            Ipv4Address underlay = provider.underlay();
            int mtu = Math.min(Overlay.underlayMtu(underlay), Realization.MAX_MTU); // loopback's is 65536
            Duration ttl = provider.hostTtl();
            return new Settings(provider.rootDir(), registry, registry.placements(),
                    new HostRecord(provider.host(), underlay), ttl, mtu, ttl.dividedBy(3));
        }

        /**
         * Returns these settings with another TTL, resyncing every third of it.
         *
         * @param ttl the host lease TTL
         * @return the settings
         * @throws InvalidNetworkSpecException as the canonical constructor
         */
        public Settings withTtl(Duration ttl) {
            return new Settings(rootDir, registry, placements, host, ttl, underlayMtu,
                    ttl == null ? null : ttl.dividedBy(3));
        }
    }

    /**
     * A member of a network on another live host, as this host's overlay must reach it.
     *
     * @param workspace the member's workspace
     * @param mac its guest MAC (where the FDB entry points)
     * @param ip its registry address (the permanent neighbour entry that answers ARP here)
     * @param host the host it runs on
     * @param vtep that host's underlay address
     */
    public record Remote(String workspace, MacAddress mac, Ipv4Address ip, String host, Ipv4Address vtep) {
    }

    /**
     * The overlay a network realized here needs, as the last reconcile computed it.
     *
     * @param network the network
     * @param vni its VXLAN network identifier, recorded fleet-wide
     * @param local this host's tunnel endpoint
     * @param remotes its members on other live hosts, by workspace
     * @param vteps the tunnel endpoints of the other live hosts: VXLAN is accepted from these only
     */
    public record Tunnel(String network, int vni, Ipv4Address local, List<Remote> remotes, Set<Ipv4Address> vteps) {

        /**
         * Copies the collections.
         *
         * @param network the network
         * @param vni its VXLAN network identifier, recorded fleet-wide
         * @param local this host's tunnel endpoint
         * @param remotes its members on other live hosts, by workspace
         * @param vteps the tunnel endpoints of the other live hosts: VXLAN is accepted from these only
         * @throws NullPointerException if a collection is null
         */
        public Tunnel {
            remotes = List.copyOf(remotes);
            vteps = Set.copyOf(new TreeSet<>(vteps));
        }
    }

    private final Settings settings;
    private final NetworkRealizer realizer;
    private final Semaphore wake = new Semaphore(0);
    /** Whether the next pass must reconcile everything (else only the tunnels of {@link #dirty}). */
    private final AtomicBoolean full = new AtomicBoolean(true);
    /** Networks whose placements or members changed elsewhere: their tunnels are recomputed at once. */
    private final Set<String> dirty = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /**
     * The members' addresses of the networks with a tunnel, by network and workspace: read whole by every full
     * reconcile and kept up by the registry's member changes in between, so a placement change needs no read of the
     * network.
     */
    private final Map<String, Map<String, Ipv4Address>> members = new java.util.concurrent.ConcurrentHashMap<>();
    /** The guest MACs of the members placed here, by network, as last applied to the tunnel filters. */
    private final Map<String, Set<MacAddress>> localMacs = new java.util.concurrent.ConcurrentHashMap<>();
    /** The other live hosts' endpoints as the last full reconcile read them (a host up or down makes a full one). */
    private volatile Map<String, Ipv4Address> liveHosts = Map.of();
    /** VNIs already allocated (a network's never changes), so a tunnel update needs no write. */
    private final Map<String, Integer> vnis = new java.util.concurrent.ConcurrentHashMap<>();
    private final CountDownLatch firstSync = new CountDownLatch(1);
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Thread thread;
    private volatile HostLease lease;
    private volatile Map<String, Tunnel> tunnels = Map.of();
    private volatile boolean stopping;
    private String lastFailure; // only touched by the thread

    private HostAgent(Settings settings, HostLease lease) {
        this.settings = settings;
        this.lease = lease;
        this.realizer = new NetworkRealizer(settings.rootDir(), settings.registry(),
                new NetworkRealizer.Fleet(settings.placements(), settings.host().name(), settings.underlayMtu()));
        // a platform thread started here acts in the caller's network namespace, as the realizer must
        this.thread = new Thread(this::run, "tapwire-host-agent-" + settings.host().name());
        thread.setDaemon(true);
    }

    /**
     * Starts an agent: registers the host (re-attaching to its own live lease after a restart), reconciles once and
     * keeps reconciling until closed. Returns once the first reconcile ran (or failed, which is logged and retried).
     *
     * @param settings what to run with
     * @return the running agent; close it to stop
     * @throws InvalidNetworkSpecException if settings is null
     * @throws HostConflictException if another live host holds this host's name
     * @throws dev.tapwire.network.NetworkException if the placement registry cannot be written
     */
    public static HostAgent start(Settings settings) {
        if (settings == null) {
            throw new InvalidNetworkSpecException("a host agent needs its settings (HostAgent.Settings.of)");
        }
        HostLease lease = settings.placements().register(settings.host(), settings.ttl());
        HostAgent agent = new HostAgent(settings, lease);
        agent.thread.start();
        try {
            if (!agent.firstSync.await(FIRST_SYNC_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                LOG.warn("host agent {}: the first reconcile has not finished after {} s; it goes on in the background",
                        settings.host(), FIRST_SYNC_WAIT.toSeconds());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        LOG.debug("host agent {} started (TTL {} s)", settings.host(), settings.ttl().toSeconds());
        return agent;
    }

    /**
     * Returns the host this agent keeps in the fleet.
     *
     * @return the host record
     */
    public HostRecord host() {
        return settings.host();
    }

    /**
     * Returns the realizer the agent keeps in step (a fleet realizer of the agent's state directory).
     *
     * @return the realizer
     */
    public NetworkRealizer realizer() {
        return realizer;
    }

    /**
     * Returns the overlay of every network realized here with one, by network, as the last reconcile computed it.
     *
     * @return network to tunnel
     */
    public Map<String, Tunnel> tunnels() {
        return tunnels;
    }

    /** Asks for a reconcile now (it runs on the agent's thread; a burst of requests makes one). */
    public void wake() {
        full.set(true);
        wake.release();
    }

    /**
     * What a change asks for: a member placed, moved or unplaced by another host, or a member that joined or left,
     * only needs that network's tunnel recomputed (DNS and DHCP follow the registry through the realizer's own
     * follower); anything else — this host's own placements, a host up or down, a resync — a full reconcile.
     */
    private void changed(PlacementChange change) {
        boolean tunnelOnly = (change.type() == PlacementChange.Type.PLACED
                || change.type() == PlacementChange.Type.UNPLACED) && !settings.host().name().equals(change.host());
        if (tunnelOnly) {
            dirty.add(change.network());
        } else {
            full.set(true);
        }
        wake.release();
    }

    private void changed(RegistryChange change) {
        if (change.network() != null && change.member() != null && (change.type() == RegistryChange.Type.MEMBER_JOINED
                || change.type() == RegistryChange.Type.MEMBER_LEFT)) {
            Map<String, Ipv4Address> known = members.get(change.network());
            if (known != null) {
                if (change.type() == RegistryChange.Type.MEMBER_JOINED) {
                    known.put(change.member().workspace(), change.member().ip());
                } else {
                    known.remove(change.member().workspace(), change.member().ip());
                }
            }
            Tunnel t = tunnels.get(change.network());
            if (t == null || t.remotes().stream().noneMatch(r -> r.workspace().equals(change.member().workspace()))) {
                return; // no tunnel entry of it: a member is placed after it joined, and that change comes then
            }
            dirty.add(change.network());
        } else {
            full.set(true);
        }
        wake.release();
    }

    /**
     * Stops the agent: no further reconcile, the watches closed, the lease no longer renewed but not withdrawn (its
     * records stay for the TTL), the realization left as it is. Idempotent; waits for a reconcile under way.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        stopping = true;
        wake.release();
        if (Thread.currentThread() != thread) {
            try {
                thread.join(FIRST_SYNC_WAIT.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        lease.close();
        LOG.debug("host agent {} stopped; its lease runs out in {} s unless it starts again", settings.host(),
                settings.ttl().toSeconds());
    }

    private void run() {
        List<AutoCloseable> watches = new ArrayList<>();
        watches.add(watchPortRecords());
        watches.add(realizer.follow()); // DNS and DHCP follow the registry on the realizer's own thread
        RegistryWatch[] registryWatches = new RegistryWatch[2]; // placements, registry: opened until they are
        try {
            while (!stopping) {
                openWatches(registryWatches);
                wake.drainPermits(); // this pass covers every change reported so far
                if (full.getAndSet(false)) {
                    dirty.clear();
                    reconcileOnce();
                } else {
                    refreshTunnels();
                }
                firstSync.countDown();
                try {
                    if (!wake.tryAcquire(settings.resync().toMillis(), TimeUnit.MILLISECONDS)) {
                        full.set(true); // the periodic reconcile: nothing reported is no proof nothing changed
                    }
                } catch (InterruptedException e) {
                    return;
                }
            }
        } finally {
            firstSync.countDown();
            for (RegistryWatch w : registryWatches) {
                if (w != null) {
                    watches.add(w);
                }
            }
            for (AutoCloseable w : watches) {
                try {
                    w.close();
                } catch (Exception e) {
                    LOG.debug("closing a watch of host agent {}: {}", settings.host(), e.toString());
                }
            }
        }
    }

    /**
     * Opens the placement and registry watches that are not open yet (none at first; one that could not be had is
     * tried again at every pass, reconciling every resync period meanwhile); a newly opened one asks for a full
     * reconcile, since changes before it were not reported.
     */
    private void openWatches(RegistryWatch[] open) {
        try {
            if (open[0] == null) {
                open[0] = settings.placements().watch(this::changed);
                full.set(true);
            }
            if (open[1] == null) {
                open[1] = settings.registry().watch(this::changed);
                full.set(true);
            }
        } catch (RuntimeException e) {
            failed("host agent " + settings.host() + " cannot watch the registry (retried; reconciling every "
                    + settings.resync().toMillis() + " ms meanwhile): " + e.getMessage());
        }
    }

    private void reconcileOnce() {
        try {
            ensureLease();
            List<Realization> realized = new ArrayList<>();
            boolean spans = settings.placements().spansHosts();
            boolean clean = true;
            for (Realization r : realizer.list()) { // a NIC's configure realizes on one host: bring in the overlay
                try {
                    realized.add(r.overlay() == spans ? r : realizer.realize(r.network()));
                } catch (NetworkException e) { // that network stays as it is; the others go on
                    failed("host agent " + settings.host() + " cannot realize network " + r.network()
                            + (spans ? " across hosts: " : " for this host alone: ") + e.getMessage());
                    realized.add(r);
                    clean = false;
                }
            }
            publishPlacements(realized);
            realizer.syncAll();
            Map<String, Tunnel> wanted = new TreeMap<>();
            Map<String, Set<MacAddress>> locals = new TreeMap<>();
            Map<String, Ipv4Address> live = new TreeMap<>();
            settings.placements().hosts().forEach(h -> live.put(h.name(), h.underlay()));
            live.remove(settings.host().name());
            liveHosts = Map.copyOf(live);
            Set<String> withTunnel = new TreeSet<>();
            for (Realization r : realized) {
                Optional<NetworkRecord> record = r.overlay() ? settings.registry().find(r.network())
                        : Optional.empty();
                if (record.isPresent()) {
                    Map<String, Ipv4Address> addresses = new java.util.concurrent.ConcurrentHashMap<>();
                    record.get().members().forEach(m -> addresses.put(m.workspace(), m.ip()));
                    members.put(r.network(), addresses);
                    withTunnel.add(r.network());
                    List<Placement> placed = settings.placements().placements(r.network());
                    wanted.put(r.network(), tunnel(r.network(), addresses, live, placed));
                    locals.put(r.network(), localMacs(placed));
                }
            }
            members.keySet().retainAll(withTunnel);
            realizer.applyOverlays(wanted, Optional.of(new TreeSet<>(live.values())), locals);
            localMacs.keySet().retainAll(wanted.keySet());
            localMacs.putAll(locals);
            tunnels = Map.copyOf(wanted);
            if (lastFailure != null && clean) {
                LOG.warn("host agent {}: in step with the registry again", settings.host());
                lastFailure = null;
            }
        } catch (RuntimeException e) {
            failed("host agent " + settings.host() + " could not reconcile (retried at the next change or within "
                    + settings.resync().toMillis() + " ms): " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            LOG.debug("host agent {}: the reconcile failed", settings.host(), e);
        }
    }

    /**
     * Watches the provider's port records (inotify on {@code rootDir/bridge}): a NIC made or deleted here by any
     * process is placed or unplaced at once, not at the next resync.
     */
    private AutoCloseable watchPortRecords() {
        Path dir = settings.rootDir().resolve("bridge");
        try {
            java.nio.file.Files.createDirectories(dir);
            java.nio.file.WatchService service = dir.getFileSystem().newWatchService();
            dir.register(service, java.nio.file.StandardWatchEventKinds.ENTRY_CREATE,
                    java.nio.file.StandardWatchEventKinds.ENTRY_MODIFY);
            Thread watcher = new Thread(() -> {
                try {
                    while (true) {
                        java.nio.file.WatchKey key = service.take();
                        boolean ports = key.pollEvents().stream().anyMatch(e -> e.context() == null
                                || e.context().toString().equals("ports.journal"));
                        key.reset();
                        if (ports) {
                            wake();
                        }
                    }
                } catch (InterruptedException | java.nio.file.ClosedWatchServiceException e) {
                    // closed with the agent
                }
            }, "tapwire-host-agent-ports-" + settings.host().name());
            watcher.setDaemon(true);
            watcher.start();
            return service;
        } catch (java.io.IOException e) {
            failed("host agent " + settings.host() + " cannot watch " + dir + " (NICs made here are placed at the next"
                    + " resync, within " + settings.resync().toMillis() + " ms): " + e.getMessage());
            return () -> { };
        }
    }

    /**
     * The fast path: recomputes and applies the tunnels of the networks that changed elsewhere, nothing else (a
     * failure asks for a full reconcile, which retries).
     */
    private void refreshTunnels() {
        Set<String> networks = new TreeSet<>(dirty);
        dirty.removeAll(networks);
        try {
            Map<String, Tunnel> changed = new TreeMap<>();
            Map<String, Set<MacAddress>> locals = new TreeMap<>();
            Map<String, Tunnel> all = new TreeMap<>(tunnels);
            for (String network : networks) {
                if (!tunnels.containsKey(network)) {
                    continue; // not realized here with an overlay (the next full reconcile would see a new one)
                }
                Map<String, Ipv4Address> addresses = members.get(network);
                if (addresses == null) {
                    full.set(true);
                    continue;
                }
                List<Placement> placed = settings.placements().placements(network);
                Tunnel t = tunnel(network, addresses, liveHosts, placed);
                Set<MacAddress> here = localMacs(placed);
                if (!t.equals(tunnels.get(network)) || !here.equals(localMacs.get(network))) {
                    changed.put(network, t);
                    locals.put(network, here);
                }
            }
            if (!changed.isEmpty()) {
                realizer.applyOverlays(changed, Optional.empty(), locals);
                all.putAll(changed);
                tunnels = Map.copyOf(all);
                localMacs.putAll(locals);
            }
        } catch (RuntimeException e) {
            full.set(true);
            wake.release();
            failed("host agent " + settings.host() + " could not update the tunnels of " + networks + " (a full"
                    + " reconcile follows): " + (e.getMessage() == null ? e.toString() : e.getMessage()));
        }
    }

    private Set<MacAddress> localMacs(List<Placement> placed) {
        return placed.stream().filter(p -> p.host().equals(settings.host().name())).map(Placement::mac)
                .collect(java.util.stream.Collectors.toSet());
    }

    /** Registers again when the lease was lost (not renewed within its TTL: its records are gone). */
    private void ensureLease() {
        if (!lease.isValid()) {
            LOG.warn("host agent {}: its lease was lost (its records vanished from the fleet); registering again",
                    settings.host());
            lease = settings.placements().register(settings.host(), settings.ttl());
        }
    }

    /**
     * Places every member whose NIC tapwire made here (a TAP of this state directory on the network's bridge with a
     * recorded guest MAC that is the member's), and unplaces this host's placements that no such NIC explains.
     */
    private void publishPlacements(List<Realization> realized) {
        Map<String, Map<String, PortSecurity.Entry>> ports;
        try (Lease gc = BridgeNetworkProvider.gcLock(settings.rootDir()).acquire()) {
            ports = PortRecords.vms(settings.rootDir());
        }
        Map<String, Link> byName = new HashMap<>();
        try (Rtnetlink netlink = Rtnetlink.open()) {
            netlink.links().forEach(l -> byName.put(l.name(), l));
        }
        for (Realization r : realized) {
            Optional<NetworkRecord> record = settings.registry().find(r.network());
            Link bridge = byName.get(r.bridge());
            if (record.isEmpty() || bridge == null) {
                continue;
            }
            Map<MacAddress, String> members = new HashMap<>();
            for (Member m : record.get().members()) {
                members.put(MacAddress.forMember(r.network(), m.workspace()), m.workspace());
            }
            Map<String, MacAddress> here = new TreeMap<>();
            ports.values().forEach(taps -> taps.forEach((tap, entry) -> {
                Link link = byName.get(tap);
                if (link != null && link.masterIndex() == bridge.index() && entry.mac().isPresent()
                        && members.containsKey(entry.mac().get())) {
                    here.put(members.get(entry.mac().get()), entry.mac().get());
                }
            }));
            Map<String, Placement> placed = new TreeMap<>();
            for (Placement p : settings.placements().placements(r.network())) {
                placed.put(p.workspace(), p);
            }
            here.forEach((workspace, mac) -> {
                Placement p = placed.get(workspace);
                if (p == null || !p.host().equals(settings.host().name()) || !p.mac().equals(mac)) {
                    lease.place(r.network(), workspace, mac);
                    LOG.debug("host agent {}: placed {} of network {} ({}) here", settings.host(), workspace,
                            r.network(), mac);
                }
            });
            placed.values().stream().filter(p -> p.host().equals(settings.host().name())
                    && !here.containsKey(p.workspace())).forEach(p -> {
                        lease.unplace(r.network(), p.workspace());
                        LOG.debug("host agent {}: unplaced {} of network {}: no NIC of it here", settings.host(),
                                p.workspace(), r.network());
                    });
        }
    }

    /**
     * The overlay a network needs now: its members ({@code addresses}, workspace to address) placed on the other live
     * hosts ({@code live}, name to endpoint), and those hosts' endpoints.
     */
    private Tunnel tunnel(String network, Map<String, Ipv4Address> addresses, Map<String, Ipv4Address> live,
            List<Placement> placed) {
        List<Remote> remotes = new ArrayList<>();
        for (Placement p : placed) {
            Ipv4Address vtep = live.get(p.host());
            Ipv4Address ip = addresses.get(p.workspace());
            if (vtep != null && ip != null) {
                remotes.add(new Remote(p.workspace(), p.mac(), ip, p.host(), vtep));
            }
        }
        int vni = vnis.computeIfAbsent(network, lease::vni);
        return new Tunnel(network, vni, settings.host().underlay(), remotes, Set.copyOf(live.values()));
    }

    /** Warns once per distinct failure, so a registry that stays unreachable does not flood the log. */
    private void failed(String message) {
        if (!message.equals(lastFailure)) {
            LOG.warn(message);
            lastFailure = message;
        } else {
            LOG.debug(message);
        }
    }
}
