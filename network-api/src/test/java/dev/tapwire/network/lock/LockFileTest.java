package dev.tapwire.network.lock;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LockFileTest {

    @TempDir
    Path dir;

    @Test
    void twoInstancesOnOneFileExcludeEachOtherWithoutOverlappingLockErrors() throws Exception {
        LockFile first = LockFile.at(dir.resolve("x.lock"));
        LockFile second = LockFile.at(dir.resolve("./x.lock"));
        try (Lease lease = first.acquire()) {
            assertThat(tryFromAnotherThread(second)).isFalse();
        }
        assertThat(tryFromAnotherThread(second)).isTrue();
    }

    @Test
    void aPathThroughASymlinkIsTheSameLockBeforeAndAfterItsDirectoryExists() throws Exception {
        Path real = java.nio.file.Files.createDirectory(dir.resolve("real"));
        Path link = java.nio.file.Files.createSymbolicLink(dir.resolve("link"), real);
        LockFile early = LockFile.at(link.resolve("state/networks/index.lock"));
        java.nio.file.Files.createDirectories(real.resolve("state/networks"));
        LockFile late = LockFile.at(real.resolve("state/networks/index.lock"));
        assertThat(early.path()).isEqualTo(late.path());
        try (Lease lease = early.acquire()) {
            assertThat(tryFromAnotherThread(late)).isFalse();
        }
    }

    @Test
    void theOwningThreadMayReenter() {
        LockFile lock = LockFile.at(dir.resolve("r.lock"));
        try (Lease outer = lock.acquire(); Lease inner = lock.acquire()) {
            assertThat(lock.isHeldByCurrentThread()).isTrue();
        }
        assertThat(lock.isHeldByCurrentThread()).isFalse();
    }

    @Test
    void closingALeaseTwiceReleasesOnce() throws Exception {
        LockFile lock = LockFile.at(dir.resolve("c.lock"));
        Lease outer = lock.acquire();
        Lease inner = lock.acquire();
        inner.close();
        inner.close();
        assertThat(lock.isHeldByCurrentThread()).isTrue();
        outer.close();
        assertThat(lock.isHeldByCurrentThread()).isFalse();
        assertThat(tryFromAnotherThread(lock)).isTrue();
    }

    /** Tries the lock on another thread (leases belong to the thread that took them) and releases it. */
    private static boolean tryFromAnotherThread(LockFile lock) throws Exception {
        return CompletableFuture.supplyAsync(() -> {
            Optional<Lease> lease = lock.tryAcquire();
            lease.ifPresent(Lease::close);
            return lease.isPresent();
        }).get(5, TimeUnit.SECONDS);
    }

    @Test
    void anotherProcessHoldingTheFileLockMakesTryAcquireFail() throws Exception {
        Path file = dir.resolve("p.lock");
        Process holder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), LockHolderMain.class.getName(), file.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            assertThat(new String(holder.getInputStream().readNBytes(5))).isEqualTo("held\n");
            assertThat(LockFile.at(file).tryAcquire()).isEmpty();
        } finally {
            holder.destroyForcibly().waitFor();
        }
        try (Lease lease = LockFile.at(file).tryAcquire().orElseThrow()) {
            assertThat(lease).isNotNull();
        }
    }

    @Test
    void aWaiterWhoseLockFileWasReplacedMeanwhileLocksTheNewFileNotTheOldOne() throws Exception {
        Path file = dir.resolve("w.lock");
        Process first = holdInAnotherProcess(file);
        Process second = null;
        try {
            CountDownLatch acquired = new CountDownLatch(1);
            Thread waiter = new Thread(() -> {
                try (Lease lease = LockFile.at(file).acquire()) {
                    acquired.countDown();
                }
            });
            waiter.start();
            Thread.sleep(300); // the waiter is waiting for the first process's lock on the old file
            Files.delete(file);
            second = holdInAnotherProcess(file); // a new lock file, held by another process
            first.destroyForcibly().waitFor();
            assertThat(acquired.await(700, TimeUnit.MILLISECONDS))
                    .as("the old file's lock is free, but the path names a file another process holds").isFalse();
            second.destroyForcibly().waitFor();
            assertThat(acquired.await(10, TimeUnit.SECONDS)).isTrue();
            waiter.join();
        } finally {
            first.destroyForcibly().waitFor();
            if (second != null) {
                second.destroyForcibly().waitFor();
            }
        }
    }

    private static Process holdInAnotherProcess(Path file) throws IOException {
        Process holder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), LockHolderMain.class.getName(), file.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        assertThat(new String(holder.getInputStream().readNBytes(5))).isEqualTo("held\n");
        return holder;
    }

    @Test
    void aLockFileRemovedOrReplacedBetweenLeasesIsOpenedAgainByPath() throws Exception {
        java.nio.file.Path file = dir.resolve("k.lock");
        LockFile lock = LockFile.at(file);
        lock.acquire().close();
        java.nio.file.Files.delete(file);
        try (Lease lease = lock.acquire()) {
            assertThat(file).as("re-created: other processes lock what the path names").exists();
        }
        java.nio.file.Files.delete(file);
        java.nio.file.Files.createSymbolicLink(file, dir.resolve("elsewhere"));
        org.assertj.core.api.Assertions.assertThatThrownBy(lock::acquire)
                .isInstanceOf(dev.tapwire.network.NetworkException.class).hasMessageContaining("symbolic link");
        assertThat(dir.resolve("elsewhere")).doesNotExist();
        assertThat(lock.isHeldByCurrentThread()).isFalse();
    }
}
