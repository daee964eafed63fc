package dev.tapwire.network.bridge;

/** Crashes a daemon for tests, as a fault would. */
final class Crash {

    private Crash() {
    }

    /**
     * SIGKILLs a process and returns once it has given up its command line — it no longer counts as running,
     * though it may hold its sockets a moment longer (what a restart must cope with).
     */
    static void sigkill(int pid) throws InterruptedException {
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        while (ProcessHandle.of(pid).flatMap(p -> p.info().commandLine()).isPresent()) {
            Thread.sleep(10);
        }
    }
}
