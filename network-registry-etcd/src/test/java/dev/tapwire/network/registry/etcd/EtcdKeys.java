package dev.tapwire.network.registry.etcd;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.options.GetOption;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/** Reads a registry's keys straight from etcd, for tests that check what etcd itself holds. */
final class EtcdKeys implements AutoCloseable {

    private final Client client;

    EtcdKeys(String... endpoints) {
        this.client = Client.builder().endpoints(endpoints).build();
    }

    /** Every key under {@code prefix + under}, by its name below {@code prefix}, with its value. */
    Map<String, String> under(String prefix, String under) throws Exception {
        Map<String, String> keys = new TreeMap<>();
        for (KeyValue kv : client.getKVClient().get(bytes(prefix + under), GetOption.builder().isPrefix(true).build())
                .get(10, TimeUnit.SECONDS).getKvs()) {
            keys.put(kv.getKey().toString(StandardCharsets.UTF_8).substring(prefix.length()),
                    kv.getValue().toString(StandardCharsets.UTF_8));
        }
        return keys;
    }

    /**
     * Writes a network with {@code count} members ({@code <name>-0}, ...) straight into etcd, as the registry lays
     * its keys out, in transactions of at most 64 keys: a registry of a size that joins one by one would take long
     * to make.
     */
    void writeNetwork(String prefix, String network, String subnet, List<String> workspaces) throws Exception {
        dev.tapwire.network.Ipv4Subnet s = dev.tapwire.network.Ipv4Subnet.parse(subnet);
        List<io.etcd.jetcd.op.Op> ops = new java.util.ArrayList<>();
        ops.add(put(prefix + "n/" + network, s + " " + s.firstHost() + " -"));
        long offset = 2;
        for (String ws : workspaces) {
            ops.add(put(prefix + "m/" + network + "/" + ws, s.networkAddress().plus(offset).toString()));
            ops.add(put(prefix + "a/" + network + "/" + String.format("%08x", offset), ws));
            offset++;
        }
        List<CompletableFuture<?>> pending = new java.util.ArrayList<>();
        for (int from = 0; from < ops.size(); from += 64) {
            pending.add(client.getKVClient().txn().Then(ops.subList(from, Math.min(ops.size(), from + 64))
                    .toArray(io.etcd.jetcd.op.Op[]::new)).commit());
            if (pending.size() == 32) {
                for (CompletableFuture<?> f : pending) {
                    f.get(30, TimeUnit.SECONDS);
                }
                pending.clear();
            }
        }
        for (CompletableFuture<?> f : pending) {
            f.get(30, TimeUnit.SECONDS);
        }
    }

    private static io.etcd.jetcd.op.Op put(String key, String value) {
        return io.etcd.jetcd.op.Op.put(bytes(key), bytes(value), io.etcd.jetcd.options.PutOption.DEFAULT);
    }

    Client client() {
        return client;
    }

    static ByteSequence bytes(String text) {
        return ByteSequence.from(text, StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        client.close();
    }
}
