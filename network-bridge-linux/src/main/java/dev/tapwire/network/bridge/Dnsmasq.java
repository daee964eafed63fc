package dev.tapwire.network.bridge;

import com.sun.jna.LastErrorException;
import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.DeviceOperationException.Reason;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.bridge.linux.DhcpRelease;
import dev.tapwire.network.bridge.linux.raw.LibC;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One network's dnsmasq: started as a daemon in the calling thread's network namespace, bound to the gateway
 * address only, serving static leases and names from two directories it watches ({@code hosts/} and
 * {@code dhcp/} under the network's runtime directory). Its pid file is the record of the instance: a process
 * counts as this network's dnsmasq only when it is alive, is dnsmasq, and was started with this pid file.
 *
 * <p>Names come from the hosts directory only, never from a lease: {@code --dhcp-ignore-names} drops the
 * hostnames guests send, dhcp-host entries carry no name, and no {@code --domain} is set — dnsmasq names a lease
 * after the hosts entry of its address only when that entry's domain is dnsmasq's own domain, and such a name
 * would outlive the entry for as long as the lease lives. The guests get the domain through DHCP options 15 and
 * 119 all the same. So a member's name goes the moment its hosts entry does, and a membership change never needs
 * a restart.
 */
final class Dnsmasq {

    private static final Logger LOG = LoggerFactory.getLogger(Dnsmasq.class);
    private static final int SIGTERM = 15;
    private static final int SIGHUP = 1;
    private static final List<Path> SEARCH = List.of(Path.of("/usr/sbin/dnsmasq"), Path.of("/usr/bin/dnsmasq"),
            Path.of("/sbin/dnsmasq"));

    private final Path dir;
    private final String network;

    Dnsmasq(Path dir, String network) {
        this.dir = dir;
        this.network = network;
    }

    /** The dnsmasq binary, if installed. */
    static Optional<Path> binary() {
        return SEARCH.stream().filter(Files::isExecutable).findFirst();
    }

    /** Says why dnsmasq cannot run here, naming the package to install. */
    static Optional<String> unavailabilityCause() {
        return binary().isPresent() ? Optional.empty()
                : Optional.of("dnsmasq is not installed (install the Debian package dnsmasq-base)");
    }

    Path pidFile() {
        return dir.resolve("dnsmasq.pid");
    }

    Path hostsDir() {
        return dir.resolve("hosts");
    }

    Path dhcpDir() {
        return dir.resolve("dhcp");
    }

    /** The pid the pid file names, whether or not that process still runs. */
    private OptionalInt recordedPid() {
        try {
            return OptionalInt.of(Integer.parseInt(Files.readString(pidFile(), StandardCharsets.US_ASCII).trim()));
        } catch (IOException | NumberFormatException e) {
            return OptionalInt.empty();
        }
    }

    /** The pid of this network's running dnsmasq, if one runs. */
    OptionalInt pid() {
        OptionalInt recorded = recordedPid();
        if (recorded.isEmpty()) {
            return recorded;
        }
        int pid = recorded.getAsInt();
        try {
            byte[] cmdline = Files.readAllBytes(Path.of("/proc", Integer.toString(pid), "cmdline"));
            String text = new String(cmdline, StandardCharsets.UTF_8).replace('\0', ' ');
            return text.contains("dnsmasq") && text.contains("--pid-file=" + pidFile() + " ")
                    ? OptionalInt.of(pid) : OptionalInt.empty();
        } catch (IOException e) {
            return OptionalInt.empty(); // gone (or a zombie being reaped)
        }
    }

    /**
     * Starts dnsmasq for the network unless it runs already; waits until the daemon has bound its sockets (dnsmasq
     * exits non-zero before forking when it cannot). With NAT it forwards names that are not the network's to the
     * host's resolvers; without, it answers only its own.
     *
     * @return true when it was started, false when it was running
     */
    boolean ensureRunning(Realization r) {
        if (pid().isPresent()) {
            return false;
        }
        String bridge = r.bridge();
        Ipv4Subnet subnet = r.subnet();
        String gateway = r.gateway().toString();
        Path binary = binary().orElseThrow(() -> DeviceOperationException.of("dnsmasq", bridge, Reason.OTHER,
                unavailabilityCause().orElseThrow()));
        List<String> command = new ArrayList<>(List.of(binary.toString(),
                "--conf-file=/dev/null",
                "--pid-file=" + pidFile(),
                "--bind-interfaces", "--interface=" + bridge, "--except-interface=lo", "--listen-address=" + gateway,
                "--dhcp-range=" + subnet.networkAddress() + ",static," + subnet.netmask(),
                "--dhcp-hostsdir=" + dhcpDir(), "--hostsdir=" + hostsDir(),
                "--dhcp-leasefile=" + dir.resolve("dnsmasq.leases"),
                "--dhcp-authoritative", "--dhcp-ignore-clid",
                "--dhcp-ignore-names", "--local=/" + network + "/",
                "--dhcp-option=option:router," + gateway, "--dhcp-option=option:dns-server," + gateway,
                "--dhcp-option=option:domain-name," + network, "--dhcp-option=option:domain-search," + network,
                "--local-ttl=1", "--dhcp-ttl=1", "--neg-ttl=1", "--no-hosts",
                "--log-facility=" + dir.resolve("dnsmasq.log"), "--quiet-dhcp"));
        if (!r.nat()) {
            command.add("--no-resolv");
        }
        awaitExitOfPrevious();
        try {
            Files.deleteIfExists(pidFile());
            Path startLog = dir.resolve("dnsmasq.start");
            Process p = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.to(startLog.toFile())).start();
            // a file, not a pipe: the daemon inherits the descriptor, and a pipe nobody reads would block it
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw DeviceOperationException.of("dnsmasq", bridge, Reason.OTHER,
                        "dnsmasq for network " + network + " did not start within 30 s");
            }
            String out = Files.readString(startLog, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw DeviceOperationException.of("dnsmasq", bridge, Reason.OTHER, "dnsmasq for network " + network
                        + " exited with status " + p.exitValue() + ": " + out.strip());
            }
        } catch (IOException e) {
            throw DeviceOperationException.of("dnsmasq", bridge, Reason.OTHER, "cannot run " + binary + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw DeviceOperationException.of("dnsmasq", bridge, Reason.OTHER, "interrupted starting dnsmasq", e);
        }
        awaitWhile(() -> pid().isEmpty(), 2000); // the daemon writes its pid file right after forking
        OptionalInt pid = pid();
        if (pid.isEmpty()) {
            throw DeviceOperationException.of("dnsmasq", bridge, Reason.OTHER, "dnsmasq for network " + network
                    + " reported success but no live process holds " + pidFile());
        }
        LOG.debug("started dnsmasq {} for network {} on {} ({})", pid.getAsInt(), network, bridge, gateway);
        return true;
    }

    /**
     * Waits (up to 5 s) while the process the pid file names is a dnsmasq on its way out: one killed a moment ago
     * has given up its command line (so {@link #pid} no longer counts it) but may still hold its sockets, and a
     * new dnsmasq could not bind ("Address already in use"). A pid reused by any other process is not waited
     * for.
     */
    private void awaitExitOfPrevious() {
        recordedPid().ifPresent(previous -> awaitWhile(() -> isExitingDnsmasq(previous), 5000));
    }

    private static boolean isExitingDnsmasq(int pid) {
        try {
            Path proc = Path.of("/proc", Integer.toString(pid));
            return isAlive(pid) && Files.readString(proc.resolve("comm"), StandardCharsets.UTF_8).strip().equals("dnsmasq")
                    && Files.readAllBytes(proc.resolve("cmdline")).length == 0;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Makes dnsmasq re-read its host directories whole (SIGHUP): only then does it forget a removed dhcp-host
     * entry. It keeps serving meanwhile: the signal is handled in its event loop between two requests.
     */
    void reload() {
        pid().ifPresent(pid -> signal(pid, SIGHUP));
    }

    /**
     * Releases the lease of {@code mac} on {@code address}, if this dnsmasq holds one, so the address can be leased
     * to another member at once. A failure is a warning: the lease then lasts until it runs out (one hour).
     */
    void release(Realization r, MacAddress mac, Ipv4Address address) {
        try {
            DhcpRelease.send(r.bridge(), r.gateway(), address, mac);
        } catch (DeviceOperationException e) {
            LOG.warn("could not release the DHCP lease of {} on {} in network {}: {}; the address stays leased to that"
                    + " MAC until the lease runs out", mac, address, network, e.getMessage());
        }
    }

    /** Stops this network's dnsmasq, if it runs, and waits until it is gone. */
    void stop() {
        OptionalInt pid = pid();
        if (pid.isPresent()) {
            signal(pid.getAsInt(), SIGTERM);
            awaitWhile(() -> isAlive(pid.getAsInt()), 5000);
            LOG.debug("stopped dnsmasq {} of network {}", pid.getAsInt(), network);
        }
        try {
            Files.deleteIfExists(pidFile());
        } catch (IOException e) {
            LOG.warn("could not remove {}: {}", pidFile(), e.toString());
        }
    }

    /**
     * True until the process has exited: its state in {@code /proc/<pid>/stat} is zombie ({@code Z}, which an init
     * that does not reap leaves) or dead, or it is gone. Its command line empties earlier, while it still holds
     * its sockets, so that is no test.
     */
    private static boolean isAlive(int pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Integer.toString(pid), "stat"), StandardCharsets.US_ASCII);
            char state = stat.charAt(stat.lastIndexOf(')') + 2);
            return state != 'Z' && state != 'X' && state != 'x';
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static void signal(int pid, int signal) {
        try {
            LibC.kill(pid, signal);
        } catch (LastErrorException e) {
            LOG.debug("signal {} to dnsmasq {}: errno {}", signal, pid, e.getErrorCode()); // it exited meanwhile
        }
    }

    /** Polls every 10 ms while {@code condition} holds, for at most {@code millis}. */
    private void awaitWhile(BooleanSupplier condition, long millis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (condition.getAsBoolean() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new RealizationException("interrupted while waiting for the dnsmasq of network " + network, e);
            }
        }
    }
}
