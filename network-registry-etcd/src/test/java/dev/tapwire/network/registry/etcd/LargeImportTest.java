package dev.tapwire.network.registry.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.testkit.EtcdServers;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import dev.tapwire.network.RegistryChange;
import dev.tapwire.network.RegistryWatch;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code writeIndex} of an index far larger than one transaction, against one etcd with its default limits
 * ({@code --max-txn-ops} 128): it succeeds and reads back exactly, readers racing it see the old index or the new
 * one whole, and an importer SIGKILLed while staging or after its commit point leaves the old index or has its
 * import finished by the next client.
 */
class LargeImportTest {

    private static final int MEMBERS = 3000;
    private static final NetworkIndex OLD = ImportWorkerMain.index("old", MEMBERS).sorted();
    private static final NetworkIndex NEW = ImportWorkerMain.index("new", MEMBERS).sorted();
    private static EtcdServers etcd;

    @BeforeAll
    static void start() throws Exception {
        etcd = EtcdServers.start(1); // default limits: 128 operations a transaction, 1.5 MiB a request
    }

    @AfterAll
    static void stop() {
        if (etcd != null) {
            etcd.close();
        }
    }

    private static EtcdNetworkRegistry registry(String prefix) {
        return EtcdNetworkRegistry.builder(etcd.endpoints()).prefix(prefix).build();
    }

    @Test
    @Timeout(60)
    void workspaceNamesWithSpacesQuotesAndNonAsciiSurviveAnImport() {
        // the Go reference accepts any workspace string; the staged member records must not split on it
        NetworkIndex index = new NetworkIndex(List.of(new NetworkRecord("odd", Ipv4Subnet.parse("10.44.9.0/24"),
                Ipv4Address.parse("10.44.9.1"), Instant.parse("2026-01-02T03:04:05Z"), List.of(
                        new Member("db <primary> & \"replica\"", Ipv4Address.parse("10.44.9.2")),
                        new Member("worker-\u00fc", Ipv4Address.parse("10.44.9.3")),
                        new Member("a  b", Ipv4Address.parse("10.44.9.4"))))));
        try (EtcdNetworkRegistry registry = registry("/odd/")) {
            registry.writeIndex(index);
            assertThat(registry.readIndex()).isEqualTo(index);
            assertThat(registry.join("odd", "a  b")).isEqualTo(Ipv4Address.parse("10.44.9.4"));
        }
    }

    @Test
    @Timeout(60)
    void anImportOfThousandsOfMembersSucceedsUnderDefaultLimitsAndReadsBackExactly() throws Exception {
        try (EtcdNetworkRegistry registry = registry("/large/"); EtcdKeys keys = new EtcdKeys(etcd.endpoints())) {
            registry.create("stale");
            registry.join("stale", "someone");
            registry.writeIndex(OLD); // ~3,000 members: about 6,000 live keys, over 50 transactions of 128
            assertIndex(registry.readIndex(), OLD);
            registry.writeIndex(NEW);
            assertIndex(registry.readIndex(), NEW);
            assertThat(keys.under("/large/", "a/")).hasSize(MEMBERS);
            assertThat(keys.under("/large/", "s/")).isEmpty();
            assertThat(keys.under("/large/", "commit")).isEmpty();
            assertThat(keys.under("/large/", "i")).isEmpty();
            // and the registry goes on from it: a join takes the lowest free host
            assertThat(registry.join("net0", "late")).isEqualTo(Ipv4Address.parse("10.44.16.2"));
        }
    }

    @Test
    @Timeout(60)
    void readersRacingAnImportSeeTheOldOrTheNewIndexWhole() throws Exception {
        try (EtcdNetworkRegistry importer = registry("/race/"); EtcdNetworkRegistry reader = registry("/race/")) {
            importer.writeIndex(OLD);
            AtomicBoolean stop = new AtomicBoolean();
            List<String> mixed = new CopyOnWriteArrayList<>();
            AtomicInteger reads = new AtomicInteger();
            Thread readers = new Thread(() -> {
                while (!stop.get()) {
                    NetworkIndex seen = reader.readIndex();
                    if (!seen.equals(OLD) && !seen.equals(NEW)) {
                        mixed.add("readIndex: " + summary(seen));
                    }
                    Optional<NetworkRecord> net0 = reader.find("net0");
                    if (!net0.equals(Optional.of(OLD.networks().get(0))) && !net0.equals(Optional.of(NEW.networks().get(0)))) {
                        mixed.add("find: " + net0.map(n -> n.members().size() + " members").orElse("none"));
                    }
                    reads.incrementAndGet();
                }
            });
            readers.start();
            for (int round = 0; round < 2; round++) {
                importer.writeIndex(NEW);
                importer.writeIndex(OLD);
            }
            stop.set(true);
            readers.join();
            assertThat(mixed).isEmpty();
            assertThat(reads.get()).isGreaterThan(4);
        }
    }

    @Test
    @Timeout(60)
    void anImporterKilledWhileStagingLeavesTheOldIndexAndTheNextImportWorks() throws Exception {
        try (EtcdNetworkRegistry registry = registry("/killstage/"); EtcdKeys keys = new EtcdKeys(etcd.endpoints())) {
            registry.writeIndex(OLD);
            killPaused("/killstage/", "stage", 6); // mark, 4 staging transactions, then SIGKILL
            assertThat(keys.under("/killstage/", "s/")).hasSizeGreaterThanOrEqualTo(4 * 128);
            assertThat(keys.under("/killstage/", "commit")).isEmpty();
            assertIndex(registry.readIndex(), OLD);
            registry.writeIndex(NEW); // waits out the dead importer's mark (a 2 s lease), removes its staging keys
            assertIndex(registry.readIndex(), NEW);
            assertThat(keys.under("/killstage/", "s/")).isEmpty();
        }
    }

