package dev.tapwire.network.bridge;

import dev.tapwire.network.TapNames;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds and removes tapwire TAPs in the calling thread's network namespace, with no provider instance
 * needed (the counterpart of cocoon's {@code CleanupTAPs}).
 *
 * <p>A TAP belongs to a VM when its name is {@code bt<first 8 characters of the VM ID>-<n>} and, if it
 * carries a tapwire alias ({@code tapwire:<vm id>}), the alias names that very VM: two VMs that share an
 * 8-character prefix never lose each other's TAPs. Deletes are batched: the TAPs are moved into a fresh
 * link group and the whole group is deleted with one {@code RTM_DELLINK}.
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
     * Removes every TAP of the given VMs; unknown VMs are a no-op.
     *
     * @param vmIds the VMs
     * @return the VM IDs cleaned (all of them, when nothing failed)
     * @throws dev.tapwire.network.InvalidNetworkSpecException if a VM ID is invalid
     * @throws dev.tapwire.network.DeviceOperationException if a TAP exists but cannot be removed
     */
    public static Set<String> cleanup(Collection<String> vmIds) {
        vmIds.forEach(TapNames::requireValidVmId);
        try (Rtnetlink netlink = Rtnetlink.open()) {
            int cleaned = deleteWhere(netlink, link -> vmIds.stream().anyMatch(vmId -> belongsTo(link, vmId)));
            LOG.debug("cleaned {} TAP(s) of {} VM(s)", cleaned, vmIds.size());
        }
        return new LinkedHashSet<>(vmIds);
    }

    /**
     * Tells whether a link is a TAP named by tapwire's convention ({@code bt<prefix>-<n>}, kind {@code tun}).
     *
     * @param link the link
     * @return true for a tapwire TAP, whichever VM it belongs to
     */
    public static boolean isTapwireTap(Link link) {
        return link.isTun() && TapNames.vmPrefixOf(link.name()).isPresent();
    }

    /**
     * Tells whether a link is a TAP tapwire made for {@code vmId}: named for it, and if it carries a tapwire
     * alias, the alias names this very VM.
     *
     * @param link the link
     * @param vmId the VM ID
     * @return true when name, kind and alias (if any) match
     */
    public static boolean belongsTo(Link link, String vmId) {
        return link.isTun() && TapNames.belongsTo(link.name(), vmId)
                && vmIdOf(link).map(vmId::equals).orElse(true);
    }

    /**
     * Returns the full VM ID a TAP's alias names ({@code tapwire:<vm id>}).
     *
     * @param link the link
     * @return the VM ID, or empty when the link has no tapwire alias (a TAP made before aliases, or by hand)
     */
    public static Optional<String> vmIdOf(Link link) {
        return link.alias().startsWith(ALIAS_PREFIX) ? Optional.of(link.alias().substring(ALIAS_PREFIX.length()))
                : Optional.empty();
    }

    /**
     * Deletes, in one batch, every link of the namespace that {@code doomed} accepts.
     *
     * @param netlink the netlink client
     * @param doomed which links to delete
     * @return how many links were deleted
     * @throws dev.tapwire.network.DeviceOperationException on failure
     */
    static int deleteWhere(Rtnetlink netlink, Predicate<Link> doomed) {
        List<Link> all = netlink.links();
        List<Link> selected = all.stream().filter(doomed).toList();
        delete(netlink, all, selected);
        return selected.size();
    }

    /**
     * Deletes links in one batch: a fresh group for all of them, then one group delete.
     *
     * @param netlink the netlink client
     * @param all every link of the namespace (to pick a group no link uses)
     * @param doomed the links to delete
     * @throws dev.tapwire.network.DeviceOperationException on failure
     */
    private static void delete(Rtnetlink netlink, List<Link> all, List<Link> doomed) {
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
            requests.add(Rtnetlink.setGroup(link.index(), link.name(), group));
        }
        requests.add(Rtnetlink.deleteGroup(group));
        netlink.execute(requests);
    }
}
