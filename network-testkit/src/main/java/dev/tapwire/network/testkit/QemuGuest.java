package dev.tapwire.network.testkit;

import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.guest.Guest;
import dev.tapwire.network.guest.GuestFailedException;
import dev.tapwire.network.guest.GuestImage;
import dev.tapwire.network.guest.GuestImageException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;

/**
 * A real QEMU guest on a TAP that tapwire made, driven through its serial console — the proof that a NIC
 * config works for a real VMM. A thin test face of {@code network-guest}'s {@link Guest} and
 * {@link GuestImage}: what the guest failed to do is an {@link AssertionError} carrying its console. The guest
 * is a Debian cloud kernel and a busybox initramfs that {@link #image(Path)} builds from Debian packages only
 * (again when the kernel package changes); its init loads the virtio-net modules in the order their own
 * dependencies give, takes a DHCP lease on {@code eth0} (printing
 * {@code TAPWIRE-LEASE ip=... router=... dns=... search=...}), prints {@code TAPWIRE-READY} and runs a shell
 * that {@link #run} feeds. A guest whose NIC driver or DHCP fails makes {@link #await} fail at once. QEMU runs
 * with TCG and {@code vhost=off}, which works everywhere (nested KVM often hangs), in the network namespace of
 * the thread that boots it.
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
    public static final Path QEMU = Guest.QEMU;

    private final Guest guest;

    private QemuGuest(Guest guest) {
        this.guest = guest;
    }

    /**
     * Says why guests cannot boot here, naming the Debian packages to install.
     *
     * @return the reason, or empty when QEMU, kmod, a static busybox, cpio and apt are installed
     */
    public static Optional<String> unavailabilityCause() {
        return Guest.unavailabilityCause();
    }

    /**
     * Builds the guest image under {@code dir} unless the image there was made from the same kernel package
     * version, busybox and build script ({@link GuestImage#build}). Needs the host's network to reach Debian's
     * mirror: call it before entering a private namespace.
     *
     * @param dir where the image goes
     * @return {@code dir}, absolute
     * @throws IOException if the build fails (the message says why)
     * @throws InterruptedException never: kept for callers written against earlier versions
     */
    public static Path image(Path dir) throws IOException, InterruptedException {
        try {
            return GuestImage.build(dir).dir();
        } catch (GuestImageException e) {
            throw new IOException(e.getMessage(), e);
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
     * @throws IOException if the image is incomplete or QEMU cannot be started
     */
    public static QemuGuest boot(String name, Path image, NicConfig nic, String clientId) throws IOException {
        return start(() -> Guest.boot(name, GuestImage.in(image), nic, clientId));
    }

    /**
     * Boots a guest as {@link #boot} does, with QEMU running as another user ({@link Guest#bootAs}): the kernel
     * lets it attach to the TAP only if the TAP's owner (and group, if set) allow that user. Needs root,
     * util-linux {@code unshare} and {@code setpriv}; the image must be readable by that user.
     *
     * @param name the guest's name, for messages
     * @param image a directory {@link #image} built, readable by {@code uid}
     * @param nic the NIC config tapwire returned
     * @param uid the user (and group) id QEMU runs as
     * @return the running guest; when the user may not attach, QEMU exits at once and {@link #console} says why
     * @throws IOException if the image is incomplete or the process cannot be started
     */
    public static QemuGuest bootAs(String name, Path image, NicConfig nic, int uid) throws IOException {
        return start(() -> Guest.bootAs(name, GuestImage.in(image), nic, uid));
    }

    private interface Boot {
        Guest boot();
    }

    /** A call on the guest that may throw {@code E} and be interrupted. */
    private interface GuestCall<T, E extends Exception> {
        T call() throws E, InterruptedException;
    }

    /** Makes what the guest failed to do a test failure, with its console. */
    private static <T, E extends Exception> T asserting(GuestCall<T, E> call) throws E, InterruptedException {
        try {
            return call.call();
        } catch (GuestFailedException e) {
            throw new AssertionError(e.getMessage(), e);
        }
    }

    private static QemuGuest start(Boot boot) throws IOException {
        try {
            return new QemuGuest(boot.boot());
        } catch (NetworkException e) {
            throw new IOException(e.getMessage(), e);
        }
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
        return asserting(() -> guest.awaitExit(timeout));
    }

    /**
     * Waits for a console line matching {@code regex}; a line by which the guest says its NIC driver or DHCP
     * failed ({@code TAPWIRE-NO-DRIVER}, {@code TAPWIRE-NO-LEASE}) or a kernel panic ends the wait at once.
     *
     * @param regex the pattern, found anywhere in a line
     * @param timeout how long to wait at most
     * @return the match
     * @throws AssertionError with the reason and the whole console when the guest failed, exited, or no line
     *     matched in time
     * @throws InterruptedException if interrupted while waiting
     */
    public Matcher await(String regex, Duration timeout) throws InterruptedException {
        return asserting(() -> guest.await(regex, timeout));
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
        return asserting(() -> guest.run(command, timeout));
    }

    /**
     * Resolves a name in the guest with busybox {@code nslookup} (search domains from DHCP apply).
     *
     * @param host the name
     * @return the addresses of the answer, empty when there is none
     * @throws AssertionError if the guest does not answer in time
     * @throws IOException if the console cannot be written
     * @throws InterruptedException if interrupted while waiting
     */
    public List<String> resolve(String host) throws IOException, InterruptedException {
        return asserting(() -> guest.resolve(host));
    }

    /**
     * Pings from the guest.
     *
     * @param address the address to ping
     * @param count how many echo requests to send (2 s timeout each)
     * @return how many replies came back
     * @throws AssertionError if the guest does not answer in time
     * @throws IOException if the console cannot be written
     * @throws InterruptedException if interrupted while waiting
     */
    public int ping(String address, int count) throws IOException, InterruptedException {
        return asserting(() -> guest.ping(address, count));
    }

    /**
     * Returns everything the guest printed so far.
     *
     * @return the console, line by line
     */
    public String console() {
        return guest.console();
    }

    /** Stops the guest (QEMU is killed) and waits for it to exit. */
    @Override
    public void close() {
        guest.close();
    }
}
