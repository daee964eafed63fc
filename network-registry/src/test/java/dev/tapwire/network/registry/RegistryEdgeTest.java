package dev.tapwire.network.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.RegistryCorruptedException;
import dev.tapwire.network.lock.Lease;
import dev.tapwire.network.lock.LockFile;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The registry's promises at the edges: failed writes, interrupts, coarse timestamps, hostile directories. */
class RegistryEdgeTest {

    @TempDir
    Path state;

    private Path index() {
        return FileNetworkRegistry.indexPath(state);
    }

    private static Ipv4Address ip(String text) {
        return Ipv4Address.parse(text);
    }

    @Nested
    class GroupCommit {

        @Test
        @Timeout(60)
        void whenTheBatchWriteFailsEveryChangeOfTheBatchFailsAndNothingIsOnDisk() throws Exception {
            AtomicBoolean failing = new AtomicBoolean();
            FileNetworkRegistry registry = FileNetworkRegistry.builder(state).durability((channel, path) -> {
                if (failing.get() && !Files.isDirectory(path)) {
                    throw new IOException("No space left on device (injected)");
                }
                channel.force(true);
            }).build();
            registry.create("dev");
            byte[] before = Files.readAllBytes(index());
            failing.set(true);

            AtomicInteger successes = new AtomicInteger();
            AtomicInteger failures = new AtomicInteger();
            ExecutorService pool = Executors.newFixedThreadPool(16);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                int thread = t;
                done.add(pool.submit(() -> {
                    start.await();
                    for (int i = 0; i < 50; i++) {
                        try {
                            registry.join("dev", "w" + (thread + i) % 4); // re-joins and joins of 4 workspaces
                            successes.incrementAndGet();
                        } catch (NetworkException e) {
                            failures.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : done) {
                f.get();
            }
            pool.shutdown();
            assertThat(successes).as("a change that returned success must be on disk").hasValue(0);
            assertThat(failures).hasValue(16 * 50);
            assertThat(Files.readAllBytes(index())).isEqualTo(before);
        }

        @Test
        @Timeout(120)
        void interruptingOneCallerFailsOnlyThatCaller() throws Exception {
            FileNetworkRegistry registry = FileNetworkRegistry.open(state);
            registry.create("dev", Ipv4Subnet.parse("10.44.0.0/20"));
            Map<String, Ipv4Address> acknowledged = new ConcurrentHashMap<>();
            List<Throwable> othersFailed = new CopyOnWriteArrayList<>();
            AtomicBoolean stop = new AtomicBoolean();
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int thread = t;
                workers.add(new Thread(() -> {
                    for (int i = 0; i < 150; i++) {
                        try {
                            String ws = "t" + thread + "-" + i;
                            acknowledged.put(ws, registry.join("dev", ws));
                        } catch (RuntimeException e) {
                            othersFailed.add(e);
                        }
                    }
                }));
            }
            List<Thread> victims = new ArrayList<>();
            List<Throwable> victimsFailedOtherwise = new CopyOnWriteArrayList<>();
            for (int v = 0; v < 3; v++) {
                int victim = v;
                victims.add(new Thread(() -> {
                    for (int i = 0; !stop.get(); i++) {
                        String ws = "victim" + victim + "-" + i;
                        try {
                            acknowledged.put(ws, registry.join("dev", ws));
                        } catch (NetworkException e) {
                            if (!e.getMessage().contains("interrupted")) {
                                victimsFailedOtherwise.add(e);
                            }
                        } catch (RuntimeException | Error e) {
                            victimsFailedOtherwise.add(e);
                        }
                        Thread.interrupted(); // clear it for the next round
                    }
                }));
            }
            workers.forEach(Thread::start);
            victims.forEach(Thread::start);
            java.util.Random random = new java.util.Random(42);
            while (workers.stream().anyMatch(Thread::isAlive)) {
                victims.get(random.nextInt(victims.size())).interrupt();
                Thread.sleep(0, random.nextInt(400_000));
            }
            stop.set(true);
            for (Thread victim : victims) {
                victim.join();
            }
            assertThat(victimsFailedOtherwise).as("an interrupted caller fails only with an interrupt error")
                    .isEmpty();
            assertThat(othersFailed).as("callers that were not interrupted").isEmpty();
            Map<String, Ipv4Address> onDisk = FileNetworkRegistry.open(state).get("dev").members().stream()
                    .collect(Collectors.toMap(Member::workspace, Member::ip));
            assertThat(onDisk).isEqualTo(acknowledged);
        }

        @Test
        void aThreadHoldingTheLockFileLeaseCanStillChangeTheRegistry() throws Exception {
            FileNetworkRegistry registry = FileNetworkRegistry.open(state);
            registry.create("dev", Ipv4Subnet.parse("10.44.0.0/20"));
            AtomicBoolean stop = new AtomicBoolean();
            Thread busy = new Thread(() -> {
                for (int i = 0; !stop.get(); i++) {
                    registry.join("dev", "busy-" + i); // keeps the writer waiting for the lock
                }
            });
            busy.start();
            try {
                assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
                    for (int round = 0; round < 50; round++) {
                        try (Lease lease = LockFile.at(index().resolveSibling("index.lock")).acquire()) {
                            registry.join("dev", "holder-" + round);
                            registry.leave("dev", "holder-" + round);
                        }
                    }
                });
            } finally {
                stop.set(true);
                busy.join();
            }
            assertThat(registry.get("dev").workspaces()).noneMatch(ws -> ws.startsWith("holder-"));
        }
    }

