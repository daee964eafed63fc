package dev.tapwire.network.bridge;

import dev.tapwire.network.HostConflictException;
import dev.tapwire.network.HostLease;
import dev.tapwire.network.HostRecord;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.Placement;
import dev.tapwire.network.PlacementChange;
import dev.tapwire.network.PlacementRegistry;
import dev.tapwire.network.RegistryWatch;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * A placement registry in memory for the realizer's and the agent's tests, shared by the "hosts" of one test: a lease
 * holds until the test {@link #expire expires} it or it is withdrawn (no clock: the test decides when a host dies),
 * and every change is reported to every watch at once, on the changing thread.
 */
final class InMemoryPlacements implements PlacementRegistry {

    private final NetworkRegistry registry;
    private final boolean spansHosts;
    private final Map<String, Lease> hosts = new TreeMap<>(); // guarded by this
    private final Map<String, Placement> placements = new TreeMap<>(); // network/workspace, guarded by this
    private final Map<String, Integer> vnis = new TreeMap<>(); // guarded by this
    private final List<Consumer<PlacementChange>> listeners = new CopyOnWriteArrayList<>();

    InMemoryPlacements(NetworkRegistry registry, boolean spansHosts) {
        this.registry = registry;
        this.spansHosts = spansHosts;
    }

    @Override
    public boolean spansHosts() {
        return spansHosts;
    }

    @Override
    public synchronized List<HostRecord> hosts() {
        return hosts.values().stream().map(Lease::host).toList();
    }

    @Override
    public synchronized List<Placement> placements(String network) {
        return placements.values().stream().filter(p -> p.network().equals(network))
                .sorted(Comparator.comparing(Placement::workspace)).toList();
    }

    @Override
    public synchronized Optional<Integer> vni(String network) {
        return Optional.ofNullable(vnis.get(network));
    }

    @Override
    public HostLease register(HostRecord host, Duration ttl) {
        if (ttl.compareTo(Duration.ofSeconds(2)) < 0) {
            throw new InvalidNetworkSpecException("a host lease lives at least 2 s, not " + ttl);
        }
        Lease lease;
        synchronized (this) {
            Lease live = hosts.get(host.name());
            if (live != null && !live.host().equals(host)) {
                throw new HostConflictException(host.name(), "host " + host.name() + " is live at "
                        + live.host().underlay() + "; another host cannot take its name");
            }
            lease = new Lease(host);
            hosts.put(host.name(), lease);
        }
        report(new PlacementChange(PlacementChange.Type.HOST_UP, null, null, host.name()));
        return lease;
    }

    @Override
    public HostLease attach(String host) {
        Lease live;
        synchronized (this) {
            live = hosts.get(host);
        }
        if (live == null) {
            throw new NetworkException("no live host " + host + ": start its agent");
        }
        return new HostLease() { // a handle: places through the lease, never ends it
            @Override
            public HostRecord host() {
                return live.host();
            }

            @Override
            public void place(String network, String workspace, MacAddress mac) {
                live.place(network, workspace, mac);
            }

            @Override
            public void unplace(String network, String workspace) {
                live.unplace(network, workspace);
            }

            @Override
            public int vni(String network) {
                return live.vni(network);
            }

            @Override
            public boolean isValid() {
                return live.isValid();
            }

            @Override
            public void withdraw() {
            }

            @Override
            public void close() {
            }
        };
    }

    @Override
    public RegistryWatch watch(Consumer<PlacementChange> listener) {
        listeners.add(listener);
        listener.accept(PlacementChange.resync());
        return () -> listeners.remove(listener);
    }

    /** Ends a host's lease as an expiry does: its record and placements vanish, every watch hears of it. */
    void expire(String host) {
        Lease lease;
        synchronized (this) {
            lease = hosts.get(host);
        }
        if (lease != null) {
            lease.end();
        }
    }

    private void report(PlacementChange change) {
        listeners.forEach(l -> l.accept(change));
    }

    private final class Lease implements HostLease {
        private final HostRecord host;
        private volatile boolean valid = true;

        Lease(HostRecord host) {
            this.host = host;
        }

        @Override
        public HostRecord host() {
            return host;
        }

        @Override
        public void place(String network, String workspace, MacAddress mac) {
            if (registry.get(network).member(workspace).isEmpty()) {
                throw new InvalidNetworkSpecException(workspace + " is no member of " + network);
            }
            synchronized (InMemoryPlacements.this) {
                requireValid();
                placements.put(network + "/" + workspace, new Placement(network, workspace, host.name(), mac));
            }
            report(new PlacementChange(PlacementChange.Type.PLACED, network, workspace, host.name()));
        }

        @Override
        public void unplace(String network, String workspace) {
            boolean removed;
            synchronized (InMemoryPlacements.this) {
                Placement p = placements.get(network + "/" + workspace);
                removed = p != null && p.host().equals(host.name());
                if (removed) {
                    placements.remove(network + "/" + workspace);
                }
            }
            if (removed) {
                report(new PlacementChange(PlacementChange.Type.UNPLACED, network, workspace, host.name()));
            }
        }

        @Override
        public int vni(String network) {
            registry.get(network);
            synchronized (InMemoryPlacements.this) {
                return vnis.computeIfAbsent(network, n -> 100 + vnis.size());
            }
        }

        @Override
        public boolean isValid() {
            return valid;
        }

        @Override
        public void withdraw() {
            end();
        }

        @Override
        public void close() {
            // stops renewing: in memory the records stay until the test expires the host
        }

        void end() {
            synchronized (InMemoryPlacements.this) {
                if (!valid) {
                    return;
                }
                valid = false;
                if (hosts.get(host.name()) == this) {
                    hosts.remove(host.name());
                }
                new ArrayList<>(placements.entrySet()).stream().filter(e -> e.getValue().host().equals(host.name()))
                        .forEach(e -> placements.remove(e.getKey()));
            }
            report(new PlacementChange(PlacementChange.Type.HOST_DOWN, null, null, host.name()));
        }

        private void requireValid() {
            if (!valid) {
                throw new NetworkException("the lease of host " + host.name() + " has ended");
            }
        }
    }
}
