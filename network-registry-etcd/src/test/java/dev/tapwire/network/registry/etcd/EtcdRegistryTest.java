package dev.tapwire.network.registry.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.NetworkRegistries;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.testkit.EtcdServers;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The etcd registry with real servers: URIs, limits, and a cluster that loses members or its quorum. */
class EtcdRegistryTest {

    @Test
    void anEtcdUriOpensTheRegistryThroughDiscovery() throws Exception {
        try (EtcdServers etcd = EtcdServers.start(1)) {
            String hostPort = etcd.endpoints()[0].substring("http://".length());
            NetworkRegistry registry = NetworkRegistries.open(URI.create("etcd://" + hostPort + "/fleet-a/?timeout=3s"));
            try {
                registry.create("dev");
                assertThat(registry.join("dev", "w1")).isEqualTo(Ipv4Address.parse("10.44.1.2"));
                NetworkRegistry other = NetworkRegistries.open(URI.create("etcd://" + hostPort + "/fleet-b/"));
                assertThat(other.list()).as("another prefix is another registry").isEmpty();
                ((AutoCloseable) other).close();
            } finally {
                ((AutoCloseable) registry).close();
            }
            assertThatThrownBy(() -> NetworkRegistries.open(URI.create("etcd://" + hostPort + "/x/?colour=blue")))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("accepted: user, password");
            assertThatThrownBy(() -> NetworkRegistries.open(URI.create("etcd:///nohost")))
                    .isInstanceOf(InvalidNetworkSpecException.class).hasMessageContaining("etcd://host:2379");
        }
    }

    @Test
    @Timeout(120)
    void pastTheSearchHintAFreedLowAddressIsStillHandedOutFirst() throws Exception {
        try (EtcdServers etcd = EtcdServers.start(1);
                EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(etcd.endpoints()).build()) {
            registry.create("dev", Ipv4Subnet.parse("10.44.0.0/22"));
            for (int i = 0; i < 300; i++) {
                assertThat(registry.join("dev", "w" + i)).isEqualTo(Ipv4Address.parse("10.44.0.2").plus(i));
            }
            registry.leave("dev", "w5");
            registry.leave("dev", "w250");
            assertThat(registry.join("dev", "again-1")).isEqualTo(Ipv4Address.parse("10.44.0.7"));
            assertThat(registry.join("dev", "again-2")).isEqualTo(Ipv4Address.parse("10.44.0.252"));
            assertThat(registry.join("dev", "next")).isEqualTo(Ipv4Address.parse("10.44.1.46"));
        }
    }

