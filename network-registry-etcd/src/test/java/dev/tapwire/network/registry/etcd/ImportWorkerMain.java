package dev.tapwire.network.registry.etcd;

import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.NetworkRecord;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Child-process importer for the crash tests: imports {@link #index(String, int)} and, just before its {@code n}-th
 * commit of a phase ({@code stage}: counted from the first; {@code apply}: counted from the first after its commit
 * record appeared), prints {@code paused} and waits to be SIGKILLed.
 */
public final class ImportWorkerMain {

    private ImportWorkerMain() {
    }

    /** An index of {@code members} members over two networks, named after {@code tag}. */
    static NetworkIndex index(String tag, int members) {
        List<NetworkRecord> networks = new ArrayList<>();
        for (int n = 0; n < 2; n++) {
            Ipv4Subnet subnet = Ipv4Subnet.parse("10.44." + (16 * (n + 1)) + ".0/20");
            List<Member> list = new ArrayList<>();
            int count = n == 0 ? members - members / 3 : members / 3;
            int first = tag.equals("old") ? 2 : 7; // "old" from .2 on, any other from .7 on
            for (int i = 0; i < count; i++) {
                list.add(new Member(tag + "-" + n + "-" + i, subnet.networkAddress().plus(first + i)));
            }
            networks.add(new NetworkRecord(n == 0 ? "net0" : tag + "-net", subnet, subnet.firstHost(), null, list));
        }
        return new NetworkIndex(networks);
    }

    public static void main(String[] args) throws Exception {
        String[] endpoints = args[0].split(",");
        String prefix = args[1];
        String phase = args[2];
        int pauseAt = Integer.parseInt(args[3]);
        NetworkIndex index = index(args[4], Integer.parseInt(args[5]));
        PrintStream out = new PrintStream(System.out, true);
        try (Client peek = Client.builder().endpoints(endpoints).build()) {
            ByteSequence commitKey = ByteSequence.from(prefix + "commit", StandardCharsets.UTF_8);
            int[] commits = {0};
            Runnable hook = () -> {
                try {
                    boolean counts = phase.equals("stage")
                            || !peek.getKVClient().get(commitKey).get(5, TimeUnit.SECONDS).getKvs().isEmpty();
                    if (counts && ++commits[0] == pauseAt) {
                        out.println("paused");
                        Thread.sleep(Long.MAX_VALUE);
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            };
            try (EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(endpoints).prefix(prefix)
                    .timeout(Duration.ofSeconds(2)).beforeCommit(hook).build()) {
                registry.writeIndex(index);
            }
        }
        out.println("done"); // not reached when paused
    }
}
