package dev.tapwire.network.registry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkRecord;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Many threads, many processes, killed processes and a full disk. */
class ConcurrencyTest {

    @TempDir
    Path state;

    static Process worker(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                RegistryWorkerMain.class.getName()));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    static List<String> lines(Process p) throws Exception {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            return r.lines().toList();
        }
    }

    private static void assertConsistent(NetworkRecord network) {
        assertThat(network.members()).extracting(Member::ip).doesNotHaveDuplicates()
                .allMatch(network.subnet()::contains)
                .doesNotContain(network.gateway(), network.subnet().networkAddress(), network.subnet().broadcastAddress());
        assertThat(network.members()).extracting(Member::workspace).doesNotHaveDuplicates();
    }

    @Test
    @Timeout(60)
    void whenManyThreadsRaceForTheLastAddressesExactlyTheFreeOnesSucceed() throws Exception {
        FileNetworkRegistry shared = FileNetworkRegistry.open(state);
        shared.create("tiny", Ipv4Subnet.parse("10.9.0.0/29")); // hosts .2 to .6 besides the gateway
        int threads = 16;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<Future<Ipv4Address>> results = new ArrayList<>();
        java.util.concurrent.CountDownLatch start = new java.util.concurrent.CountDownLatch(1);
        for (int t = 0; t < threads; t++) {
            String ws = "w" + t;
            results.add(pool.submit(() -> {
                start.await();
                return shared.join("tiny", ws);
            }));
        }
        start.countDown();
        int ok = 0;
        int exhausted = 0;
        for (Future<Ipv4Address> f : results) {
            try {
                f.get();
                ok++;
            } catch (java.util.concurrent.ExecutionException e) {
                assertThat(e.getCause()).isInstanceOf(dev.tapwire.network.AddressExhaustedException.class);
                exhausted++;
            }
        }
        pool.shutdown();
        assertThat(ok).isEqualTo(5);
        assertThat(exhausted).isEqualTo(threads - 5);
        NetworkRecord tiny = FileNetworkRegistry.open(state).get("tiny");
        assertConsistent(tiny);
        assertThat(tiny.members()).hasSize(5);
    }

    @Test
    @Timeout(180)
    void concurrentJoinsFromManyProcessesNeverShareAnAddressNorLoseAMember() throws Exception {
        FileNetworkRegistry.open(state).create("dev", Ipv4Subnet.parse("10.44.0.0/22"));
        int processes = 4;
        int joins = 40;
        List<Process> children = new ArrayList<>();
        for (int p = 0; p < processes; p++) {
            children.add(worker("join", state.toString(), "dev", "p" + p, Integer.toString(joins)));
        }
        Map<String, String> reported = new ConcurrentHashMap<>();
        for (Process child : children) {
            for (String line : lines(child)) {
                String[] parts = line.split(" ");
                reported.put(parts[1], parts[2]);
            }
            assertThat(child.waitFor()).isZero();
        }

        NetworkRecord dev = FileNetworkRegistry.open(state).get("dev");
        assertConsistent(dev);
        assertThat(reported).hasSize(processes * joins);
        assertThat(dev.members().stream().collect(Collectors.toMap(Member::workspace, m -> m.ip().toString())))
                .isEqualTo(reported);
    }

    @Test
    @Timeout(300)
    void aProcessKilledMidWriteLeavesAParsableIndexWithEveryReportedJoin() throws Exception {
        FileNetworkRegistry.open(state).create("dev", Ipv4Subnet.parse("10.44.0.0/16"));
        Map<String, String> joined = new ConcurrentHashMap<>();
        Set<String> leaving = ConcurrentHashMap.newKeySet();
        Set<String> left = ConcurrentHashMap.newKeySet();
        int rounds = 8;
        for (int round = 0; round < rounds; round++) {
            Process child = worker("churn", state.toString(), "dev", "r" + round);
            BufferedReader reader = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            long killAfter = 5 + ThreadLocalRandom.current().nextInt(60);
            String line;
            long seen = 0;
            while ((line = reader.readLine()) != null) {
                record(line, joined, leaving, left);
                if (++seen == killAfter) {
                    Thread.sleep(ThreadLocalRandom.current().nextInt(15));
                    child.toHandle().destroyForcibly(); // SIGKILL, mid-loop; keeps the pipe open to read what was reported
                }
            }
            child.waitFor(30, TimeUnit.SECONDS);
            assertThat(child.isAlive()).isFalse();

            NetworkRecord dev = FileNetworkRegistry.open(state).get("dev"); // parses: never torn
            assertConsistent(dev);
            Map<String, String> present = dev.members().stream()
                    .collect(Collectors.toMap(Member::workspace, m -> m.ip().toString()));
            joined.forEach((ws, ip) -> {
                if (!leaving.contains(ws)) {
                    assertThat(present).as("reported join of %s", ws).containsEntry(ws, ip);
                }
            });
            assertThat(present.keySet()).as("reported leaves").doesNotContainAnyElementsOf(left);
        }
        try (Stream<Path> files = Files.list(FileNetworkRegistry.indexPath(state).getParent())) {
            FileNetworkRegistry.open(state).join("dev", "after-crashes");
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith("index.json.tmp"));
        }
    }

    private static void record(String line, Map<String, String> joined, Set<String> leaving, Set<String> left) {
        String[] parts = line.split(" ");
        switch (parts[0]) {
            case "joined" -> joined.put(parts[1], parts[2]);
            case "leaving" -> leaving.add(parts[1]);
            case "left" -> left.add(parts[1]);
            default -> throw new AssertionError("unexpected worker output: " + line);
        }
    }

    @Test
    @Timeout(120)
    void aFullDiskGivesAClearErrorAndKeepsTheOldIndex() throws Exception {
        CiAssumptions.assumePrivateMountNamespace("mount a small tmpfs");
        Path mountPoint = Files.createDirectory(state.resolve("small-disk"));
        Process child = CiAssumptions.inPrivateMountNamespace("mount -t tmpfs -o size=256k tapwire-test \"$1\" && exec "
                + CiAssumptions.javaCommand() + RegistryWorkerMain.class.getName() + " diskfull \"$1\"",
                mountPoint.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        List<String> out = lines(child);
        assertThat(child.waitFor()).as("worker output %s", out).isZero();

        Map<String, String> result = out.stream().filter(l -> l.contains("="))
                .collect(Collectors.toMap(l -> l.substring(0, l.indexOf('=')), l -> l.substring(l.indexOf('=') + 1)));
        assertThat(result.get("filled")).contains("No space left on device");
        assertThat(result.get("error")).contains("cannot write registry index").contains("No space left on device")
                .contains("the previous index is intact");
        assertThat(result).containsEntry("members", "20").containsEntry("intact", "true").containsEntry("temps", "0");
        assertThat(mountPoint).isEmptyDirectory(); // the tmpfs lived only in the child's mount namespace
    }
}