    @Test
    @Timeout(60)
    void anImporterKilledAfterItsCommitPointHasItsImportFinishedByTheNextClient() throws Exception {
        try (EtcdNetworkRegistry registry = registry("/killapply/"); EtcdKeys keys = new EtcdKeys(etcd.endpoints())) {
            registry.writeIndex(OLD);
            // killed with the old members deleted (two pages of m/, two of a/), the networks replaced and one batch
            // of new members written
            killPaused("/killapply/", "apply", 7);
            assertThat(keys.under("/killapply/", "commit")).hasSize(1);
            assertThat(keys.under("/killapply/", "m/")).isNotEmpty().hasSizeLessThan(MEMBERS);
            assertIndex(registry.readIndex(), OLD); // served at the commit point: the old index, whole
            try (EtcdNetworkRegistry other = registry("/killapply/")) {
                Ipv4Address ip = other.join("net0", "late"); // finishes the import first, then joins
                assertThat(ip).isEqualTo(Ipv4Address.parse("10.44.16.2"));
                other.leave("net0", "late");
            }
            assertIndex(registry.readIndex(), NEW);
            assertThat(keys.under("/killapply/", "s/")).isEmpty();
            assertThat(keys.under("/killapply/", "commit")).isEmpty();
        }
    }

    @Test
    @Timeout(60)
    void aTransactionTheServerRefusesNamesTheLimitAndLeavesTheIndexAsItWas() throws Exception {
        try (EtcdNetworkRegistry registry = registry("/refused/");
                EtcdNetworkRegistry tooBold = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix("/refused/")
                        .maxTxnOps(1024).build();
                EtcdKeys keys = new EtcdKeys(etcd.endpoints())) {
            registry.writeIndex(OLD);
            assertThatThrownBy(() -> tooBold.writeIndex(NEW)).isInstanceOf(NetworkException.class)
                    .hasMessageContaining("--max-txn-ops");
            assertIndex(registry.readIndex(), OLD);
            assertThat(keys.under("/refused/", "i")).isEmpty(); // the mark released at once: the next import goes on
            registry.writeIndex(NEW);
            assertIndex(registry.readIndex(), NEW);
        }
    }

    @Test
    @Timeout(60)
    void aWatchSeesAnImportAsTheChangesItMakes() throws Exception {
        try (EtcdNetworkRegistry registry = registry("/watched/")) {
            registry.writeIndex(OLD);
            Map<String, Map<String, Ipv4Address>> seen = members(OLD);
            List<RegistryChange> resyncs = new CopyOnWriteArrayList<>();
            try (RegistryWatch watch = registry.watch(change -> {
                synchronized (seen) {
                    switch (change.type()) {
                        case NETWORK_CREATED -> seen.put(change.network(), new TreeMap<>());
                        case NETWORK_REMOVED -> seen.remove(change.network());
                        case MEMBER_JOINED -> seen.get(change.network()).put(change.member().workspace(),
                                change.member().ip());
                        case MEMBER_LEFT -> seen.get(change.network()).remove(change.member().workspace());
                        case RESYNC -> resyncs.add(change);
                        default -> { }
                    }
                }
            })) {
                registry.writeIndex(NEW);
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (System.nanoTime() < end && resyncs.isEmpty() && !copy(seen).equals(members(NEW))) {
                    Thread.sleep(50);
                }
            }
            // every change the import made, replayed on the old index, gives the new one (or a RESYNC was sent)
            assertThat(resyncs.isEmpty() ? copy(seen) : members(NEW)).isEqualTo(members(NEW));
        }
    }

    private static Map<String, Map<String, Ipv4Address>> members(NetworkIndex index) {
        Map<String, Map<String, Ipv4Address>> out = new TreeMap<>();
        for (NetworkRecord n : index.networks()) {
            Map<String, Ipv4Address> m = new TreeMap<>();
            n.members().forEach(member -> m.put(member.workspace(), member.ip()));
            out.put(n.name(), m);
        }
        return out;
    }

    private static Map<String, Map<String, Ipv4Address>> copy(Map<String, Map<String, Ipv4Address>> seen) {
        synchronized (seen) {
            Map<String, Map<String, Ipv4Address>> out = new TreeMap<>();
            seen.forEach((k, v) -> out.put(k, new TreeMap<>(v)));
            return out;
        }
    }

    /** Runs an importer of NEW in a JVM of its own until it pauses before the given commit, then SIGKILLs it. */
    private static void killPaused(String prefix, String phase, int commit) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process worker = new ProcessBuilder(java, "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                ImportWorkerMain.class.getName(), String.join(",", etcd.endpoints()), prefix, phase,
                Integer.toString(commit), "new", Integer.toString(MEMBERS))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(worker.getInputStream(),
                StandardCharsets.UTF_8))) {
            assertThat(out.readLine()).as("the importer's first line").isEqualTo("paused");
        } finally {
            worker.destroyForcibly(); // SIGKILL
            assertThat(worker.waitFor(10, TimeUnit.SECONDS)).isTrue();
        }
    }

    /** Compares two indexes, saying only how many members each network has when they differ. */
    private static void assertIndex(NetworkIndex actual, NetworkIndex expected) {
        assertThat(actual.equals(expected)).as("read %s, expected %s", summary(actual), summary(expected)).isTrue();
    }

    private static String summary(NetworkIndex index) {
        StringBuilder out = new StringBuilder();
        for (NetworkRecord n : index.networks()) {
            out.append(n.name()).append('=').append(n.members().size()).append(' ');
        }
        return out.toString();
    }
}
