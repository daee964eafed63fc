package dev.tapwire.network.lock;

import java.nio.file.Path;

/** Child-process helper: takes the lock named by args[0], says "held", and keeps it until killed. */
public final class LockHolderMain {

    private LockHolderMain() {
    }

    public static void main(String[] args) throws Exception {
        try (Lease lease = LockFile.at(Path.of(args[0])).acquire()) {
            System.out.println("held");
            System.out.flush();
            Thread.sleep(60_000);
        }
    }
}
