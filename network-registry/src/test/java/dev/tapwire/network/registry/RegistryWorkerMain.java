package dev.tapwire.network.registry;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkRecord;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * Child-process driver for the multi-process, crash and disk-full tests. It prints one line per
 * completed step and flushes, so the parent knows exactly which operations returned.
 */
public final class RegistryWorkerMain {

    private RegistryWorkerMain() {
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true);
        Path state = Path.of(args[1]);
        FileNetworkRegistry registry = FileNetworkRegistry.open(state);
        switch (args[0]) {
            case "join" -> {
                int count = Integer.parseInt(args[4]);
                for (int i = 0; i < count; i++) {
                    String ws = args[3] + "-" + i;
                    Ipv4Address ip = registry.join(args[2], ws);
                    out.println("joined " + ws + " " + ip);
                }
            }
            case "churn" -> {
                for (int i = 0; i < 20_000; i++) {
                    String ws = args[3] + "-" + i;
                    Ipv4Address ip = registry.join(args[2], ws);
                    out.println("joined " + ws + " " + ip);
                    if (i % 3 == 2) {
                        String gone = args[3] + "-" + (i - 1);
                        out.println("leaving " + gone);
                        registry.leave(args[2], gone);
                        out.println("left " + gone);
                    }
                }
            }
            case "diskfull" -> diskFull(registry, state, out);
            case "create" -> out.println("joined " + registry.create(args[2]).name() + " "
                    + registry.join(args[2], args[3]));
            case "list" -> registry.list().forEach(n -> out.println("network " + n.name() + " " + n.workspaces()));
            case "coarse" -> coarseTimestamps(registry, Integer.parseInt(args[2]), out);
            default -> throw new IllegalArgumentException(args[0]);
        }
    }

    /**
     * Another process's two rename-writes of a same-sized index inside one timestamp tick, then a change here:
     * prints how many rounds the change was made on a stale index (the other process's write lost).
     */
    private static void coarseTimestamps(FileNetworkRegistry registry, int rounds, PrintStream out)
            throws IOException {
        registry.create("dev");
        Path index = registry.indexFile();
        int stale = 0;
        int sameTick = 0;
        for (int r = 0; r < rounds; r++) {
            registry.join("dev", "aa"); // this process reads and holds the index
            java.nio.file.attribute.FileTime before = Files.getLastModifiedTime(index);
            String mine = Files.readString(index);
            otherProcessWrites(index, mine.replace("\"aa\"", "\"bb\""));
            otherProcessWrites(index, mine.replace("\"aa\"", "\"cc\""));
            if (Files.getLastModifiedTime(index).equals(before)) {
                sameTick++;
            }
            registry.join("dev", "dd"); // must see cc, not resurrect aa
            String after = Files.readString(index);
            if (after.contains("\"aa\"") || !after.contains("\"cc\"")) {
                stale++;
            }
            registry.leave("dev", "cc");
            registry.leave("dev", "dd");
        }
        out.println("rounds=" + rounds);
        out.println("sameTick=" + sameTick);
        out.println("stale=" + stale);
    }

    /** What another tapwire process does under the lock: a new file renamed over the index. */
    private static void otherProcessWrites(Path index, String content) throws IOException {
        Path temp = index.resolveSibling("other-process.tmp");
        Files.writeString(temp, content);
        Files.move(temp, index, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static void diskFull(FileNetworkRegistry registry, Path state, PrintStream out) throws IOException {
        registry.create("dev");
        for (int i = 0; i < 20; i++) {
            registry.join("dev", "w" + i);
        }
        byte[] before = Files.readAllBytes(registry.indexFile());
        try (OutputStream filler = Files.newOutputStream(state.resolve("filler"))) {
            byte[] block = new byte[4096];
            while (true) {
                filler.write(block);
            }
        } catch (IOException full) {
            out.println("filled=" + full.getMessage());
        }
        String error = "none";
        for (int i = 20; i < 4000 && "none".equals(error); i++) {
            try {
                registry.join("dev", "w" + i);
            } catch (NetworkException e) {
                error = e.getMessage();
            }
        }
        out.println("error=" + error);
        FileNetworkRegistry fresh = FileNetworkRegistry.open(state);
        NetworkRecord dev = fresh.get("dev");
        out.println("members=" + dev.members().size());
        out.println("intact=" + java.util.Arrays.equals(before, Files.readAllBytes(registry.indexFile())));
        try (Stream<Path> files = Files.list(registry.indexFile().getParent())) {
            out.println("temps=" + files.filter(p -> p.getFileName().toString().startsWith("index.json.tmp")).count());
        }
    }
}
