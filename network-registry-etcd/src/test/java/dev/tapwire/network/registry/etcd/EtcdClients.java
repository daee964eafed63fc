package dev.tapwire.network.registry.etcd;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/** Registry clients of a test on a key prefix of its own (so an empty registry), all closed when it ends. */
final class EtcdClients {

    private static final AtomicInteger PREFIXES = new AtomicInteger();

    private final List<EtcdNetworkRegistry> opened = new ArrayList<>();
    private String prefix;

    /** Starts a fresh prefix, {@code /<label>-<n>/}: clients opened from now on share it. */
    String freshPrefix(String label) {
        prefix = "/" + label + "-" + PREFIXES.incrementAndGet() + "/";
        return prefix;
    }

    /** The current prefix. */
    String prefix() {
        return prefix;
    }

    /** Opens a client of the current prefix on {@code endpoints}. */
    EtcdNetworkRegistry open(String... endpoints) {
        EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(endpoints).prefix(prefix).build();
        opened.add(registry);
        return registry;
    }

    /** Closes every client opened. */
    void closeAll() {
        opened.forEach(EtcdNetworkRegistry::close);
        opened.clear();
    }
}
