package dev.tapwire.network.benchmarks;

import dev.tapwire.network.ConfigureRequest;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.NetworkRegistries;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.TapNames;
import dev.tapwire.network.VmSpec;
import dev.tapwire.network.bridge.BridgeNetworkProvider;
import dev.tapwire.network.bridge.BridgeTaps;
import dev.tapwire.network.bridge.NetworkRealizer;
import dev.tapwire.network.bridge.Overlay;
import dev.tapwire.network.bridge.linux.Interfaces;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Namespaces;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.gc.ActiveVms;
import dev.tapwire.network.gc.GcOrchestrator;
import dev.tapwire.network.gc.GcReport;
import dev.tapwire.network.registry.FileNetworkRegistry;
import dev.tapwire.network.registry.etcd.EtcdNetworkRegistry;
import dev.tapwire.network.spi.ProviderSettings;
import dev.tapwire.network.testkit.EtcdServers;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.PutOption;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs every benchmark figure and writes {@code results.md} and {@code results.csv}. Each figure is a
 * ratio against a reference measured in the same run, because shared machines are noisy.
 *
 * <pre>{@code
 * java -jar network-benchmarks/target/benchmarks.jar           # full run (minutes, needs root for TAPs)
 * java -jar network-benchmarks/target/benchmarks.jar --quick   # smoke run (seconds)
 * }</pre>
 */
public final class Benchmarks {

    private final boolean quick;
    private final Set<Integer> only;
    private final Report report = new Report();

    private Benchmarks(boolean quick, Set<Integer> only) {
        this.quick = quick;
        this.only = only;
    }

    private boolean wanted(int figure) {
        return only.isEmpty() || only.contains(figure);
    }

    /**
     * Runs the benchmarks.
     *
     * @param args {@code --quick} for the smoke run; {@code --out DIR} for where results go; {@code --only 1,3}
     *     for some figures
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        System.setProperty("slf4j.internal.verbosity", "ERROR");
        List<String> list = Arrays.asList(args);
        boolean quick = list.contains("--quick");
        int out = list.indexOf("--out");
        Path dir = out >= 0 ? Path.of(list.get(out + 1)) : defaultOutput();
        int onlyAt = list.indexOf("--only");
        Set<Integer> only = onlyAt < 0 ? Set.of() : Arrays.stream(list.get(onlyAt + 1).split(","))
                .map(String::trim).map(Integer::valueOf).collect(Collectors.toSet());
        run(quick, only, dir);
    }

    /**
     * Runs every figure and writes the results.
     *
     * @param quick small sizes and short iterations
     * @param dir where to write results.md and results.csv
     * @return the figures measured
     * @throws Exception on failure
     */
    static List<Report.Row> run(boolean quick, Path dir) throws Exception {
        return run(quick, Set.of(), dir);
    }

    /**
     * Runs the chosen figures and writes the results.
     *
     * @param quick small sizes and short iterations
     * @param only the figures to run, or empty for all
     * @param dir where to write results.md and results.csv
     * @return the figures measured
     * @throws Exception on failure
     */
    static List<Report.Row> run(boolean quick, Set<Integer> only, Path dir) throws Exception {
        Benchmarks b = new Benchmarks(quick, only);
        if (b.wanted(1)) {
            b.registry();
        }
        if (b.wanted(2)) {
            b.contention();
        }
        if (b.wanted(8)) {
            b.etcd();
        }
        if (b.wanted(11)) {
            FleetBenchmark.run(b.report, b.quick);
        }
        Optional<String> noTaps = tapUnavailability();
        if (noTaps.isPresent()) {
            b.report.note("TAP figures (3-7, 9, 10) skipped: " + noTaps.get());
        } else {
            Namespaces.callInNewNetworkNamespace(() -> {
                if (b.wanted(3)) {
                    b.tapCreation(false);
                    b.tapCreation(true);
                }
                if (b.wanted(4) || b.wanted(6)) {
                    b.deletion();
                }
                if (b.wanted(5)) {
                    b.memory();
                }
                if (b.wanted(6)) {
                    b.gc();
                }
                if (b.wanted(7)) {
                    b.restart();
                }
                if (b.wanted(9)) {
                    b.attach();
                }
                if (b.wanted(10)) {
                    b.overlayRestart();
                }
                return null;
            });
        }
        String header = "# tapwire benchmarks (" + (quick ? "quick smoke run" : "full run") + ")\n\n"
                + LocalDate.now() + " on " + machine();
        b.report.write(dir, header);
        System.out.println("results: " + dir.resolve("results.md") + ", " + dir.resolve("results.csv"));
        return b.report.rows();
    }

    /** Every scratch directory of the run lives under this one, removed when the run ends. */
    private static final Path SCRATCH = createScratch();

    private static Path createScratch() {
        try {
            Path dir = Files.createTempDirectory("tapwire-bench-");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteRecursively(dir)));
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path scratch(String prefix) throws IOException {
        return Files.createTempDirectory(SCRATCH, prefix);
    }

