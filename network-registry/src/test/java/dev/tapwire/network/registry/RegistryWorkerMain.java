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
            default -> throw new IllegalArgumentException(args[0]);
        }
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