    @Nested
    class Durability {

        @Test
        void theNewFileIsFsyncedBeforeTheRenameAndTheDirectoryAfterIt() {
            List<String> events = new ArrayList<>();
            FileNetworkRegistry registry = FileNetworkRegistry.builder(state).durability((channel, path) -> {
                String what = path.equals(index().getParent()) ? "directory" : path.getFileName().toString().startsWith("index.json.tmp-")
                        ? "temporary file" : path.toString();
                events.add(what + (joinedOnDisk() ? " after rename" : " before rename"));
                channel.force(true);
            }).build();
            registry.create("dev");
            events.clear();
            registry.join("dev", "w1");
            assertThat(events).containsExactly("temporary file before rename", "directory after rename");
        }

        private boolean joinedOnDisk() {
            try {
                return Files.exists(index()) && Files.readString(index()).contains("\"w1\"");
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }

        @Test
        void aFailedFirstWriteSaysThatNoIndexWasWritten() {
            FileNetworkRegistry registry = FileNetworkRegistry.builder(state).durability((channel, path) -> {
                throw new IOException("Input/output error (injected)");
            }).build();
            assertThatThrownBy(() -> registry.create("dev")).isInstanceOf(NetworkException.class)
                    .hasMessageContaining("no index was written").hasMessageNotContaining("intact");
            assertThat(index()).doesNotExist();
        }

        @Test
        void theCheckForAnotherWriterHoldsWhereTimestampsAreCoarseAndInodesReused() throws Exception {
            CiAssumptions.assumeOrFailInCi(Files.isExecutable(Path.of("/sbin/mkfs.ext4")),
                    "needs e2fsprogs mkfs.ext4 to make an ext4 with 1 s timestamps");
            CiAssumptions.assumePrivateMountNamespace("mount an ext4 with 1 s timestamps");
            Path image = state.resolve("coarse.img");
            Path mountPoint = Files.createDirectory(state.resolve("coarse"));
            // 128-byte inodes have no room for nanoseconds: timestamps are whole seconds, as on older ext4
            Process child = CiAssumptions.inPrivateMountNamespace("truncate -s 32M \"$2\" && /sbin/mkfs.ext4 -q -F -I 128"
                    + " \"$2\" 2>/dev/null && mount -o loop \"$2\" \"$1\" && exec " + CiAssumptions.javaCommand()
                    + RegistryWorkerMain.class.getName() + " coarse \"$1\" 300", mountPoint.toString(), image.toString())
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            List<String> out = ConcurrencyTest.lines(child);
            assertThat(child.waitFor()).as("worker output %s", out).isZero();
            Map<String, Integer> result = out.stream().filter(l -> l.contains("=")).collect(Collectors.toMap(
                    l -> l.substring(0, l.indexOf('=')), l -> Integer.parseInt(l.substring(l.indexOf('=') + 1))));
            assertThat(result.get("sameTick")).as("rounds where the other writes left the timestamp as it was")
                    .isGreaterThan(100);
            assertThat(result.get("stale")).as("changes made on a stale index").isZero();
        }
    }

    @Nested
    class ReadOnly {

        @Test
        void readingAMissingStateDirectoryCreatesNothing() {
            Path missing = state.resolve("not-yet");
            FileNetworkRegistry registry = FileNetworkRegistry.open(missing);
            assertThat(registry.list()).isEmpty();
            assertThat(registry.find("dev")).isEmpty();
            assertThat(registry.readIndex().networks()).isEmpty();
            assertThat(missing).doesNotExist();
        }

        @Test
        void aReaderOnAReadOnlyMountCanListNetworks() throws Exception {
            CiAssumptions.assumePrivateMountNamespace("mount the state directory read-only");
            FileNetworkRegistry.open(state).create("dev");
            FileNetworkRegistry.open(state).join("dev", "w1");
            Process child = CiAssumptions.inPrivateMountNamespace("mount --bind \"$1\" \"$1\" && mount -o remount,bind,ro"
                    + " \"$1\" && exec " + CiAssumptions.javaCommand() + RegistryWorkerMain.class.getName()
                    + " list \"$1\"", state.toString())
                    .redirectErrorStream(true).start();
            List<String> out = ConcurrencyTest.lines(child);
            assertThat(child.waitFor()).as("output %s", out).isZero();
            assertThat(out).contains("network dev [w1]");
        }
    }