    static void deleteRecursively(Path dir) {
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            System.err.println("cannot remove " + dir + ": " + e);
        }
    }

    private static Path defaultOutput() {
        try {
            Path code = Path.of(Benchmarks.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return code.getParent();
        } catch (Exception e) {
            return Path.of("network-benchmarks", "target");
        }
    }

    static String machine() {
        String kernel = System.getProperty("os.version");
        String cpu = "unknown CPU";
        try {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse(cpu);
        } catch (IOException ignored) {
            // keep "unknown CPU"
        }
        return Runtime.getRuntime().availableProcessors() + " cores (" + cpu + "), Linux " + kernel + ", Java "
                + System.getProperty("java.version");
    }

    // ------------------------------------------------------------------ 1. registry (JMH)

    private void registry() throws Exception {
        String[] sizes = quick ? new String[] {"10", "100"} : new String[] {"10", "100", "1000", "2500", "10000"};
        ChainedOptionsBuilder options = new OptionsBuilder().include(RegistryBenchmark.class.getName())
                .param("members", sizes).shouldFailOnError(true).jvmArgsAppend("-Dslf4j.internal.verbosity=ERROR");
        if (quick) {
            options.forks(0).warmupIterations(1).warmupTime(TimeValue.milliseconds(100)).measurementIterations(2)
                    .measurementTime(TimeValue.milliseconds(200));
        } else {
            options.forks(1).warmupIterations(3).warmupTime(TimeValue.seconds(1)).measurementIterations(5)
                    .measurementTime(TimeValue.seconds(2));
        }
        Map<String, Map<String, Double>> micros = new HashMap<>();
        for (RunResult r : new Runner(options.build()).run()) {
            String bench = r.getParams().getBenchmark();
            String method = bench.substring(bench.lastIndexOf('.') + 1);
            micros.computeIfAbsent(r.getParams().getParam("members"), k -> new HashMap<>())
                    .put(method, r.getPrimaryResult().getScore());
        }
        for (String n : sizes) {
            double joinLeave = micros.get(n).get("joinLeave") / 1000.0;
            double floor = micros.get(n).get("twoDurableWrites") / 1000.0;
            int members = Integer.parseInt(n);
            report.add(new Report.Row(1, "registry join+leave at " + n + " members", joinLeave, "ms",
                    "2 durable writes of the same bytes", floor, joinLeave / floor, members >= 1000 ? "<= 2" : "-"));
        }
        for (String n : sizes) {
            if (n.equals("2500") || n.equals("10000")) {
                double perOp = micros.get(n).get("joinLeave") / 2000.0;
                double go = n.equals("2500") ? 2.1 : 9.7;
                report.add(new Report.Row(1, "registry one op (half a join+leave) at " + n + " members", perOp, "ms",
                        "Go reference join (quoted, no fsync/lock)", go, perOp / go, "< 1"));
            }
        }
    }

    // ------------------------------------------------------------------ 2. contention (processes)

    private void contention() throws Exception {
        int processes = quick ? 2 : 4;
        int threads = quick ? 2 : 4;
        long duration = quick ? 1000 : 5000;
        long warmup = quick ? 1500 : 4000;
        Path singleState = scratch("tapwire-bench-contention-");
        Path contendedState = scratch("tapwire-bench-contention-");
        FileNetworkRegistry.open(singleState).create("bench", Ipv4Subnet.parse("10.44.0.0/16"));
        FileNetworkRegistry.open(contendedState).create("bench", Ipv4Subnet.parse("10.44.0.0/16"));
        double single = pairsPerSecond(singleState.toUri(), 1, 1, duration, warmup);
        double contended = pairsPerSecond(contendedState.toUri(), processes, threads, duration, warmup);
        for (Path state : List.of(singleState, contendedState)) {
            int members = FileNetworkRegistry.open(state).get("bench").members().size();
            if (members != 0) {
                throw new IllegalStateException("contention run left " + members + " members: lost updates");
            }
        }
        report.add(new Report.Row(2, processes + " processes x " + threads + " threads join+leave, pairs/s", contended,
                "ops/s", "1 thread in 1 process, pairs/s", single, contended / single,
                "no lost updates; > 1 (group commit)"));
    }

    /**
     * Runs child JVMs that warm up until every one of them has completed a pair, then count join+leave pairs
     * from one common instant for {@code duration} ms.
     */
    private static double pairsPerSecond(URI registry, int processes, int threads, long duration, long warmup)
            throws Exception {
        List<Process> children = new ArrayList<>();
        List<BufferedReader> outputs = new ArrayList<>();
        try {
            for (int p = 0; p < processes; p++) {
                Process child = new ProcessBuilder(javaBin(), "-Dslf4j.internal.verbosity=ERROR", "-cp",
                        System.getProperty("java.class.path"), ContentionWorker.class.getName(), registry.toString(),
                        "bench", "p" + p, Integer.toString(threads), Long.toString(duration))
                        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
                children.add(child);
                outputs.add(new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8)));
            }
            for (int p = 0; p < processes; p++) {
                String ready = outputs.get(p).readLine();
                if (!"ready".equals(ready)) {
                    throw new IllegalStateException("contention worker p" + p + " did not get ready: " + ready);
                }
            }
            String startAt = (System.currentTimeMillis() + warmup) + "\n";
            for (Process child : children) {
                child.getOutputStream().write(startAt.getBytes(StandardCharsets.UTF_8));
                child.getOutputStream().close();
            }
            long total = 0;
            for (int p = 0; p < processes; p++) {
                String out = outputs.get(p).readLine();
                if (children.get(p).waitFor() != 0 || out == null) {
                    throw new IllegalStateException("contention worker p" + p + " failed: " + out);
                }
                total += Long.parseLong(out.trim());
            }
            return total * 1000.0 / duration;
        } finally {
            children.forEach(Process::destroyForcibly);
        }
    }

    // ------------------------------------------------------------------ 8. the registry on etcd

    /**
     * The etcd registry against a real etcd on loopback: join+leave against two bare transactions (the floor),
     * join+leave in a large network against a small one (it must stay flat), and 4 processes x 4 threads
     * against one thread.
     */
    private void etcd() throws Exception {
        if (!Files.isExecutable(Path.of("/usr/bin/etcd"))) {
            report.note("etcd figures (8) skipped: etcd is not installed (Debian package etcd-server)");
            return;
        }
        int pairs = quick ? 30 : 300;
        try (EtcdServers etcd = EtcdServers.start(1);
                EtcdNetworkRegistry registry = EtcdNetworkRegistry.builder(etcd.endpoints()).prefix("/bench/").build();
                Client client = Client.builder().endpoints(etcd.endpoints()).build()) {
            registry.create("small", Ipv4Subnet.parse("10.44.0.0/16"));
            joinMembers(registry, "small", 100);
            joinLeaveMs(registry, "small", pairs); // a whole untimed pass first: the JIT and etcd warm up
            bareTransactionPairMs(client, pairs);
            List<Long> cpu = CpuTime.selfAndEtcd();
            double cpu0 = CpuTime.millis(cpu);
            double joinLeave = joinLeaveMs(registry, "small", pairs);
            double cpu1 = CpuTime.millis(cpu);
            double floor = bareTransactionPairMs(client, pairs);
            double cpu2 = CpuTime.millis(cpu);
            report.add(new Report.Row(8, "etcd join+leave, one client", joinLeave, "ms",
                    "2 bare etcd transactions (put, delete) of similar size", floor, joinLeave / floor, "<= 2"));
            // joinLeaveMs runs pairs / 3 untimed pairs first, bareTransactionPairMs a whole untimed round
            double joinLeaveCpu = (cpu1 - cpu0) / (pairs + pairs / 3);
            double floorCpu = (cpu2 - cpu1) / (2.0 * pairs);
            report.add(new Report.Row(8, "etcd join+leave, one client: CPU time per pair (this JVM + etcd, "
                    + Runtime.getRuntime().availableProcessors() + " cores)", joinLeaveCpu, "ms",
                    "2 bare etcd transactions: CPU time per pair", floorCpu, joinLeaveCpu / floorCpu, "know it"));
            for (int members : quick ? new int[] {1_000} : new int[] {10_000, 100_000}) {
                String name = "n" + members;
                registry.create(name, Ipv4Subnet.parse(members > 60_000 ? "10.100.0.0/14" : "10.50.0.0/16"));
                writeMemberKeys(client, name, members);
                double large = joinLeaveMs(registry, name, pairs);
                report.add(new Report.Row(8, "etcd join+leave at " + members + " members", large, "ms",
                        "etcd join+leave at 100 members", joinLeave, large / joinLeave, "flat (~1)"));
            }
            String uri = "etcd://" + etcd.endpoints()[0].substring("http://".length()) + "/bench/";
            long duration = quick ? 1000 : 5000;
            // 4 JVMs compiling the gRPC, Netty and protobuf paths share 2 cores here: measure once they are warm
            long warmup = quick ? 1500 : 15000;
            List<NetworkRegistry> contentionRegistries = new ArrayList<>();
            for (String prefix : List.of("/single/", "/contended/")) {
                NetworkRegistry r = NetworkRegistries.open(URI.create(uri.replace("/bench/", prefix)));
                r.create("bench", Ipv4Subnet.parse("10.60.0.0/16"));
                contentionRegistries.add(r);
            }
            double single = pairsPerSecond(URI.create(uri.replace("/bench/", "/single/")), 1, 1, duration, warmup);
            double contended = pairsPerSecond(URI.create(uri.replace("/bench/", "/contended/")), quick ? 2 : 4,
                    quick ? 2 : 4, duration, warmup);
            report.add(new Report.Row(8, (quick ? "2 processes x 2" : "4 processes x 4")
                    + " threads etcd join+leave, pairs/s", contended, "ops/s", "1 thread in 1 process, pairs/s", single,
                    contended / single, "> 1; no address twice"));
            // the same number of joiners in one process: what the registry's concurrency gives without the cost of
            // several JVMs sharing this machine's cores
            double oneProcess = pairsPerSecond(URI.create(uri.replace("/bench/", "/contended/")), 1,
                    quick ? 4 : 16, duration, warmup);
            report.add(new Report.Row(8, (quick ? "4" : "16") + " threads in 1 process etcd join+leave, pairs/s",
                    oneProcess, "ops/s", "1 thread in 1 process, pairs/s", single, oneProcess / single,
                    "> 1; no address twice"));
            for (NetworkRegistry r : contentionRegistries) {
                NetworkRecord bench = r.get("bench");
                if (!bench.members().isEmpty()) {
                    throw new IllegalStateException("the etcd contention run left members behind: lost updates");
                }
                ((AutoCloseable) r).close();
            }
        }
    }

    private static void joinMembers(EtcdNetworkRegistry registry, String network, int members) {
        for (int i = 0; i < members; i++) {
            registry.join(network, "m" + i);
        }
    }

    /** Writes the keys of {@code members} joins directly, 50 members (100 keys) per transaction, and the hint. */
    private static void writeMemberKeys(Client client, String network, int members) throws Exception {
        KV kv = client.getKVClient();
        for (int from = 0; from < members; from += 50) {
            List<Op> ops = new ArrayList<>();
            for (int i = from; i < Math.min(members, from + 50); i++) {
                long offset = i + 2; // .1 is the gateway
                ops.add(Op.put(bytes("/bench/m/" + network + "/m" + i), bytes(Ipv4Address.parse("0.0.0.0")
                        .plus(offset).toString()), PutOption.DEFAULT));
                ops.add(Op.put(bytes("/bench/a/" + network + "/" + String.format("%08x", offset)), bytes("m" + i),
                        PutOption.DEFAULT));
            }
            kv.txn().Then(ops.toArray(Op[]::new)).commit().get(30, TimeUnit.SECONDS);
        }
        kv.put(bytes("/bench/h/" + network), bytes(Long.toString(members + 2L))).get(30, TimeUnit.SECONDS);
    }

    private static double joinLeaveMs(EtcdNetworkRegistry registry, String network, int pairs) {
        for (int i = 0; i < pairs / 3; i++) { // warm up
            registry.join(network, "warm");
            registry.leave(network, "warm");
        }
        long t0 = System.nanoTime();
        for (int i = 0; i < pairs; i++) {
            registry.join(network, "bench");
            registry.leave(network, "bench");
        }
        return (System.nanoTime() - t0) / 1e6 / pairs;
    }

    /** The floor: a guarded put and a guarded delete of two keys of the size a join writes, per pair. */
    private static double bareTransactionPairMs(Client client, int pairs) throws Exception {
        KV kv = client.getKVClient();
        ByteSequence member = bytes("/floor/m/small/bench");
        ByteSequence address = bytes("/floor/a/small/00000066");
        for (int round = 0; round < 2; round++) { // round 0 warms up
            long t0 = System.nanoTime();
            for (int i = 0; i < pairs; i++) {
                kv.txn().If(new Cmp(member, Cmp.Op.EQUAL, CmpTarget.createRevision(0)))
                        .Then(Op.put(member, bytes("10.44.0.102"), PutOption.DEFAULT),
                                Op.put(address, bytes("bench"), PutOption.DEFAULT))
                        .commit().get(10, TimeUnit.SECONDS);
                kv.txn().Then(Op.delete(member, DeleteOption.DEFAULT), Op.delete(address, DeleteOption.DEFAULT))
                        .commit().get(10, TimeUnit.SECONDS);
            }
            if (round == 1) {
                return (System.nanoTime() - t0) / 1e6 / pairs;
            }
        }
        throw new IllegalStateException("unreachable");
    }

    private static ByteSequence bytes(String text) {
        return ByteSequence.from(text, StandardCharsets.UTF_8);
    }

    // ------------------------------------------------------------------ 3. TAP creation

    private void tapCreation(boolean multiQueue) throws Exception {
        int count = quick ? 20 : 200;
        int rounds = quick ? 2 : 7;
        VmSpec spec = multiQueue ? VmSpec.of(2) : VmSpec.of(1);
        String kind = multiQueue ? "multi-queue" : "single-queue";
        BridgeNetworkProvider provider = bridgeProvider("taps");
        int mtu;
        try (Interfaces interfaces = Interfaces.open()) {
            mtu = interfaces.mtu("br0");
        }
        double[] tapwire = new double[rounds];
        double[] batch = new double[rounds];
        double[] perStep = new double[rounds];
        double[] all = new double[rounds];
        double[] off = new double[rounds];
        for (int r = -1; r < rounds; r++) { // round -1 warms up the JIT and the kernel's caches
            List<String> ids = vmIds("c" + (r + 1), count);
            List<String> lines = new ArrayList<>();
            List<String> fdb = new ArrayList<>();
            for (String id : ids) {
                String tap = TapNames.tapName(id, 0);
                lines.add("tuntap add dev " + tap + " mode tap vnet_hdr" + (multiQueue ? " multi_queue" : "") + " user 0");
                lines.add("link set dev " + tap + " mtu " + mtu + " alias tapwire:" + id + " up");
                lines.add("link set dev " + tap + " master br0");
                lines.add("link set dev " + tap + " type bridge_slave learning off flood off");
                fdb.add("fdb replace " + MacAddress.random() + " dev " + tap + " master static");
            }
            Path file = provider.settings().rootDir().resolve("batch-" + (r + 1));
            Path fdbFile = provider.settings().rootDir().resolve("fdb-" + (r + 1));
            Files.write(file, lines);
            Files.write(fdbFile, fdb);
            Timed tapwireRun = () -> {
                for (String id : ids) {
                    provider.configure(id, 1, spec, List.of());
                }
            };
            Timed batchRun = () -> {
                exec("ip", "-batch", file.toString());
                exec("bridge", "-batch", fdbFile.toString()); // the static FDB entry of each guest MAC
            };
            List<ConfigureRequest> requests = ids.stream().map(id -> new ConfigureRequest(id, 1, spec, null)).toList();
            Timed allRun = () -> provider.configureAll(requests);
            VmSpec unsecured = spec.withoutPortSecurity(0); // what configure did before port security
            Timed offRun = () -> {
                for (String id : ids) {
                    provider.configure(id, 1, unsecured, List.of());
                }
            };
            // each run takes its turn at going first, and each starts on a settled kernel
            Path rootDir = provider.settings().rootDir();
            double[] ms = timeInTurn(r, rootDir, ids, tapwireRun, allRun, batchRun, offRun);
            double perStepMs = timeThenCleanup(() -> {
                execEach("ip", lines);
                execEach("bridge", fdb);
            }, rootDir, ids);
            if (r >= 0) {
                tapwire[r] = ms[0];
                all[r] = ms[1];
                batch[r] = ms[2];
                off[r] = ms[3];
                perStep[r] = perStepMs;
            }
        }
        double t = median(tapwire);
        report.add(new Report.Row(3, count + " " + kind + " TAPs create+attach+up, one configure per VM", t, "ms",
                "ip -batch + bridge -batch doing the same", median(batch), t / median(batch), "<= 1.0"));
        report.add(new Report.Row(3, count + " " + kind + " TAPs create+attach+up, one configureAll (one call, as"
                + " ip -batch is one process)", median(all), "ms", "ip -batch + bridge -batch doing the same",
                median(batch), median(all) / median(batch), "<= 1.0"));
        report.add(new Report.Row(3, count + " " + kind + " TAPs: one ip process per step / tapwire", median(perStep),
                "ms", "one configure per VM", t, median(perStep) / t, ">= 10"));
        report.add(new Report.Row(3, count + " " + kind + " TAPs, one configure per VM: port security on (the default)"
                + " / off", t, "ms", "the same with port security off (no admission)", median(off), t / median(off),
                "<= 1.15"));
    }

    // ------------------------------------------------------------------ 7. restart after a host reboot

    /** Re-creates VMs × 2 NICs from saved configs: one configureAll against ip -batch + bridge -batch. */
    private void restart() throws Exception {
        int vms = quick ? 10 : 200;
        int rounds = quick ? 2 : 5;
        BridgeNetworkProvider provider = bridgeProvider("restart");
        int mtu;
        try (Interfaces interfaces = Interfaces.open()) {
            mtu = interfaces.mtu("br0");
        }
        List<String> ids = vmIds("r", vms);
        VmSpec spec = VmSpec.of(1);
        List<ConfigureRequest> fresh = ids.stream().map(id -> new ConfigureRequest(id, 2, spec, null)).toList();
        List<List<NicConfig>> saved = provider.configureAll(fresh);
        provider.delete(ids);
        List<ConfigureRequest> recover = new ArrayList<>();
        List<String> lines = new ArrayList<>();
        List<String> fdb = new ArrayList<>();
        for (int v = 0; v < vms; v++) {
            recover.add(ConfigureRequest.recover(ids.get(v), spec, saved.get(v)));
            for (NicConfig nic : saved.get(v)) {
                String tap = nic.tap();
                lines.add("tuntap add dev " + tap + " mode tap vnet_hdr user 0");
                lines.add("link set dev " + tap + " mtu " + mtu + " alias tapwire:" + ids.get(v) + " up");
                lines.add("link set dev " + tap + " master br0");
                lines.add("link set dev " + tap + " type bridge_slave learning off flood off");
                fdb.add("fdb replace " + nic.mac() + " dev " + tap + " master static");
            }
        }
        Path file = provider.settings().rootDir().resolve("restart-batch");
        Path fdbFile = provider.settings().rootDir().resolve("restart-fdb");
        Files.write(file, lines);
        Files.write(fdbFile, fdb);
        VmSpec unsecured = spec.withoutPortSecurity(0, 1);
        List<ConfigureRequest> recoverOff = recover.stream()
                .map(q -> ConfigureRequest.recover(q.vmId(), unsecured, q.existing())).toList();
        double[] tapwire = new double[rounds];
        double[] batch = new double[rounds];
        double[] off = new double[rounds];
        for (int r = -1; r < rounds; r++) { // round -1 warms up
            Timed tapwireRun = () -> provider.configureAll(recover);
            Timed batchRun = () -> {
                exec("ip", "-batch", file.toString());
                exec("bridge", "-batch", fdbFile.toString());
            };
            Timed offRun = () -> provider.configureAll(recoverOff);
            double[] ms = timeInTurn(r, provider.settings().rootDir(), ids, tapwireRun, batchRun, offRun);
            if (r >= 0) {
                tapwire[r] = ms[0];
                batch[r] = ms[1];
                off[r] = ms[2];
            }
        }
        double t = median(tapwire);
        report.add(new Report.Row(7, vms + " VMs x 2 NICs re-created from saved configs (configureAll)", t, "ms",
                "ip -batch + bridge -batch doing the same", median(batch), t / median(batch), "<= 1.0"));
        report.add(new Report.Row(7, vms + " VMs x 2 NICs re-created (configureAll): port security on (the default)"
                + " / off", t, "ms", "the same with port security off (no admission)", median(off), t / median(off),
                "<= 1.15"));
    }

    // ------------------------------------------------------------------ 4. deletion

    private void deletion() throws Exception {
        int count = quick ? 20 : 200;
        BridgeNetworkProvider provider = bridgeProvider("delete");
        List<String> ids = vmIds("d", count);
        ids.forEach(id -> provider.configure(id, 1, VmSpec.of(1), List.of()));
        long t0 = System.nanoTime();
        BridgeTaps.cleanup(ids);
        double batched = (System.nanoTime() - t0) / 1e6;

        ids.forEach(id -> provider.configure(id, 1, VmSpec.of(1), List.of()));
        try (Rtnetlink netlink = Rtnetlink.open()) {
            List<Link> taps = netlink.links().stream().filter(l -> l.name().startsWith("btd")).toList();
            t0 = System.nanoTime();
            for (Link tap : taps) {
                netlink.execute(List.of(Rtnetlink.deleteLink(tap.index(), tap.name())));
            }
        }
        double oneByOne = (System.nanoTime() - t0) / 1e6;
        report.add(new Report.Row(4, "delete " + count + " TAPs one at a time / batched", oneByOne, "ms",
                "batched (one link group, one RTM_DELLINK)", batched, oneByOne / batched, ">= 20"));
        perTapOneByOne = oneByOne / count;
    }

    private double perTapOneByOne;

    // ------------------------------------------------------------------ 5. memory

    private void memory() throws Exception {
        for (boolean mq : new boolean[] {false, true}) {
            int count = quick ? (mq ? 2 : 10) : (mq ? 8 : 50);
            BridgeNetworkProvider provider = bridgeProvider("mem");
            List<String> ids = vmIds(mq ? "mm" : "ms", count);
            System.gc();
            long before = kernelMemoryKb();
            ids.forEach(id -> provider.configure(id, 1, mq ? VmSpec.of(2) : VmSpec.of(1), List.of()));
            Thread.sleep(200);
            long after = kernelMemoryKb();
            int txqlen;
            try (Rtnetlink netlink = Rtnetlink.open()) {
                txqlen = netlink.link(TapNames.tapName(ids.get(0), 0)).orElseThrow().txQueueLength();
            }
            BridgeTaps.cleanup(ids);
            double perTap = (after - before) / (double) count / 1024.0;
            report.add(new Report.Row(5, "kernel memory per " + (mq ? "multi" : "single") + "-queue TAP (up, txqueuelen "
                    + txqlen + ")", perTap, "MiB", "DESIGN.md: ~6.4 MiB per multi-queue TAP at txqueuelen 1000", 6.4,
                    perTap / 6.4, mq ? "know it" : "small"));
        }
        report.note("Figure 5 reads Slab + Percpu + KernelStack + PageTables + VmallocUsed from /proc/meminfo before "
                + "and after; it is machine-wide, so other activity adds noise.");
    }

    private static long kernelMemoryKb() throws IOException {
        Map<String, Long> info = Files.readAllLines(Path.of("/proc/meminfo")).stream()
                .map(l -> l.split(":\\s+")).collect(Collectors.toMap(p -> p[0],
                        p -> Long.parseLong(p[1].replace(" kB", "").trim()), (a, b) -> a));
        return info.getOrDefault("Slab", 0L) + info.getOrDefault("Percpu", 0L) + info.getOrDefault("KernelStack", 0L)
                + info.getOrDefault("PageTables", 0L) + info.getOrDefault("VmallocUsed", 0L);
    }

    // ------------------------------------------------------------------ 6. GC

    private void gc() throws Exception {
        int live = quick ? 5 : 100;
        int orphans = quick ? 20 : 500;
        BridgeNetworkProvider provider = bridgeProvider("gc");
        List<String> liveIds = vmIds("gl", live);
        List<String> orphanIds = vmIds("go", orphans);
        liveIds.forEach(id -> provider.configure(id, 1, VmSpec.of(1), List.of()));
        orphanIds.forEach(id -> provider.configure(id, 1, VmSpec.of(1), List.of()));
        GcOrchestrator gc = new GcOrchestrator();
        provider.registerGc(gc);
        gc.register(ActiveVms.of(Set.copyOf(liveIds)));
        long t0 = System.nanoTime();
        GcReport result = gc.runOnce();
        double ms = (System.nanoTime() - t0) / 1e6;
        if (!result.succeeded() || result.collected().get("bridge").size() != orphans) {
            throw new IllegalStateException("GC did not reclaim the orphans: " + result);
        }
        double reference = perTapOneByOne * orphans;
        report.add(new Report.Row(6, "GC of " + orphans + " orphan TAPs among " + live + " live", ms, "ms",
                "deleting them one at a time (figure 4's per-TAP cost)", reference, reference / ms, "wall time"));
        BridgeTaps.cleanup(liveIds);
    }

    // ------------------------------------------------------------------ 9. attach to a named network vs CNI

    /**
     * Attaching VMs to a named network end to end (registry join, TAP, the network's bridge, static FDB entry,
     * DHCP and DNS data rewritten and dnsmasq told) against the CNI reference plugins doing the nearest job: the
     * {@code bridge} plugin with {@code host-local} IPAM, one ADD per workload (a veth pair into the workload's
     * namespace, an address from the IPAM store), as a container runtime runs it.
     */
    private void attach() throws Exception {
        Path plugin = Path.of("/usr/lib/cni/bridge");
        Optional<String> missing = NetworkRealizer.unavailabilityCause()
                .or(() -> Files.isExecutable(plugin) ? Optional.empty()
                        : Optional.of("the CNI plugins are not installed (Debian package containernetworking-plugins)"));
        if (missing.isPresent()) {
            report.note("figure 9 skipped: " + missing.get());
            return;
        }
        int vms = quick ? 10 : 100;
        Set<PosixFilePermission> open = PosixFilePermissions.fromString("rwxr-xr-x"); // dnsmasq runs as nobody
        Files.setPosixFilePermissions(SCRATCH, open);
        Path root = Files.createTempDirectory(SCRATCH, "tapwire-bench-attach-", PosixFilePermissions.asFileAttribute(open));
        FileNetworkRegistry registry = FileNetworkRegistry.open(root);
        registry.create("team", Ipv4Subnet.parse("10.96.0.0/16"));
        BridgeNetworkProvider provider = new BridgeNetworkProvider(ProviderSettings.of(root).withRegistry(registry));
        NetworkRealizer realizer = provider.realizer().orElseThrow();
        realizer.realize("team", false); // once per network and host, not per attach
        VmSpec vm = VmSpec.of(1).withMultiQueue(false).withNetworks(List.of("team"));
        List<String> warm = vmIds("nw", 5);
        warm.forEach(id -> provider.configure(id, 1, vm, List.of()));
        provider.delete(warm);
        warm.forEach(id -> registry.leave("team", id));
        List<String> ids = vmIds("na", vms);
        long t0 = System.nanoTime();
        for (String id : ids) {
            provider.configure(id, 1, vm, List.of());
        }
        double tapwire = (System.nanoTime() - t0) / 1e6 / vms;
        // the floor's first part, raw in the same run: one durable write of an index of the size the attaches left
        double durableWrite = durableWriteMs(root.resolve("networks").resolve("index.json"), vms);
        report.add(new Report.Row(9, vms + " VMs attached to a named network: tapwire attach per VM / one durable write"
                + " of the index (temp file, fsync, rename, fsync dir; part of the floor)", tapwire, "ms",
                "one durable write of index.json's bytes, raw", durableWrite, tapwire / durableWrite,
                "<= 1.3 x (write + TAP batch)"));
        // many VMs at once: the same number of attaches from 8 threads, on VMs of their own
        List<String> parallel = vmIds("np", vms);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(8);
        try {
            t0 = System.nanoTime();
            List<java.util.concurrent.Future<?>> done = new ArrayList<>();
            for (String id : parallel) {
                done.add(pool.submit(() -> provider.configure(id, 1, vm, List.of())));
            }
            for (java.util.concurrent.Future<?> f : done) {
                f.get();
            }
            double eightThreads = (System.nanoTime() - t0) / 1e6;
            report.add(new Report.Row(9, vms + " attaches from 8 threads, attaches/s", vms * 1000.0 / eightThreads,
                    "ops/s", "the same number one after another, attaches/s", 1000.0 / tapwire,
                    tapwire * vms / eightThreads, ">= 3 (group commit)"));
        } finally {
            pool.shutdown();
            provider.delete(parallel);
        }

        List<String> namespaces = new ArrayList<>();
        String config = "{\"cniVersion\":\"1.0.0\",\"name\":\"team\",\"type\":\"bridge\",\"bridge\":\"cni-team\","
                + "\"isGateway\":true,\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.97.0.0/16\",\"dataDir\":\""
                + root.resolve("cni-ipam") + "\"}}";
        try {
            for (int i = 0; i < vms + 1; i++) { // the workloads' namespaces exist before the clock starts
                String ns = "twb" + ProcessHandle.current().pid() + "-" + i;
                exec("ip", "netns", "add", ns);
                namespaces.add(ns);
            }
            cniAdd(plugin, config, "warm", namespaces.get(vms));
            t0 = System.nanoTime();
            for (int i = 0; i < vms; i++) {
                cniAdd(plugin, config, "w" + i, namespaces.get(i));
            }
            double cni = (System.nanoTime() - t0) / 1e6 / vms;
            report.add(new Report.Row(9, vms + " VMs attached to a named network: CNI bridge+host-local ADD per workload"
                    + " / tapwire attach (join+TAP+bridge+DHCP/DNS data)", cni, "ms", "tapwire attach, per VM", tapwire,
                    cni / tapwire, ">= 5"));
        } finally {
            for (String ns : namespaces) {
                exec("ip", "netns", "del", ns);
            }
            provider.delete(ids);
            realizer.unrealize("team");
            provider.close(); // stops following the registry
        }
    }

    /**
     * The median time of one durable write of {@code index}'s bytes as a whole-file registry makes it: a temporary
     * file written and fsynced, renamed over the target, the directory fsynced. Median of {@code rounds}.
     */
    private static double durableWriteMs(Path index, int rounds) throws IOException {
        byte[] bytes = Files.readAllBytes(index);
        Path dir = scratch("tapwire-bench-durable-");
        Path target = dir.resolve("index.json");
        double[] ms = new double[rounds];
        try (java.nio.channels.FileChannel dirChannel = java.nio.channels.FileChannel.open(dir)) {
            for (int r = -3; r < rounds; r++) { // three untimed writes first
                long t0 = System.nanoTime();
                Path temp = dir.resolve("index.json.tmp");
                try (java.nio.channels.FileChannel out = java.nio.channels.FileChannel.open(temp,
                        java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE,
                        java.nio.file.StandardOpenOption.TRUNCATE_EXISTING)) {
                    java.nio.ByteBuffer buffer = java.nio.ByteBuffer.wrap(bytes);
                    while (buffer.hasRemaining()) {
                        out.write(buffer);
                    }
                    out.force(true);
                }
                Files.move(temp, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                dirChannel.force(true);
                if (r >= 0) {
                    ms[r] = (System.nanoTime() - t0) / 1e6;
                }
            }
        }
        return median(ms);
    }

    private static void cniAdd(Path plugin, String config, String id, String namespace) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(plugin.toString()).redirectErrorStream(true);
        pb.environment().putAll(Map.of("CNI_COMMAND", "ADD", "CNI_CONTAINERID", id, "CNI_NETNS",
                "/run/netns/" + namespace, "CNI_IFNAME", "eth0", "CNI_PATH", plugin.getParent().toString()));
        Process p = pb.start();
        try (var in = p.getOutputStream()) {
            in.write(config.getBytes(StandardCharsets.UTF_8));
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException("CNI ADD for " + id + " failed: " + out);
        }
    }

    // ------------------------------------------------------------------ 10. a host (re)starting with remote members

    /**
     * A host that (re)starts with N remote members on one network: the time to program every overlay entry — per
     * member its MAC to its host's VTEP in the vxlan device's own FDB, a static bridge FDB entry to the vxlan port and
     * a permanent neighbour entry for the ARP proxy — into a fresh vxlan device, by {@code Overlay.sync} (dumps the
     * device's entries, then one pipelined netlink stream) against {@code bridge -batch} + {@code ip -batch} writing
     * the same entries without reading anything first (the kernel's cost plus two process starts).
     */
    private void overlayRestart() throws Exception {
        int members = quick ? 100 : 1000;
        int rounds = quick ? 2 : 7;
        ensureBridge();
        Path dir = scratch("tapwire-bench-overlay-");
        Overlay overlay = new Overlay("bench");
        String network = "bench";
        String device = Overlay.deviceName(network);
        Overlay.Tunnel tunnel = new Overlay.Tunnel(network, "br0", 4242, Ipv4Address.parse("198.51.100.1"), 1450,
                false);
        List<Overlay.Remote> remotes = new ArrayList<>(members);
        List<String> fdb = new ArrayList<>();
        List<String> neigh = new ArrayList<>();
        for (int i = 0; i < members; i++) {
            Overlay.Remote r = new Overlay.Remote(MacAddress.parse(String.format("02:00:00:01:%02x:%02x", i >> 8,
                    i & 0xff)), Ipv4Address.parse("10.45." + (i >> 8) + "." + (i & 0xff)),
                    Ipv4Address.parse("198.51.100." + (2 + i % 50)));
            remotes.add(r);
            fdb.add("fdb replace " + r.mac() + " dev " + device + " dst " + r.vtep() + " self permanent");
            fdb.add("fdb replace " + r.mac() + " dev " + device + " master static");
            neigh.add("neigh replace " + r.ip() + " lladdr " + r.mac() + " dev " + device + " nud permanent");
        }
        Path fdbFile = dir.resolve("fdb");
        Path neighFile = dir.resolve("neigh");
        Files.write(fdbFile, fdb);
        Files.write(neighFile, neigh);
        Timed tapwireRun = () -> overlay.sync(network, remotes);
        Timed batchRun = () -> {
            exec("bridge", "-batch", fdbFile.toString());
            exec("ip", "-batch", neighFile.toString());
        };
        double[] tapwire = new double[rounds];
        double[] batch = new double[rounds];
        double[] resync = new double[rounds];
        try {
            for (int r = -1; r < rounds; r++) { // round -1 warms up the JIT and the kernel's caches
                Timed[] runs = {tapwireRun, batchRun};
                double[] ms = new double[2];
                for (int k = 0; k < 2; k++) { // each takes its turn at going first, each on a fresh device
                    int i = Math.floorMod(r + k, 2);
                    overlay.remove(network);
                    overlay.ensure(tunnel);
                    Thread.sleep(SETTLE_MS);
                    long t0 = System.nanoTime();
                    runs[i].run();
                    ms[i] = (System.nanoTime() - t0) / 1e6;
                }
                long t0 = System.nanoTime();
                if (!overlay.sync(network, remotes).isEmpty()) { // everything in place: dumps only
                    throw new IllegalStateException("a sync over entries already written changed some");
                }
                double again = (System.nanoTime() - t0) / 1e6;
                if (r >= 0) {
                    tapwire[r] = ms[0];
                    batch[r] = ms[1];
                    resync[r] = again;
                }
            }
        } finally {
            overlay.remove(network);
        }
        double t = median(tapwire);
        report.add(new Report.Row(10, "a host (re)starting with " + members + " remote members: every FDB, bridge and "
                + "neighbour entry programmed (Overlay.sync: dump + one netlink stream)", t, "ms",
                "bridge -batch + ip -batch writing the same", median(batch), t / median(batch), "<= 1.0"));
        report.add(new Report.Row(10, members + " remote members, all in place: a resync (dumps, nothing to write)",
                median(resync), "ms", "bridge -batch + ip -batch writing them", median(batch),
                median(resync) / median(batch), "<= 1.0"));
    }

    // ------------------------------------------------------------------ helpers

    /** A measured step of a figure. */
    private interface Timed {
        void run() throws Exception;
    }

    /** How long the kernel gets after a cleanup before the next measurement starts. */
    private static final long SETTLE_MS = 250;

    /**
     * Times each run once, on a settled kernel and cleaning up after each; round {@code r} starts with run
     * {@code r mod n}, so no run always follows the same one.
     *
     * @return the times in the order the runs were given
     */
    private static double[] timeInTurn(int round, Path rootDir, List<String> ids, Timed... runs) throws Exception {
        double[] ms = new double[runs.length];
        for (int k = 0; k < runs.length; k++) {
            int i = Math.floorMod(round + k, runs.length);
            ms[i] = timeThenCleanup(runs[i], rootDir, ids);
        }
        return ms;
    }

    /**
     * Times one run on a settled kernel, then deletes the VMs' TAPs as the provider under {@code rootDir} does: a
     * deletion leaves RCU callbacks and deferred frees behind that would otherwise be billed to whichever run comes
     * next.
     */
    private static double timeThenCleanup(Timed run, Path rootDir, List<String> ids) throws Exception {
        Thread.sleep(SETTLE_MS);
        long t0 = System.nanoTime();
        run.run();
        double ms = (System.nanoTime() - t0) / 1e6;
        BridgeTaps.cleanup(rootDir, ids); // as the provider's delete: the ports' port-security elements go too
        return ms;
    }

    private static List<String> vmIds(String prefix, int count) {
        List<String> ids = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            ids.add(prefix + String.format("%0" + (TapNames.VM_PREFIX_LENGTH - prefix.length()) + "d", i) + "-vm");
        }
        return ids;
    }

    /** A bridge provider on {@code br0} of the current namespace (made when missing), with its own scratch root. */
    private static BridgeNetworkProvider bridgeProvider(String figure) throws IOException {
        ensureBridge();
        return new BridgeNetworkProvider(ProviderSettings.of(scratch("tapwire-bench-" + figure + "-")).with("bridge", "br0"));
    }

    private static void ensureBridge() {
        try (Interfaces interfaces = Interfaces.open(); Rtnetlink netlink = Rtnetlink.open()) {
            if (netlink.link("br0").isEmpty()) {
                interfaces.createBridge("br0");
                interfaces.setUp("br0", true);
            }
        }
    }

    /** Runs {@code tool} once per line, the line's words as its arguments (what {@code tool -batch} reads). */
    private static void execEach(String tool, List<String> lines) throws IOException, InterruptedException {
        for (String line : lines) {
            List<String> command = new ArrayList<>(List.of(tool));
            command.addAll(Arrays.asList(line.split(" ")));
            exec(command.toArray(String[]::new));
        }
    }

    private static void exec(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    private static String javaBin() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    static Optional<String> tapUnavailability() {
        return BridgeNetworkProvider.unavailabilityCause().or(Namespaces::unavailabilityCause);
    }

    static Collection<String> figures(List<Report.Row> rows) {
        return rows.stream().map(r -> Integer.toString(r.figure())).collect(Collectors.toCollection(TreeSet::new));
    }
}
