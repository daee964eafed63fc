package dev.tapwire.network.bridge;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host's IPv4 forwarding ({@code net.ipv4.ip_forward}, one value per network namespace) as NAT networks need
 * it: the first NAT network of an owner turns it on and records the value it found, in the owner's state together
 * with the namespace it was found in; when the owner's last NAT network goes, the recorded value is put back —
 * unless another tapwire table of the namespace still masquerades (another owner needs it), in which case the
 * record is handed on by leaving forwarding on, with a warning. Forwarding that was on before tapwire stays on.
 * Published ports ({@link PortPublishing}) need it as NAT networks do and share the record: while the owner's
 * publishing table exists, forwarding stays on and the record is kept.
 */
final class Forwarding {

    private static final Logger LOG = LoggerFactory.getLogger(Forwarding.class);
    private static final Path SYSCTL = Path.of("/proc/sys/net/ipv4/ip_forward");

    private final Path record;

    /** Forwarding as one owner sees it; {@code record} is where the value found before is kept. */
    Forwarding(Path record) {
        this.record = record;
    }

    /**
     * Turns forwarding on or restores it, as the owner's networks need.
     *
     * @param needed whether the owner has a NAT network (or a published port that takes outside traffic)
     * @param firewall the owner's table, asked whether other owners still masquerade
     * @throws RealizationException if the sysctl or the record cannot be read or written
     */
    void ensure(boolean needed, Firewall firewall) {
        String namespace = Follower.currentNamespace();
        String now = read();
        Optional<String> recorded = recorded();
        if (needed) {
            if (!now.equals("1")) {
                if (recorded.isEmpty()) {
                    NetworkRealizer.replace(record, namespace + " " + now + "\n");
                }
                write("1");
                LOG.warn("enabled IPv4 forwarding (net.ipv4.ip_forward=1, was {}) for a tapwire network with NAT or a"
                        + " published port; it is set back when the last of them goes", now);
            }
            return;
        }
        if (recorded.isEmpty()) {
            return;
        }
        if (firewall.publishes()) {
            LOG.debug("IPv4 forwarding stays on: this state directory publishes ports ({})", recorded.get());
            return; // the record stays: the last publication's removal sets it back
        }
        String[] fields = recorded.get().split(" ");
        if (fields.length == 2 && fields[0].equals(namespace) && (fields[1].equals("0") || fields[1].equals("1"))) {
            if (!now.equals(fields[1])) {
                if (firewall.othersMasquerade()) {
                    LOG.warn("IPv4 forwarding stays on: another tapwire state directory of this namespace still has"
                            + " a NAT network (it was {} before tapwire turned it on)", fields[1]);
                } else {
                    write(fields[1]);
                    LOG.warn("restored IPv4 forwarding to {} (net.ipv4.ip_forward), as before the first NAT network",
                            fields[1]);
                }
            }
        } else {
            LOG.debug("forwarding record {} is for namespace {}, not {}: left as it is", record, recorded.get(),
                    namespace);
        }
        try {
            Files.deleteIfExists(record);
        } catch (IOException e) {
            throw new RealizationException("cannot remove " + record + ": " + e, e);
        }
    }

    private Optional<String> recorded() {
        return StateFiles.readSmall(record).map(String::strip);
    }

    private static String read() {
        try {
            return Files.readString(SYSCTL).strip();
        } catch (IOException e) {
            throw new RealizationException("cannot read " + SYSCTL + ": " + e, e);
        }
    }

    private static void write(String value) {
        try {
            Files.writeString(SYSCTL, value + "\n");
        } catch (IOException e) {
            throw new RealizationException("cannot set IPv4 forwarding (" + SYSCTL + ") to " + value + ": " + e, e);
        }
    }
}