    @Nested
    class HostileStateDirectory {

        @Test
        void theLockFileIsNeverOpenedThroughASymbolicLink() throws Exception {
            Path networks = Files.createDirectories(index().getParent());
            Path target = state.resolve("created-by-root");
            Files.createSymbolicLink(networks.resolve("index.lock"), target);
            FileNetworkRegistry registry = FileNetworkRegistry.open(state);
            assertThatThrownBy(() -> registry.create("dev")).isInstanceOf(NetworkException.class)
                    .hasMessageContaining("index.lock").hasMessageContaining("symbolic link");
            assertThat(target).doesNotExist();
        }

        @Test
        void theIndexIsNeverReadThroughASymbolicLinkNorIsItsTargetQuoted() throws Exception {
            Path networks = Files.createDirectories(index().getParent());
            Path secret = Files.writeString(state.resolve("shadow"), "root:$6$Hunter2:19000:0:99999:7:::\n");
            Files.createSymbolicLink(index(), secret);
            FileNetworkRegistry registry = FileNetworkRegistry.open(state);
            assertThatThrownBy(registry::list).isInstanceOf(RegistryCorruptedException.class)
                    .hasMessageContaining("symbolic link").hasMessageNotContaining("Hunter2").hasMessageNotContaining("root:");
            assertThatThrownBy(() -> registry.join("dev", "w")).isInstanceOf(RegistryCorruptedException.class);
            assertThat(Files.isSymbolicLink(index())).as("left untouched").isTrue();
            assertThat(networks.resolve("index.lock")).exists();
        }

        @Test
        void aFifoOrADeviceInPlaceOfTheIndexIsRefusedAtOnce() throws Exception {
            Files.createDirectories(index().getParent());
            assertThat(new ProcessBuilder("mkfifo", index().toString()).start().waitFor()).isZero();
            FileNetworkRegistry registry = FileNetworkRegistry.open(state);
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                assertThatThrownBy(registry::list).isInstanceOf(RegistryCorruptedException.class)
                        .hasMessageContaining("not a regular file");
                assertThatThrownBy(() -> registry.join("dev", "w")).isInstanceOf(RegistryCorruptedException.class);
            });
            Files.delete(index());
            Files.createSymbolicLink(index(), Path.of("/dev/zero"));
            assertTimeoutPreemptively(Duration.ofSeconds(10), () ->
                    assertThatThrownBy(registry::list).isInstanceOf(RegistryCorruptedException.class));
        }

        @Test
        void anIndexLargerThanTheCapIsRefusedWithoutReadingIt() throws Exception {
            Files.createDirectories(index().getParent());
            try (RandomAccessFile sparse = new RandomAccessFile(index().toFile(), "rw")) {
                sparse.setLength(IndexFile.MAX_BYTES + 1);
            }
            FileNetworkRegistry registry = FileNetworkRegistry.open(state);
            assertThatThrownBy(registry::list).isInstanceOf(RegistryCorruptedException.class)
                    .hasMessageContaining("at most " + IndexFile.MAX_BYTES);
            assertThatThrownBy(() -> registry.join("dev", "w")).isInstanceOf(RegistryCorruptedException.class);
        }

        @Test
        void filesAre0644AndDirectories0755WhateverTheUmask() throws Exception {
            Path fresh = state.resolve("fresh");
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process child = new ProcessBuilder("sh", "-c", "umask 077 && exec \"$0\" -XX:TieredStopAtLevel=1 -cp \"$1\" "
                    + RegistryWorkerMain.class.getName() + " create \"$2\" dev w1",
                    java, System.getProperty("java.class.path"), fresh.toString())
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            assertThat(ConcurrencyTest.lines(child)).containsExactly("joined dev 10.44.1.2");
            assertThat(child.waitFor()).isZero();
            Path networks = FileNetworkRegistry.indexPath(fresh).getParent();
            assertThat(mode(fresh)).isEqualTo("rwxr-xr-x");
            assertThat(mode(networks)).isEqualTo("rwxr-xr-x");
            assertThat(mode(networks.resolve("index.json"))).isEqualTo("rw-r--r--");
            assertThat(mode(networks.resolve("index.lock"))).isEqualTo("rw-r--r--");
        }

        @Test
        void anOperatorsStricterModeOnTheIndexIsKept() throws Exception {
            FileNetworkRegistry registry = FileNetworkRegistry.open(state);
            registry.create("dev");
            Files.setPosixFilePermissions(index(), PosixFilePermissions.fromString("rw-------"));
            registry.join("dev", "w1");
            assertThat(mode(index())).isEqualTo("rw-------");
        }

        private String mode(Path p) throws IOException {
            return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
        }
    }

}
