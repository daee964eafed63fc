package dev.tapwire.network.bridge;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The per-bridge sysctls that keep a tapwire bridge from serving the host to its guests: ARP is answered only for
 * an address of the bridge itself, its gateway ({@code arp_ignore=1}), and announced only from it
 * ({@code arp_announce=2}) — so a guest learns neither the host's other addresses nor other networks' gateways —, and
 * the bridge has no IPv6 (it takes no router advertisement and gets no SLAAC address: {@code accept_ra=0},
 * {@code disable_ipv6=1}) until tapwire networks are dual stack.
 *
 * <p>Files under {@code /proc/sys/net} belong to the network namespace of the thread that opens them, so each is
 * opened afresh by the calling thread: they act in its namespace, as every other part of the realizer does.
 */
final class BridgeSysctls {

    private static final Logger LOG = LoggerFactory.getLogger(BridgeSysctls.class);

    private BridgeSysctls() {
    }

    /** The sysctls and the values tapwire wants, for a bridge. */
    private static Map<Path, String> wanted(String bridge) {
        Firewall.requireIfname(bridge);
        Map<Path, String> wanted = new LinkedHashMap<>();
        wanted.put(Path.of("/proc/sys/net/ipv4/conf", bridge, "arp_ignore"), "1");
        wanted.put(Path.of("/proc/sys/net/ipv4/conf", bridge, "arp_announce"), "2");
        wanted.put(Path.of("/proc/sys/net/ipv6/conf", bridge, "accept_ra"), "0");
        wanted.put(Path.of("/proc/sys/net/ipv6/conf", bridge, "disable_ipv6"), "1");
        return wanted;
    }

    /**
     * Sets every sysctl of the bridge that differs from tapwire's value.
     *
     * @return what was changed, as {@code name=value} (empty when all were right)
     * @throws RealizationException if a sysctl cannot be read or written (the bridge gone, say)
     */
    static List<String> apply(String bridge) {
        List<String> changed = new ArrayList<>();
        for (Map.Entry<Path, String> e : wanted(bridge).entrySet()) {
            if (!read(e.getKey()).equals(e.getValue())) {
                write(e.getKey(), e.getValue());
                changed.add(name(e.getKey()) + "=" + e.getValue());
            }
        }
        if (!changed.isEmpty()) {
            LOG.debug("bridge {}: set {}", bridge, changed);
        }
        return changed;
    }

    /**
     * Tells which sysctls of the bridge differ from tapwire's values.
     *
     * @return {@code name is X, should be Y} for each, empty when all are right or the bridge is gone
     */
    static List<String> problems(String bridge) {
        List<String> problems = new ArrayList<>();
        for (Map.Entry<Path, String> e : wanted(bridge).entrySet()) {
            try {
                String now = read(e.getKey());
                if (!now.equals(e.getValue())) {
                    problems.add(name(e.getKey()) + " is " + now + ", should be " + e.getValue());
                }
            } catch (RealizationException gone) {
                return List.of(); // the bridge is gone: reported as such by the caller
            }
        }
        return problems;
    }

    private static String name(Path sysctl) {
        return Path.of("/proc/sys").relativize(sysctl).toString().replace('/', '.');
    }

    private static String read(Path sysctl) {
        try {
            return Files.readString(sysctl).strip();
        } catch (NoSuchFileException e) {
            throw new RealizationException("sysctl " + name(sysctl) + " does not exist (is the bridge gone, or is "
                    + "IPv6 disabled on this host?)", e);
        } catch (IOException e) {
            throw new RealizationException("cannot read sysctl " + sysctl + ": " + e, e);
        }
    }

    private static void write(Path sysctl, String value) {
        try {
            Files.writeString(sysctl, value + "\n");
        } catch (IOException e) {
            throw new RealizationException("cannot set sysctl " + name(sysctl) + " to " + value + ": " + e, e);
        }
    }
}
