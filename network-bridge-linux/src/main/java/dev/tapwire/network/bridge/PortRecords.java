package dev.tapwire.network.bridge;

import dev.tapwire.network.GuestNetwork;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.TapNames;
import dev.tapwire.network.lock.LockFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which VMs a state directory's configures made TAPs for, and what each of their filtered TAPs may send: an
 * append-only journal, {@code rootDir/bridge/ports.journal}, so a configure costs one append (creating a file per
 * VM cost ~0.7 ms on ext4, as much as the rest of a configure). Lines: {@code vm VM} (the VM's TAPs are this state
 * directory's: written before they exist), {@code ports VM} followed by {@code port VM TAP MODE MAC|- IPV4|-} lines
 * (its filtered TAPs now, replacing what was recorded before), {@code forget VM} (deleted). Every value read back is
 * validated; a line that is not one of these (the torn last line of a crash) is skipped with a warning. The journal
 * is rewritten (to a fresh temporary file, renamed over) when most of it is history. Callers hold the GC lock.
 *
 * <p>It also holds each VM's NIC configs, what {@link BridgeNetworkProvider#inspect} answers with: {@code nics VM}
 * followed by {@code nic VM TAP MAC NUM_QUEUES QUEUE_SIZE BACKEND BRIDGE IP|- GATEWAY|- PREFIX|-} lines (the VM's NICs
 * now, in NIC order, replacing what was recorded before).
 */
final class PortRecords {

    private static final Logger LOG = LoggerFactory.getLogger(PortRecords.class);
    /** Rewritten once it holds more than this many lines beyond twice the live ones. */
    private static final int SLACK = 1024;

    private PortRecords() {
    }

    private static Path journal(Path rootDir) {
        return rootDir.resolve("bridge").resolve("ports.journal");
    }

    /**
     * Marks the VMs' TAPs as this state directory's (before they exist).
     *
     * @param rootDir the state directory
     * @param vms the VMs
     * @throws NetworkException if the journal cannot be written
     */
    static void own(Path rootDir, Collection<String> vms) {
        StringBuilder sb = new StringBuilder();
        vms.forEach(vm -> sb.append("vm ").append(vm).append('\n'));
        append(rootDir, sb);
    }

    /**
     * Records each VM's filtered TAPs and what they may send, replacing what was recorded for those VMs.
     *
     * @param rootDir the state directory
     * @param ports VM to its filtered TAPs' entries (empty: none is filtered)
     * @throws NetworkException if the journal cannot be written
     */
    static void record(Path rootDir, Map<String, Map<String, PortSecurity.Entry>> ports) {
        append(rootDir, format(ports));
    }

    /**
     * Records each VM's NIC configs, in NIC order, replacing what was recorded for those VMs.
     *
     * @param rootDir the state directory
     * @param nics VM to its NIC configs
     * @throws NetworkException if the journal cannot be written
     */
    static void recordNics(Path rootDir, Map<String, List<NicConfig>> nics) {
        append(rootDir, formatNics(nics));
    }

    /**
     * Returns the NIC configs recorded for every VM this state directory made TAPs for and has not forgotten.
     *
     * @param rootDir the state directory
     * @return VM to its NIC configs, in NIC order
     * @throws NetworkException if the journal cannot be read
     */
    static Map<String, List<NicConfig>> nics(Path rootDir) {
        return read(rootDir).nics;
    }

    private static StringBuilder formatNics(Map<String, List<NicConfig>> nics) {
        StringBuilder sb = new StringBuilder();
        nics.forEach((vm, configs) -> {
            sb.append("vm ").append(vm).append("\nnics ").append(vm).append('\n');
            for (NicConfig n : configs) {
                GuestNetwork g = n.network();
                sb.append("nic ").append(vm).append(' ').append(n.tap()).append(' ').append(n.mac()).append(' ')
                        .append(n.numQueues()).append(' ').append(n.queueSize()).append(' ').append(orDash(n.backend()))
                        .append(' ').append(orDash(n.bridgeDev())).append(' ').append(g == null ? "-" : g.ip())
                        .append(' ').append(g == null || g.gateway() == null ? "-" : g.gateway()).append(' ')
                        .append(g == null ? "-" : String.valueOf(g.prefix())).append('\n');
            }
        });
        return sb;
    }

    private static String orDash(String value) {
        return value == null ? "-" : value;
    }

    private static NicConfig nic(String[] f) {
        GuestNetwork guest = f[8].equals("-") ? null : new GuestNetwork(Ipv4Address.parse(f[8]),
                f[9].equals("-") ? null : Ipv4Address.parse(f[9]), Integer.parseInt(f[10]));
        return new NicConfig(TapNames.requireValidInterfaceName(f[2]), MacAddress.parse(f[3]), Integer.parseInt(f[4]),
                Integer.parseInt(f[5]), f[6].equals("-") ? null : f[6],
                f[7].equals("-") ? null : TapNames.requireValidInterfaceName(f[7]), null, guest);
    }

    private static StringBuilder format(Map<String, Map<String, PortSecurity.Entry>> ports) {
        StringBuilder sb = new StringBuilder();
        ports.forEach((vm, entries) -> {
            sb.append("vm ").append(vm).append("\nports ").append(vm).append('\n');
            new TreeMap<>(entries).forEach((tap, e) -> sb.append("port ").append(vm).append(' ').append(tap)
                    .append(' ').append(e.mode()).append(' ').append(e.mac().map(Object::toString).orElse("-"))
                    .append(' ').append(e.ip().map(Object::toString).orElse("-")).append('\n'));
        });
        return sb;
    }

    /**
     * Forgets the VMs (deleted, or reclaimed by the GC); rewrites the journal when most of it is history.
     *
     * @param rootDir the state directory
     * @param vms the VMs
     * @throws NetworkException if the journal cannot be written
     */
    static void forget(Path rootDir, Collection<String> vms) {
        if (vms.isEmpty()) {
            return;
        }
        StringBuilder sb = new StringBuilder();
        vms.forEach(vm -> sb.append("forget ").append(vm).append('\n'));
        append(rootDir, sb);
        Read read = read(rootDir);
        int live = read.vms.values().stream().mapToInt(m -> m.size() + 2).sum()
                + read.nics.values().stream().mapToInt(n -> n.size() + 2).sum();
        if (read.lines > 2 * live + SLACK) {
            compact(rootDir, read);
        }
    }

    /**
     * Returns every VM this state directory made TAPs for and has not forgotten, with its filtered TAPs' entries.
     *
     * @param rootDir the state directory
     * @return VM to TAP name to entry
     * @throws NetworkException if the journal cannot be read
     */
    static Map<String, Map<String, PortSecurity.Entry>> vms(Path rootDir) {
        return read(rootDir).vms;
    }

    private record Read(Map<String, Map<String, PortSecurity.Entry>> vms, Map<String, List<NicConfig>> nics,
            int lines) {
    }

    private static Read read(Path rootDir) {
        Path file = journal(rootDir);
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return new Read(new TreeMap<>(), new TreeMap<>(), 0);
        } catch (IOException e) {
            throw new NetworkException("cannot read the port records " + file + ": " + e, e);
        }
        Map<String, Map<String, PortSecurity.Entry>> vms = new TreeMap<>();
        Map<String, List<NicConfig>> nics = new TreeMap<>();
        for (String line : lines) {
            String[] f = line.split(" ");
            try {
                if (f.length == 2 && f[0].equals("vm")) {
                    vms.computeIfAbsent(TapNames.requireValidVmId(f[1]), v -> new TreeMap<>());
                } else if (f.length == 2 && f[0].equals("ports")) {
                    vms.put(TapNames.requireValidVmId(f[1]), new TreeMap<>());
                } else if (f.length == 2 && f[0].equals("forget")) {
                    vms.remove(f[1]);
                    nics.remove(f[1]);
                } else if (f.length == 2 && f[0].equals("nics")) {
                    nics.put(TapNames.requireValidVmId(f[1]), new ArrayList<>());
                } else if (f.length == 11 && f[0].equals("nic") && nics.containsKey(f[1])) {
                    nics.get(f[1]).add(nic(f));
                } else if (f.length == 6 && f[0].equals("port") && vms.containsKey(f[1])) {
                    vms.get(f[1]).put(TapNames.requireValidInterfaceName(f[2]), new PortSecurity.Entry(
                            PortSecurity.Mode.valueOf(f[3]),
                            f[4].equals("-") ? Optional.empty() : Optional.of(MacAddress.parse(f[4])),
                            f[5].equals("-") ? Optional.empty() : Optional.of(Ipv4Address.parse(f[5]))));
                } else {
                    throw new InvalidNetworkSpecException("not a line of the journal");
                }
            } catch (IllegalArgumentException | InvalidNetworkSpecException e) {
                LOG.warn("skipping line \"{}\" of {} (a crash's torn line, or not written by tapwire): {}", line, file,
                        e.getMessage());
            }
        }
        nics.keySet().retainAll(vms.keySet());
        return new Read(vms, nics, lines.size());
    }

    private static void append(Path rootDir, CharSequence text) {
        if (text.length() == 0) {
            return;
        }
        Path file = journal(rootDir);
        try {
            if (!Files.isDirectory(file.getParent(), LinkOption.NOFOLLOW_LINKS)) {
                LockFile.createDirectories(file.getParent());
            }
            Files.writeString(file, text, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND,
                    StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new NetworkException("cannot write the port records " + file + ": " + e, e);
        }
    }

    private static void compact(Path rootDir, Read read) {
        Map<String, Map<String, PortSecurity.Entry>> vms = read.vms;
        Path file = journal(rootDir);
        Path tmp = file.resolveSibling(".ports.journal.tmp");
        try {
            Files.deleteIfExists(tmp); // a leftover, or a planted link: the link goes, not its target
            Files.writeString(tmp, format(vms).append(formatNics(read.nics)), StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            LOG.debug("rewrote {} with {} VM(s)", file, vms.size());
        } catch (IOException e) {
            throw new NetworkException("cannot rewrite the port records " + file + ": " + e, e);
        }
    }
}
