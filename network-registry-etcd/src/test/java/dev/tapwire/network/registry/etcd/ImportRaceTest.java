package dev.tapwire.network.registry.etcd;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.NetworkNotFoundException;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.testkit.EtcdServers;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code writeIndex} beside running joins: the import is all-or-nothing and never leaves a key of a join it did not
 * see — no address key overwritten (two members on one address), no member or address key without its network.
 * Checked from etcd's own keys after every import.
 */
class ImportRaceTest {

    private static final String PREFIX = "/import-race/";
    private static final Ipv4Subnet DEV = Ipv4Subnet.parse("10.44.1.0/24");
    private static final Ipv4Subnet GONE = Ipv4Subnet.parse("10.44.7.0/24");

    /** Round {@code k}'s index: dev's members on .2-.6 or on .10-.14 by turns, and network gone every other round. */
    private static NetworkIndex index(int round) {
        List<Member> members = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            members.add(new Member("imported-" + round + "-" + i, Ipv4Address.parse(round % 2 == 0 ? "10.44.1.2"
                    : "10.44.1.10").plus(i)));
        }
        List<NetworkRecord> networks = new ArrayList<>(List.of(new NetworkRecord("dev", DEV, DEV.firstHost(), null,
                members)));
        if (round % 2 == 1) {
            networks.add(new NetworkRecord("gone", GONE, GONE.firstHost(), null, List.of()));
        }
        return new NetworkIndex(networks);
    }

    @Test
    @Timeout(120)
    void importsBesideRunningJoinsLeaveNoAddressHeldTwiceAndNoKeyWithoutItsNetwork() throws Exception {
        try (EtcdServers etcd = EtcdServers.start(1, "--max-txn-ops=4096")) { // an import deletes every join since
            importsBesideRunningJoins(etcd);
        }
    }

    private void importsBesideRunningJoins(EtcdServers etcd) throws Exception {
        List<String> anomalies = new ArrayList<>();
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        AtomicBoolean stop = new AtomicBoolean();
        try (EtcdNetworkRegistry importer = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix(PREFIX)
                        .maxTxnOps(4096).build();
                EtcdKeys keys = new EtcdKeys(etcd.endpoints())) {
            importer.writeIndex(index(1));
            List<Thread> joiners = new ArrayList<>();
            List<EtcdNetworkRegistry> clients = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                EtcdNetworkRegistry client = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix(PREFIX).build();
                clients.add(client);
                int thread = t;
                joiners.add(new Thread(() -> {
                    for (int i = 0; !stop.get(); i++) {
                        String network = i % 2 == 0 ? "dev" : "gone";
                        try {
                            client.join(network, "joiner-" + thread + "-" + i);
                        } catch (NetworkNotFoundException absentThisRound) {
                            // gone is in every other index only
                        } catch (NetworkException e) {
                            failures.add(e);
                        }
                    }
                }));
            }
            joiners.forEach(Thread::start);
            for (int round = 2; round < 14; round++) {
                Thread.sleep(150); // joins get in between
                importer.writeIndex(index(round));
                check(keys, "after import " + round, anomalies);
            }
            stop.set(true);
            for (Thread t : joiners) {
                t.join();
            }
            check(keys, "at the end", anomalies);
            clients.forEach(EtcdNetworkRegistry::close);
        }
        assertThat(failures).as("joins wait for an import, they do not fail").isEmpty();
        assertThat(anomalies).isEmpty();
    }

    /** Member and address keys match one to one, each within a network that exists. */
    private static void check(EtcdKeys keys, String when, List<String> anomalies) throws Exception {
        Map<String, String> all = keys.under(PREFIX, "");
        Map<String, String> addressOf = new HashMap<>();
        Map<String, String> holderOf = new HashMap<>();
        for (Map.Entry<String, String> e : all.entrySet()) {
            String[] parts = e.getKey().split("/");
            if (parts[0].equals("m") || parts[0].equals("a")) {
                if (!all.containsKey("n/" + parts[1])) {
                    anomalies.add(when + ": " + e.getKey() + " without network " + parts[1]);
                }
                (parts[0].equals("m") ? addressOf : holderOf).put(parts[1] + "/" + parts[2], e.getValue());
            }
        }
        for (Map.Entry<String, String> m : addressOf.entrySet()) {
            String network = m.getKey().substring(0, m.getKey().indexOf('/'));
            Ipv4Subnet subnet = Ipv4Subnet.parse(all.get("n/" + network) == null ? "0.0.0.0/0"
                    : all.get("n/" + network).split(" ")[0]);
            Ipv4Address ip = Ipv4Address.parse(m.getValue().split(" ")[0]);
            String offset = network + "/" + String.format("%08x", ip.toLong() - subnet.networkAddress().toLong());
            String holder = holderOf.get(offset);
            if (!m.getKey().substring(network.length() + 1).equals(holder)) {
                anomalies.add(when + ": member " + m.getKey() + " on " + ip + " but its address key says " + holder);
            }
        }
        if (holderOf.size() != addressOf.size()) {
            anomalies.add(when + ": " + holderOf.size() + " address keys for " + addressOf.size() + " members");
        }
    }
}
