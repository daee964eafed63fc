package dev.tapwire.network.registry.etcd;

import dev.tapwire.network.testkit.EtcdServers;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * Measures, by hand, the registry at the target size: one network of 100,000 members and 1,000 networks
 * (a workspace in each), on one local etcd with its default limits. Prints the time of each operation.
 * Run: {@code java -cp <test class path> dev.tapwire.network.registry.etcd.ScaleMain [members] [networks]}.
 */
public final class ScaleMain {

    private ScaleMain() {
    }

    /**
     * Starts one etcd, writes the registry straight into it, and times each operation once.
     *
     * @param args the number of members of the big network and of networks (default 100,000 and 1,000)
     * @throws Exception if etcd cannot be started or an operation fails
     */
    public static void main(String[] args) throws Exception {
        int members = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        int networks = args.length > 1 ? Integer.parseInt(args[1]) : 1_000;
        String prefix = "/scale/";
        try (EtcdServers etcd = EtcdServers.start(1, "--quota-backend-bytes=8589934592");
                EtcdKeys keys = new EtcdKeys(etcd.endpoints())) {
            List<String> workspaces = new ArrayList<>();
            for (int i = 0; i < members; i++) {
                workspaces.add("workspace-" + i);
            }
            long start = System.nanoTime();
            keys.writeNetwork(prefix, "big", "10.60.0.0/14", workspaces);
            for (int n = 1; n < networks; n++) {
                keys.writeNetwork(prefix, "net-" + n, "10." + (100 + n / 256) + "." + n % 256 + ".0/24",
                        List.of("roamer"));
            }
            System.out.printf("wrote %d members and %d networks in %d ms%n", members, networks, ms(start));
            try (EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix(prefix)
                    .timeout(java.time.Duration.ofSeconds(30)).build()) {
                time("readIndex", () -> registry.readIndex().networks().size());
                time("list", () -> registry.list().size());
                time("find(big)", () -> registry.find("big").orElseThrow().members().size());
                time("join(big, newcomer)", () -> registry.join("big", "newcomer"));
                time("leave(big, workspace-500)", () -> {
                    registry.leave("big", "workspace-500");
                    return "ok";
                });
                time("join(big, second)", () -> registry.join("big", "second"));
                time("leaveAll(roamer)", () -> {
                    registry.leaveAll("roamer");
                    return "ok";
                });
                time("create(extra)", () -> registry.create("extra").subnet());
                time("remove(extra)", () -> {
                    registry.remove("extra", false);
                    return "ok";
                });
                dev.tapwire.network.NetworkIndex index = registry.readIndex();
                time("writeIndex(readIndex())", () -> {
                    registry.writeIndex(index);
                    return "written";
                });
                time("readIndex after it", () -> registry.readIndex().equals(index) ? "equal to the index written"
                        : "DIFFERENT from the index written");
                time("join(big, after-import)", () -> registry.join("big", "after-import"));
            }
        }
    }

    private static void time(String what, Callable<Object> op) throws Exception {
        long start = System.nanoTime();
        Object result = op.call();
        System.out.printf("%-28s %6d ms  -> %s%n", what, ms(start), result);
    }

    private static long ms(long start) {
        return (System.nanoTime() - start) / 1_000_000;
    }
}
