package dev.tapwire.network.benchmarks;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.registry.FileNetworkRegistry;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Figure 1: a registry join+leave (two durable index writes) against two durable writes of the same
 * bytes (temp file, fsync, rename, directory fsync) — the floor for a durable whole-file registry.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class RegistryBenchmark {

    /** How many members the network already has. */
    @Param({"10", "100", "1000", "2500", "10000"})
    public int members;

    private Path dir;
    private FileNetworkRegistry registry;
    private byte[] indexBytes;
    private Path target;

    /**
     * Fills a registry with {@code members} members of one /16 network.
     *
     * @throws IOException if the temporary directory cannot be made
     */
    @Setup(Level.Trial)
    public void setUp() throws IOException {
        dir = Files.createTempDirectory("tapwire-bench-registry-");
        registry = FileNetworkRegistry.open(dir);
        Ipv4Subnet subnet = Ipv4Subnet.parse("10.44.0.0/16");
        List<Member> list = new ArrayList<>(members);
        Ipv4Address ip = subnet.firstHost().next();
        for (int i = 0; i < members; i++) {
            list.add(new Member("workspace-" + String.format("%05d", i), ip));
            ip = ip.next();
        }
        registry.writeIndex(new NetworkIndex(List.of(new NetworkRecord("bench", subnet, subnet.firstHost(),
                Instant.parse("2026-11-22T00:00:00Z"), list))));
        indexBytes = Files.readAllBytes(registry.indexFile());
        target = dir.resolve("reference.json");
    }

    /** Removes the temporary directory. */
    @TearDown(Level.Trial)
    public void tearDown() {
        Benchmarks.deleteRecursively(dir);
    }

    /**
     * One join and one leave: two locked, durable whole-index writes.
     *
     * @return the address handed out
     */
    @Benchmark
    public Ipv4Address joinLeave() {
        Ipv4Address ip = registry.join("bench", "transient");
        registry.leave("bench", "transient");
        return ip;
    }

    /**
     * The reference: two durable writes of the same bytes, the way the registry must write them.
     *
     * @throws IOException on failure
     */
    @Benchmark
    public void twoDurableWrites() throws IOException {
        durableWrite(indexBytes);
        durableWrite(indexBytes);
    }

    private void durableWrite(byte[] bytes) throws IOException {
        Path temp = dir.resolve("reference.tmp");
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) {
                ch.write(buffer);
            }
            ch.force(true);
        }
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }
}
