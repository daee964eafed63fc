package dev.tapwire.network.registry.etcd;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.options.GetOption;
import java.nio.charset.StandardCharsets;
import java.util.Map;
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
