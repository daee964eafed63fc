package dev.tapwire.network.testkit;

import dev.tapwire.network.NicConfig;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
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
 * A real QEMU guest on a TAP that tapwire made, driven through its serial console — the proof that a NIC
 * config works for a real VMM. The guest is a Debian cloud kernel and a busybox initramfs that
 * {@link #image(Path)} builds from Debian packages only; its init loads the virtio-net modules, takes a DHCP
 * lease on {@code eth0} (printing {@code TAPWIRE-LEASE ip=... router=... dns=... search=...}), prints
 * {@code TAPWIRE-READY} and runs a shell that {@link #run} feeds. QEMU runs with TCG and {@code vhost=off},
 * which works everywhere (nested KVM often hangs), in the network namespace of the thread that boots it.
 *
 * <pre>{@code
 * Path image = QemuGuest.image(Path.of("target/guest"));   // once, outside any private namespace
 * try (QemuGuest guest = QemuGuest.boot("web", image, nic, null)) {
 *     guest.await("TAPWIRE-READY", Duration.ofMinutes(2));
 *     assertThat(guest.ping("10.44.1.1", 1)).isPositive();
 * }
 * }</pre>
 */
public final class QemuGuest implements AutoCloseable {

    /** Where Debian's {@code qemu-system-x86} installs QEMU. */
    public static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");

    private final String name;
    private final Process process;
    private final OutputStream console;
    private final List<String> lines = new ArrayList<>();
    private final Thread reader;
    private int marker;

    private QemuGuest(String name, Process process) {
        this.name = name;
        this.process = process;
        this.console = process.getOutputStream();
        this.reader = new Thread(() -> {
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
            } finally {
                synchronized (lines) {
                    lines.notifyAll(); // the console ended: waiters stop waiting for more
                }
            }
        }, "qemu-guest-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * Says why guests cannot boot here, naming the Debian packages to install.
     *
     * @return the reason, or empty when QEMU, a static busybox and cpio are installed
     */
    public static Optional<String> unavailabilityCause() {
        List<String> missing = new ArrayList<>();
        if (!Files.isExecutable(QEMU)) {
            missing.add("QEMU is not installed (Debian package qemu-system-x86)");
        }
        if (!Files.isExecutable(Path.of("/bin/busybox"))) {
            missing.add("busybox is not installed (Debian package busybox-static)");
        }
        if (!Files.isExecutable(Path.of("/usr/bin/cpio")) && !Files.isExecutable(Path.of("/bin/cpio"))) {
            missing.add("cpio is not installed (Debian package cpio)");
        }
        return missing.isEmpty() ? Optional.empty() : Optional.of(String.join("; ", missing));
    }

    /**
     * Builds the guest image under {@code dir} unless it is there already: {@code vmlinuz} from the Debian
     * package {@code linux-image-cloud-amd64} depends on (fetched with {@code apt-get download}, unpacked with
     * {@code dpkg -x}, never installed) and {@code initrd.img} from {@code busybox-static}. Needs the host's
     * network to reach Debian's mirror: call it before entering a private namespace.
     *
     * @param dir where the image goes
     * @return {@code dir}
     * @throws IOException if the build fails (the message carries the build's output)
     * @throws InterruptedException if interrupted while it runs
     */
    public static Path image(Path dir) throws IOException, InterruptedException {
        if (Files.isRegularFile(dir.resolve("vmlinuz")) && Files.isRegularFile(dir.resolve("initrd.img"))) {
            return dir; // the script moves both into place only once complete
        }
        Path script = Files.createTempFile("tapwire-build-guest-", ".sh");
        try (InputStream in = QemuGuest.class.getResourceAsStream("build-guest.sh")) {
            if (in == null) {
                throw new IOException("build-guest.sh is missing from the testkit jar");
            }
            Files.write(script, in.readAllBytes());
            Process build = new ProcessBuilder("sh", script.toString(), dir.toAbsolutePath().toString())
                    .redirectErrorStream(true).start();
            String out = new String(build.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!build.waitFor(600, TimeUnit.SECONDS) || build.exitValue() != 0) {
                build.destroyForcibly();
                throw new IOException("building the guest image in " + dir + " failed: " + out.strip());
            }
            return dir;
        } finally {
            Files.deleteIfExists(script);
        }
    }

    /**
     * Boots a guest in the calling thread's network namespace on the NIC's TAP, with the NIC's MAC.
     *
     * @param name the guest's name, for messages
     * @param image a directory {@link #image} built
     * @param nic the NIC config tapwire returned
     * @param clientId a DHCP client identifier (hex) the guest sends, as cloned images do, or null for none
     * @return the running guest; close it to stop it
     * @throws IOException if QEMU cannot be started
     */
    public static QemuGuest boot(String name, Path image, NicConfig nic, String clientId) throws IOException {
        return new QemuGuest(name, new ProcessBuilder(command(image, nic, clientId)).redirectErrorStream(true).start());
    }

    /**
     * Boots a guest as {@link #boot} does, with QEMU running as another user, as a VMM that drops root does: the
     * kernel lets it attach to the TAP only if the TAP's owner (and group, if set) allow that user. QEMU gets a
     * world-usable {@code /dev/net/tun} in a private mount namespace of its own (the host's node is untouched;
     * on these machines it is 0600), so the TAP's ownership alone decides. Needs root, util-linux
     * {@code unshare} and {@code setpriv}; the image must be readable by that user.
     *
     * @param name the guest's name, for messages
     * @param image a directory {@link #image} built, readable by {@code uid}
     * @param nic the NIC config tapwire returned
     * @param uid the user (and group) id QEMU runs as
     * @return the running guest; when the user may not attach, QEMU exits at once and {@link #console} says why
     * @throws IOException if the process cannot be started
     */
    public static QemuGuest bootAs(String name, Path image, NicConfig nic, int uid) throws IOException {
        List<String> command = new ArrayList<>(List.of("unshare", "--mount", "--propagation", "private", "--", "sh",
                "-c", "mount -t tmpfs -o mode=0755 tmpfs /dev/net && mknod -m 0666 /dev/net/tun c 10 200"
                        + " && exec setpriv --reuid=\"$0\" --regid=\"$0\" --clear-groups -- \"$@\"",
                Integer.toString(uid)));
        command.addAll(command(image, nic, null));
        return new QemuGuest(name, new ProcessBuilder(command).redirectErrorStream(true).start());
    }

    /**
     * Waits for QEMU to exit.
     *
     * @param timeout how long to wait
     * @return its exit status
     * @throws AssertionError if it is still running after {@code timeout}
     * @throws InterruptedException if interrupted while waiting
     */
    public int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("guest " + name + " still runs after " + timeout + "; console:\n" + console());
        }
        reader.join(timeout.toMillis()); // everything it printed is in the console now
        return process.exitValue();
    }

    private static List<String> command(Path image, NicConfig nic, String clientId) {
        if (clientId != null && !clientId.matches("[0-9a-fA-F]+")) {
            throw new IllegalArgumentException("DHCP client id must be hex digits, got " + clientId);
        }
        return List.of(QEMU.toString(), "-accel", "tcg", "-m", "192", "-smp", "1", "-nodefaults",
                "-no-user-config", "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
                "-kernel", image.resolve("vmlinuz").toString(), "-initrd", image.resolve("initrd.img").toString(),
                "-append", "console=ttyS0 quiet panic=-1" + (clientId == null ? "" : " tw.clientid=" + clientId),
                "-netdev", "tap,id=n0,ifname=" + nic.tap() + ",script=no,downscript=no,vhost=off",
                "-device", "virtio-net-pci,netdev=n0,mac=" + nic.mac());
    }

    /**
     * Waits for a console line matching {@code regex}.
     *
     * @param regex the pattern, found anywhere in a line
     * @param timeout how long to wait
     * @return the match
     * @throws AssertionError with the whole console when no line matches in time or the guest exits
     * @throws InterruptedException if interrupted while waiting
     */
    public Matcher await(String regex, Duration timeout) throws InterruptedException {
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
                if (left <= 0 || !reader.isAlive() && seen == lines.size()) {
                    throw new AssertionError("guest " + name + " printed no line matching " + regex + " within "
                            + timeout + "; console:\n" + String.join("\n", lines));
                }
                lines.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            }
        }
    }

    /**
     * Runs a shell command in the guest and returns its output lines (stdout and stderr).
     *
     * @param command the command
     * @param timeout how long it may take
     * @return the lines it printed
     * @throws AssertionError if it does not finish in time
     * @throws IOException if the console cannot be written
     * @throws InterruptedException if interrupted while waiting
     */
    public List<String> run(String command, Duration timeout) throws IOException, InterruptedException {
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

    /**
     * Resolves a name in the guest with busybox {@code nslookup} (search domains from DHCP apply).
     *
     * @param host the name
     * @return the addresses of the answer, empty when there is none
     * @throws IOException if the console cannot be written
     * @throws InterruptedException if interrupted while waiting
     */
    public List<String> resolve(String host) throws IOException, InterruptedException {
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

    /**
     * Pings from the guest.
     *
     * @param address the address to ping
     * @param count how many echo requests to send (2 s timeout each)
     * @return how many replies came back
     * @throws IOException if the console cannot be written
     * @throws InterruptedException if interrupted while waiting
     */
    public int ping(String address, int count) throws IOException, InterruptedException {
        List<String> out = run("ping -c " + count + " -W 2 " + address, Duration.ofSeconds(10L + 3L * count));
        Pattern received = Pattern.compile("(\\d+) packets received");
        for (String l : out) {
            Matcher m = received.matcher(l);
            if (m.find()) {
                return Integer.parseInt(m.group(1));
            }
        }
        return 0;
    }

    /**
     * Returns everything the guest printed so far.
     *
     * @return the console, line by line
     */
    public String console() {
        synchronized (lines) {
            return String.join("\n", lines);
        }
    }

    /** Stops the guest (QEMU is killed) and waits for it to exit. */
    @Override
    public void close() {
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
