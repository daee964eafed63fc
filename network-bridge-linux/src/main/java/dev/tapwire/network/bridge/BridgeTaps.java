package dev.tapwire.network.bridge;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.TapNames;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.lock.Lease;
import dev.tapwire.network.lock.LockFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds and removes tapwire TAPs in the calling thread's network namespace, with no provider instance
 * needed (the counterpart of cocoon's {@code CleanupTAPs}).
 *
 * <p>A link is tapwire's only when it is a TAP device carrying tapwire's alias {@code tapwire:<vm id>}:
 * the name alone proves nothing (cocoon names its own TAPs {@code bt<8>-<n>} too, and anyone can make one),
 * so a TAP made by hand, by another manager or aliased by libvirt is never listed, adopted or deleted. Which
 * VM a TAP belongs to is the alias's VM ID, whatever {@link dev.tapwire.network.TapNaming} named it. Deletes are
 * batched: the TAPs are moved into a fresh link group and the whole group is deleted with one
 * {@code RTM_DELLINK}; a TAP that another deleter removed first counts as deleted.
 *
 * <pre>{@code
 * Set<String> cleaned = BridgeTaps.cleanup(List.of("vm-0f3a2b1c", "vm-77aa01ee"));
 * }</pre>
 */
public final class BridgeTaps {

    /** The alias prefix tapwire gives its TAPs, followed by the full VM ID. */
    public static final String ALIAS_PREFIX = "tapwire:";

    private static final Logger LOG = LoggerFactory.getLogger(BridgeTaps.class);

    private BridgeTaps() {
    }

    /**
     * Removes every TAP of the given VMs; unknown VMs are a no-op. Without a state directory this cannot know
     * whose port-security table holds their ports: those elements stay until that state directory's GC or
     * {@link #cleanup(Path, Collection)} removes them.
     *
     * @param vmIds the VMs
     * @return the VM IDs cleaned (all of them, when nothing failed)
     * @throws dev.tapwire.network.InvalidNetworkSpecException if a VM ID is invalid
     * @throws dev.tapwire.network.DeviceOperationException if a TAP exists but cannot be removed
     */
    public static Set<String> cleanup(Collection<String> vmIds) {
        vmIds.forEach(TapNames::requireValidVmId);
        Set<String> ids = Set.copyOf(vmIds);
        try (Rtnetlink netlink = Rtnetlink.open()) {
            int cleaned = deleteWhere(netlink, link -> link.isTap() && vmIdOf(link).filter(ids::contains).isPresent());
            LOG.debug("cleaned {} TAP(s) of {} VM(s)", cleaned, vmIds.size());
        }
        return new LinkedHashSet<>(vmIds);
    }

    /**
     * Lists every tapwire TAP of the namespace, wherever it is attached.
     *
     * @param netlink the netlink client
     * @return the TAP links, in kernel order
     * @throws dev.tapwire.network.DeviceOperationException if the links cannot be read
     */
    static List<Link> list(Rtnetlink netlink) {
        return netlink.links().stream().filter(BridgeTaps::isTapwireTap).toList();
    }

    /**
     * Removes every TAP of the given VMs as {@link #cleanup(Collection)} does, holding the GC lock of the bridge
     * providers under {@code rootDir} (as {@link BridgeNetworkProvider#delete} does), so a GC cycle never
     * races the delete, forgetting the workspace and port-security entries their configure recorded, revoking
     * those ports from this owner's port-security table and removing the host ports published to them.
     *
     * @param rootDir the providers' root directory
     * @param vmIds the VMs
     * @return the VM IDs cleaned
     * @throws dev.tapwire.network.InvalidNetworkSpecException if a VM ID is invalid
     * @throws dev.tapwire.network.DeviceOperationException if a TAP exists but cannot be removed
     * @throws NetworkException if a VM's workspace record cannot be removed
     */
    public static Set<String> cleanup(Path rootDir, Collection<String> vmIds) {
        vmIds.forEach(TapNames::requireValidVmId); // before the lock: bad input waits for nothing
        try (Lease gc = BridgeNetworkProvider.gcLock(rootDir).acquire()) {
            Set<String> cleaned = cleanup(vmIds);
            Map<String, Map<String, PortSecurity.Entry>> recorded = PortRecords.vms(rootDir);
            Map<String, PortSecurity.Entry> ports = new TreeMap<>();
            vmIds.forEach(vm -> ports.putAll(recorded.getOrDefault(vm, Map.of())));
            if (!ports.isEmpty()) {
                new PortSecurity(NetworkRealizer.ownerTag(rootDir)).revoke(ports);
            }
            for (String vmId : vmIds) {
                recordWorkspace(rootDir, vmId, Optional.empty());
            }
            new PortPublishing(rootDir).unpublishVms(vmIds); // the host ports published to them go with them
            PortRecords.forget(rootDir, vmIds.stream().filter(recorded::containsKey).toList());
            return cleaned;
        }
    }

    /** Where the workspace a VM joined its named networks as is recorded: {@code rootDir/bridge/workspaces/<vm>}. */
    private static Path workspaceRecord(Path rootDir, String vmId) {
        return rootDir.resolve("bridge").resolve("workspaces").resolve(vmId);
    }

    /**
     * Returns the workspace a configure under {@code rootDir} recorded for a VM. The record alone proves nothing
     * (the VM may be gone): a caller asks only of VMs whose TAPs it sees on a network's bridge.
     *
     * @param rootDir the providers' root directory
     * @param vmId the VM
     * @return the workspace, or empty when none is recorded
     * @throws NetworkException if the record exists and cannot be read
     */
    static Optional<String> workspaceOf(Path rootDir, String vmId) {
        Path file = workspaceRecord(rootDir, vmId);
        try {
            return Optional.of(Files.readString(file, StandardCharsets.UTF_8));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new NetworkException("cannot read the workspace record " + file + ": " + e, e);
        }
    }

    /**
     * Records the workspace of a VM on named networks, or removes the record ({@code workspace} empty). Callers
     * hold the GC lock.
     *
     * @param rootDir the providers' root directory
     * @param vmId the VM
     * @param workspace its workspace, or empty for a VM on no named network (or deleted)
     * @throws NetworkException if the record cannot be written or removed
     */
    static void recordWorkspace(Path rootDir, String vmId, Optional<String> workspace) {
        Path file = workspaceRecord(rootDir, vmId);
        try {
            if (workspace.isEmpty()) {
                Files.deleteIfExists(file);
                return;
            }
            if (workspace.equals(workspaceOf(rootDir, vmId))) {
                return;
            }
            LockFile.createDirectories(file.getParent());
            Path tmp = file.resolveSibling("." + vmId + ".tmp");
            Files.writeString(tmp, workspace.get(), StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new NetworkException("cannot record the workspace of VM " + vmId + " in " + file + ": " + e, e);
        }
    }

    /**
     * Returns the port-security entries a configure under {@code rootDir} recorded for a VM.
     *
     * @param rootDir the providers' root directory
     * @param vmId the VM
     * @return TAP name to entry, empty when none is recorded
     * @throws NetworkException if the records cannot be read
     */
    static Map<String, PortSecurity.Entry> portsOf(Path rootDir, String vmId) {
        return PortRecords.vms(rootDir).getOrDefault(vmId, Map.of());
    }

    /**
     * Returns the recorded port-security entries of every VM under {@code rootDir} whose TAPs exist among
     * {@code links}: what this owner's port-security table should hold, exactly.
     *
     * @param rootDir the providers' root directory
     * @param links every link of the namespace
     * @return TAP name to entry
     * @throws NetworkException if a record cannot be read
     */
    static Map<String, PortSecurity.Entry> allPorts(Path rootDir, List<Link> links) {
        Map<String, PortSecurity.Entry> all = new TreeMap<>();
        PortRecords.vms(rootDir).forEach((vm, ports) -> ports.forEach((tap, entry) -> {
            if (links.stream().anyMatch(l -> l.name().equals(tap) && belongsTo(l, vm))) {
                all.put(tap, entry);
            }
        }));
        return all;
    }

    /**
     * A TAP tapwire made, as the kernel shows it ({@link #onHost}).
     *
     * @param name the TAP's name
     * @param vmId the VM its alias names
     * @param bridge the bridge it is attached to, or null when it is on none
     * @param up whether the link is up
     * @param multiQueue whether it was created multi-queue
     */
    public record Tap(String name, String vmId, String bridge, boolean up, boolean multiQueue) {
    }

    /**
     * Lists every TAP tapwire made in the calling thread's network namespace (those with tapwire's alias), whichever
     * state directory made it and whichever bridge it is on, in kernel order.
     *
     * @return the TAPs
     * @throws dev.tapwire.network.DeviceOperationException if the links cannot be read
     */
    public static List<Tap> onHost() {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            List<Link> links = netlink.links();
            Map<Integer, String> names = new java.util.HashMap<>();
            links.forEach(l -> names.putIfAbsent(l.index(), l.name()));
            return links.stream().filter(BridgeTaps::isTapwireTap).map(l -> new Tap(l.name(), vmIdOf(l).orElseThrow(),
                    names.get(l.masterIndex()), l.isUp(), l.tun().map(Link.TunInfo::multiQueue).orElse(false)))
                    .toList();
        }
    }

    /**
     * Tells whether a link is a TAP tapwire made: a TAP (not a TUN) with the alias {@code tapwire:<vm id>}.
     *
     * @param link the link
     * @return true for a tapwire TAP, whichever VM it belongs to
     */
    static boolean isTapwireTap(Link link) {
        return link.isTap() && vmIdOf(link).isPresent();
    }

    /**
     * Tells whether a link is a TAP tapwire made for {@code vmId}: a TAP (not a TUN) whose alias names this
     * very VM.
     *
     * @param link the link
     * @param vmId the VM ID
     * @return true when kind and alias match
     */
    static boolean belongsTo(Link link, String vmId) {
        return link.isTap() && vmIdOf(link).filter(vmId::equals).isPresent();
    }

    /**
     * Returns the VM ID a TAP's tapwire alias ({@code tapwire:<vm id>}) names.
     *
     * @param link the link
     * @return the VM ID, or empty when the link has no tapwire alias or the ID in it is not a valid VM ID
     */
    static Optional<String> vmIdOf(Link link) {
        String alias = link.alias();
        if (!alias.startsWith(ALIAS_PREFIX)) {
            return Optional.empty();
        }
        String vmId = alias.substring(ALIAS_PREFIX.length());
        try {
            return Optional.of(TapNames.requireValidVmId(vmId));
        } catch (InvalidNetworkSpecException e) {
            return Optional.empty();
        }
    }

    /**
     * Deletes, in one batch, every link of the namespace that {@code doomed} accepts.
     *
     * @param netlink the netlink client
     * @param doomed which links to delete
     * @return how many links were selected for deletion
     * @throws dev.tapwire.network.DeviceOperationException on failure
     */
    static int deleteWhere(Rtnetlink netlink, Predicate<Link> doomed) {
        List<Link> all = netlink.links();
        List<Link> selected = all.stream().filter(doomed).toList();
        delete(netlink, all, selected);
        return selected.size();
    }

    /**
     * Deletes these very links (by ifindex) in one batch: a fresh group for all of them, then one group
     * delete. A link that is already gone counts as deleted.
     *
     * @param netlink the netlink client
     * @param all every link of the namespace (to pick a group no link uses)
     * @param doomed the links to delete
     * @throws dev.tapwire.network.DeviceOperationException on failure
     */
    static void delete(Rtnetlink netlink, List<Link> all, List<Link> doomed) {
        if (doomed.isEmpty()) {
            return;
        }
        if (doomed.size() == 1) {
            Link only = doomed.get(0);
            netlink.execute(List.of(Rtnetlink.deleteLink(only.index(), only.name())));
            return;
        }
        Set<Integer> used = new HashSet<>();
        all.forEach(l -> used.add(l.group()));
        int group;
        do {
            group = ThreadLocalRandom.current().nextInt(0x40000000, 0x7fffffff);
        } while (used.contains(group));
        List<Rtnetlink.Request> requests = new ArrayList<>(doomed.size() + 1);
        for (Link link : doomed) {
            requests.add(Rtnetlink.setGroupForDelete(link.index(), link.name(), group));
        }
        requests.add(Rtnetlink.deleteGroup(group));
        netlink.execute(requests);
    }
}