    @Test
    @Timeout(180)
    void aClusterThatLosesAMemberMidRunLosesNoJoinAndHandsOutNoAddressTwice() throws Exception {
        try (EtcdServers etcd = EtcdServers.start(3)) {
            Map<String, Ipv4Address> acknowledged = new ConcurrentHashMap<>();
            List<Throwable> failures = new CopyOnWriteArrayList<>();
            java.util.Set<Integer> joinsBy = ConcurrentHashMap.newKeySet();
            AtomicBoolean stop = new AtomicBoolean();
            List<EtcdNetworkRegistry> clients = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                clients.add(EtcdNetworkRegistry.builder(etcd.endpoints()).timeout(Duration.ofSeconds(3)).build());
            }
            clients.get(0).create("dev", Ipv4Subnet.parse("10.44.0.0/20"));
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < clients.size(); t++) {
                EtcdNetworkRegistry client = clients.get(t);
                int thread = t;
                threads.add(new Thread(() -> {
                    for (int i = 0; !stop.get(); i++) {
                        String ws = "t" + thread + "-" + i;
                        try {
                            acknowledged.put(ws, client.join("dev", ws));
                            joinsBy.add(thread);
                            if (i % 3 == 2) {
                                client.leave("dev", ws);
                                acknowledged.remove(ws);
                            }
                        } catch (NetworkException e) {
                            failures.add(e);
                        }
                    }
                }));
            }
            threads.forEach(Thread::start);
            Thread.sleep(1500);
            etcd.members().get(0).kill(); // SIGKILL one member: the other two keep quorum
            Thread.sleep(2500);
            stop.set(true);
            for (Thread t : threads) {
                t.join();
            }
            NetworkRecord dev;
            try (EtcdNetworkRegistry check = EtcdNetworkRegistry.builder(etcd.endpoints()[1]).build()) {
                dev = check.get("dev");
            }
            clients.forEach(EtcdNetworkRegistry::close);
            assertThat(failures).as("clients fail over to the members left").isEmpty();
            assertThat(joinsBy).as("every client got joins through").containsExactlyInAnyOrder(0, 1, 2, 3);
            assertThat(dev.members()).extracting(Member::ip).doesNotHaveDuplicates();
            assertThat(dev.members().stream().collect(Collectors.toMap(Member::workspace, Member::ip)))
                    .isEqualTo(acknowledged);
        }
    }

    @Test
    @Timeout(180)
    void withoutQuorumOperationsFailNamingTheEndpointsAndSucceedWhenItReturns() throws Exception {
        try (EtcdServers etcd = EtcdServers.start(3);
                EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(etcd.endpoints())
                        .timeout(Duration.ofSeconds(2)).maxAttempts(3).build()) {
            registry.create("dev");
            registry.join("dev", "before");
            etcd.members().get(1).kill();
            etcd.members().get(2).kill();
            assertThatThrownBy(() -> registry.join("dev", "during")).isInstanceOf(NetworkException.class)
                    .hasMessageContaining(etcd.endpoints()[0]);
            etcd.members().get(1).restart();
            etcd.members().get(2).restart();
            etcd.awaitHealthy(etcd.members().get(1));
            etcd.awaitHealthy(etcd.members().get(2));
            Ipv4Address after = null;
            for (int i = 0; i < 30 && after == null; i++) { // the client reconnects on its own
                try {
                    after = registry.join("dev", "after");
                } catch (NetworkException e) {
                    Thread.sleep(500);
                }
            }
            assertThat(after).isNotNull();
            NetworkRecord dev = registry.get("dev");
            assertThat(dev.members()).extracting(Member::ip).doesNotHaveDuplicates();
            assertThat(dev.workspaces()).contains("before", "after");
            if (dev.member("during").isPresent()) { // committed without its reply: never a second address
                assertThat(dev.members()).hasSize(3);
            }
        }
    }

    @Test
    @Timeout(240)
    void fourProcessesOfFourThreadsWhileTheLeaderIsKilledNeverShareAnAddressNorLoseAJoin() throws Exception {
        try (EtcdServers etcd = EtcdServers.start(3)) {
            try (EtcdNetworkRegistry setup = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix("/contention/").build()) {
                setup.create("dev", Ipv4Subnet.parse("10.44.0.0/18"));
            }
            String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            List<Process> workers = new ArrayList<>();
            for (int p = 0; p < 4; p++) {
                workers.add(new ProcessBuilder(javaBin, "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                        EtcdWorkerMain.class.getName(), String.join(",", etcd.endpoints()), "/contention/", "p" + p, "8000")
                        .redirectError(ProcessBuilder.Redirect.INHERIT).start());
            }
            List<Future<List<String>>> outputs = new ArrayList<>();
            ExecutorService readers = Executors.newFixedThreadPool(4);
            for (Process w : workers) {
                outputs.add(readers.submit(() -> new String(w.getInputStream().readAllBytes()).lines().toList()));
            }
            Thread.sleep(2500);
            EtcdServers.Member leader = leaderOf(etcd);
            leader.kill(); // SIGKILL the leader mid-run: the other two elect a new one
            Map<String, String> acknowledged = new HashMap<>();
            java.util.Set<String> joiners = new java.util.HashSet<>();
            for (int p = 0; p < workers.size(); p++) {
                for (String line : outputs.get(p).get()) {
                    String[] parts = line.split(" ");
                    if (parts[0].equals("joined")) {
                        acknowledged.put(parts[1], parts[2]);
                        joiners.add(parts[1].substring(0, parts[1].lastIndexOf('-'))); // process-thread
                    } else {
                        acknowledged.remove(parts[1]);
                    }
                }
                assertThat(workers.get(p).waitFor()).as("worker %d", p).isZero();
            }
            readers.shutdown();
            NetworkRecord dev;
            List<String> live = new ArrayList<>(List.of(etcd.endpoints()));
            live.remove(leader.clientUrl());
            try (EtcdNetworkRegistry check = EtcdNetworkRegistry.builder(live.toArray(String[]::new))
                    .prefix("/contention/").build()) {
                dev = check.get("dev");
            }
            assertThat(joiners).as("every thread of every process got joins through").hasSize(16);
            assertThat(dev.members()).extracting(Member::ip).doesNotHaveDuplicates();
            assertThat(dev.members().stream().collect(Collectors.toMap(Member::workspace, m -> m.ip().toString())))
                    .isEqualTo(acknowledged);
        }
    }

    private static EtcdServers.Member leaderOf(EtcdServers etcd) throws Exception {
        try (io.etcd.jetcd.Client client = io.etcd.jetcd.Client.builder().endpoints(etcd.endpoints()).build()) {
            for (EtcdServers.Member m : etcd.members()) {
                var status = client.getMaintenanceClient().statusMember(m.clientUrl())
                        .get(5, TimeUnit.SECONDS);
                if (status.getLeader() == status.getHeader().getMemberId()) {
                    return m;
                }
            }
        }
        throw new AssertionError("no member says it is the leader");
    }
}
