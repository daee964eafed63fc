package dev.tapwire.network.bridge;

import dev.tapwire.network.NicConfig;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real QEMU guest (TCG, no vhost) on a TAP that tapwire made, driven through its serial console: the guest
 * built by {@code src/test/guest/build-guest.sh} takes a DHCP lease, prints {@code TAPWIRE-READY} and runs a
 * shell that {@link #run} feeds.
 */
final class Guest implements AutoCloseable {

    static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");

    private final String name;
    private final Process process;
    private final OutputStream console;
    private final List<String> lines = new ArrayList<>();
    private int marker;

    private Guest(String name, Process process) {
        this.name = name;
        this.process = process;
        this.console = process.getOutputStream();
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    synchronized (lines) {
                        lines.add(line.replace("\r", ""));
                        lines.notifyAll();
                    }
                }
            } catch (IOException ignored) {
                // the guest is gone
            }
        }, "guest-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    /** Makes the guest image (once) under {@code dir}; returns its directory, or the reason it cannot. */
    static Path image(Path dir) throws Exception {
        Path script = Path.of("src/test/guest/build-guest.sh").toAbsolutePath();
        Process build = new ProcessBuilder("sh", script.toString(), dir.toString()).redirectErrorStream(true).start();
        String out = new String(build.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!build.waitFor(600, TimeUnit.SECONDS) || build.exitValue() != 0) {
            throw new IllegalStateException("building the guest image failed: " + out);
        }
        return dir;
    }

    /** Boots a guest in the calling thread's network namespace on the NIC's TAP, with the NIC's MAC. */
    static Guest boot(String name, Path image, NicConfig nic, String clientId) throws IOException {
        List<String> command = List.of(QEMU.toString(), "-accel", "tcg", "-m", "192", "-smp", "1", "-nodefaults",
                "-no-user-config", "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
                "-kernel", image.resolve("vmlinuz").toString(), "-initrd", image.resolve("initrd.img").toString(),
                "-append", "console=ttyS0 quiet panic=-1" + (clientId == null ? "" : " tw.clientid=" + clientId),
                "-netdev", "tap,id=n0,ifname=" + nic.tap() + ",script=no,downscript=no,vhost=off",
                "-device", "virtio-net-pci,netdev=n0,mac=" + nic.mac());
        return new Guest(name, new ProcessBuilder(command).redirectErrorStream(true).start());
    }

    /** Waits for a console line matching {@code regex}; returns its match. */
    Matcher await(String regex, Duration timeout) throws InterruptedException {
        Pattern p = Pattern.compile(regex);
        long deadline = System.nanoTime() + timeout.toNanos();
        int seen = 0;
        synchronized (lines) {
            while (true) {
                for (; seen < lines.size(); seen++) {
                    Matcher m = p.matcher(lines.get(seen));
                    if (m.find()) {
                        return m;
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0 || !process.isAlive() && seen == lines.size()) {
                    throw new AssertionError("guest " + name + " printed no line matching " + regex + " within "
                            + timeout + "; console:\n" + String.join("\n", lines));
                }
                lines.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            }
        }
    }

    /** Runs a shell command in the guest and returns its output lines (stdout and stderr). */
    List<String> run(String command, Duration timeout) throws Exception {
        String end = "TW-END-" + (++marker);
        int from;
        synchronized (lines) {
            from = lines.size();
        }
        console.write((command + " 2>&1; echo " + end + "-$?\n").getBytes(StandardCharsets.UTF_8));
        console.flush();
        await("^" + end + "-\\d+$", timeout);
        synchronized (lines) {
            List<String> out = new ArrayList<>();
            for (String l : lines.subList(from, lines.size())) {
                if (l.startsWith(end)) {
                    break;
                }
                if (!l.contains(end)) { // the echoed command line itself
                    out.add(l);
                }
            }
            return out;
        }
    }

    /** Resolves a name in the guest with busybox nslookup; returns the addresses of the answer, if any. */
    List<String> resolve(String host) throws Exception {
        List<String> out = run("nslookup " + host, Duration.ofSeconds(20));
        List<String> addresses = new ArrayList<>();
        boolean answer = false;
        for (String l : out) {
            if (l.startsWith("Name:")) {
                answer = true;
            } else if (answer && l.startsWith("Address:")) {
                addresses.add(l.substring("Address:".length()).strip());
            }
        }
        return addresses;
    }

    /** Pings from the guest; returns how many replies came back. */
    int ping(String address, int count) throws Exception {
        List<String> out = run("ping -c " + count + " -W 2 " + address, Duration.ofSeconds(10L + 3L * count));
        Optional<Matcher> m = out.stream().map(l -> Pattern.compile("(\\d+) packets received").matcher(l))
                .filter(Matcher::find).findFirst();
        return m.map(x -> Integer.parseInt(x.group(1))).orElse(0);
    }

    String console() {
        synchronized (lines) {
            return String.join("\n", lines);
        }
    }

    @Override
    public void close() throws Exception {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    static boolean available() {
        return Files.isExecutable(QEMU);
    }
}
