package dev.tapwire.network.guest;

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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real QEMU guest on a TAP that tapwire made, driven through its serial console. The guest boots a
 * {@link GuestImage}: its init loads the virtio-net modules, takes a DHCP lease on {@code eth0} (printing
 * {@code TAPWIRE-LEASE ip=... router=... dns=... search=...}), prints {@code TAPWIRE-READY} and runs a shell
 * that {@link #run} feeds. A guest that cannot drive its NIC or get a lease prints {@code TAPWIRE-NO-DRIVER}
 * or {@code TAPWIRE-NO-LEASE} within seconds, and {@link #await} reports that at once rather than waiting out
 * its timeout. QEMU runs with TCG and {@code vhost=off}, which works everywhere (nested KVM often hangs), in
 * the network namespace of the thread that boots it.
 *
 * <pre>{@code
 * GuestImage image = GuestImage.build(Path.of("target/guest"));   // once, outside any private namespace
 * try (Guest guest = Guest.boot("web", image, nic, null)) {
 *     guest.await("TAPWIRE-READY", Duration.ofMinutes(2));          // GuestFailedException if it failed
 *     int replies = guest.ping("10.44.1.1", 1);
 * }
 * }</pre>
 */
public final class Guest implements AutoCloseable {

    /** Where Debian's {@code qemu-system-x86} installs QEMU. */
    public static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");

    /** A console line by which the guest's init says it failed, or a panicking kernel's. */
    private static final Pattern FAILURE = Pattern.compile("^TAPWIRE-NO-(DRIVER|LEASE)\\b.*|Kernel panic - .*");

    private static final Logger LOG = LoggerFactory.getLogger(Guest.class);

    private final String name;
    private final Process process;
    private final OutputStream console;
    private final List<String> lines = new ArrayList<>();
    private final Thread reader;
    /** Set, under the lock of {@link #lines}, once the console ended (QEMU exited). */
    private boolean ended;
    private int marker;

    private Guest(String name, Process process) {
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
            } catch (IOException e) {
                LOG.debug("console of guest {} ended: {}", name, e.getMessage());
            } finally {
                synchronized (lines) {
                    ended = true; // not reader.isAlive(): the thread may still be alive after this notify
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
     * @return the reason, or empty when QEMU and what {@link GuestImage#unavailabilityCause()} needs are there
     */
    public static Optional<String> unavailabilityCause() {
        List<String> missing = new ArrayList<>();
        if (!Files.isExecutable(QEMU)) {
            missing.add("QEMU is not installed (Debian package qemu-system-x86)");
        }
        GuestImage.unavailabilityCause().ifPresent(missing::add);
        return missing.isEmpty() ? Optional.empty() : Optional.of(String.join("; ", missing));
    }

    /**
     * Boots a guest in the calling thread's network namespace on the NIC's TAP, with the NIC's MAC.
     *
     * @param name the guest's name, for messages
     * @param image the image to boot
     * @param nic the NIC config tapwire returned
     * @param clientId a DHCP client identifier (hex) the guest sends, as cloned images do, or null for none
     * @return the running guest; close it to stop it
     * @throws GuestFailedException if QEMU cannot be started
     * @throws IllegalArgumentException if {@code clientId} is not hex digits
     */
    public static Guest boot(String name, GuestImage image, NicConfig nic, String clientId) {
        return start(name, command(image, nic, clientId));
    }

    /**
     * Boots a guest as {@link #boot} does, with QEMU running as another user, as a VMM that drops root does: the
     * kernel lets it attach to the TAP only if the TAP's owner (and group, if set) allow that user. QEMU gets a
     * world-usable {@code /dev/net/tun} in a private mount namespace of its own (the host's node is untouched;
     * on these machines it is 0600), so the TAP's ownership alone decides. Needs root, util-linux
     * {@code unshare} and {@code setpriv}; the image must be readable by that user.
     *
     * @param name the guest's name, for messages
     * @param image the image, readable by {@code uid}
     * @param nic the NIC config tapwire returned
     * @param uid the user (and group) id QEMU runs as
     * @return the running guest; when the user may not attach, QEMU exits at once and {@link #console} says why
     * @throws GuestFailedException if the process cannot be started
     */
    public static Guest bootAs(String name, GuestImage image, NicConfig nic, int uid) {
        List<String> command = new ArrayList<>(List.of("unshare", "--mount", "--propagation", "private", "--", "sh",
                "-c", "mount -t tmpfs -o mode=0755 tmpfs /dev/net && mknod -m 0666 /dev/net/tun c 10 200"
                        + " && exec setpriv --reuid=\"$0\" --regid=\"$0\" --clear-groups -- \"$@\"",
                Integer.toString(uid)));
        command.addAll(command(image, nic, null));
        return start(name, command);
    }

    private static Guest start(String name, List<String> command) {
        LOG.debug("booting guest {}: {}", name, command);
        try {
            return new Guest(name, new ProcessBuilder(command).redirectErrorStream(true).start());
        } catch (IOException e) {
            throw new GuestFailedException(name, "cannot start: " + e.getMessage(), "", e);
        }
    }

    private static List<String> command(GuestImage image, NicConfig nic, String clientId) {
        if (clientId != null && !clientId.matches("[0-9a-fA-F]+")) {
            throw new IllegalArgumentException("DHCP client id must be hex digits, got " + clientId);
        }
        return List.of(QEMU.toString(), "-accel", "tcg", "-m", "192", "-smp", "1", "-nodefaults",
                "-no-user-config", "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
                "-kernel", image.kernel().toString(), "-initrd", image.initrd().toString(),
                // no_timer_check: under TCG on a busy host the kernel's IO-APIC timer test can miss its ticks and
                // panic ("IO-APIC + timer doesn't work!"), seen with both cores loaded
                "-append", "console=ttyS0 quiet panic=-1 no_timer_check"
                        + (clientId == null ? "" : " tw.clientid=" + clientId),
                "-netdev", "tap,id=n0,ifname=" + nic.tap() + ",script=no,downscript=no,vhost=off",
                "-device", "virtio-net-pci,netdev=n0,mac=" + nic.mac());
    }

    /**
     * Returns the guest's name.
     *
     * @return the name it was booted with
     */
    public String name() {
        return name;
    }

    /**
     * Waits for QEMU to exit.
     *
     * @param timeout how long to wait
     * @return its exit status
     * @throws GuestFailedException if it is still running after {@code timeout}
     * @throws InterruptedException if interrupted while waiting
     */
    public int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new GuestFailedException(name, "still runs after " + timeout, console(), null);
        }
        reader.join(timeout.toMillis()); // everything it printed is in the console now
        return process.exitValue();
    }

    /**
     * Waits for a console line matching {@code regex}, looking at everything the guest printed since it booted.
     * A line by which the guest says it failed ({@code TAPWIRE-NO-DRIVER ...}, {@code TAPWIRE-NO-LEASE ...}, a
     * kernel panic) ends the wait at once, unless it is itself the line awaited.
     *
     * @param regex the pattern, found anywhere in a line
     * @param timeout how long to wait at most
     * @return the match
     * @throws GuestFailedException with the failure line (or the timeout, or QEMU's exit) and the whole console
     * @throws InterruptedException if interrupted while waiting
     */
    public Matcher await(String regex, Duration timeout) throws InterruptedException {
        return await(Pattern.compile(regex), 0, timeout, true);
    }

    private Matcher await(Pattern p, int from, Duration timeout, boolean failuresEndTheWait)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        int seen = from;
        synchronized (lines) {
            while (true) {
                for (; seen < lines.size(); seen++) {
                    String line = lines.get(seen);
                    Matcher m = p.matcher(line);
                    if (m.find()) {
                        return m;
                    }
                    if (failuresEndTheWait && FAILURE.matcher(line).find()) {
                        throw failure("failed: " + line.strip());
                    }
                }
                long left = deadline - System.nanoTime();
                if (ended) {
                    throw failure("exited (" + exitStatus() + ") without printing a line matching " + p
                            + (lines.isEmpty() ? "" : ": " + lines.get(lines.size() - 1).strip()));
                }
                if (left <= 0) {
                    throw failure("printed no line matching " + p + " within " + timeout);
                }
                lines.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            }
        }
    }

    private String exitStatus() {
        try {
            return process.waitFor(1, TimeUnit.SECONDS) ? "QEMU exit status " + process.exitValue() : "QEMU runs";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    private GuestFailedException failure(String reason) {
        String console = String.join("\n", lines);
        LOG.debug("guest {} {}; console:\n{}", name, reason, console);
        return new GuestFailedException(name, reason, console, null);
    }

    /**
     * Runs a shell command in the guest and returns its output lines (stdout and stderr).
     *
     * @param command the command
     * @param timeout how long it may take
     * @return the lines it printed
     * @throws GuestFailedException if it does not finish in time or QEMU exits
     * @throws IOException if the console cannot be written
     * @throws InterruptedException if interrupted while waiting
     */
    public List<String> run(String command, Duration timeout) throws IOException, InterruptedException {
        if (marker == 0) {
            marker++;
            // the shell's banner comes when it starts, before it answers a first command: not in the output
            run(":", timeout);
        }
        String end = "TW-END-" + (++marker);
        int from;
        synchronized (lines) {
            from = lines.size();
        }
        console.write((command + " 2>&1; echo " + end + "-$?\n").getBytes(StandardCharsets.UTF_8));
        console.flush();
        await(Pattern.compile("^" + end + "-\\d+$"), from, timeout, false);
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
     * @throws GuestFailedException if the guest does not answer within 20 s
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
     * @throws GuestFailedException if the guest does not answer in time
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

    /** Stops the guest (QEMU is killed) and waits up to 10 s for it to exit. */
    @Override
    public void close() {
        process.destroyForcibly();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                LOG.warn("QEMU of guest {} (pid {}) did not exit within 10 s of SIGKILL", name, process.pid());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
