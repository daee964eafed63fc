package dev.tapwire.network.bridge;

import dev.tapwire.network.TapNames;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
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
            List<Link> all = netlink.links();
            List<Link> doomed = new ArrayList<>();
            for (Link link : all) {
                for (String vmId : vmIds) {
                    if (belongsTo(link, vmId)) {
                        doomed.add(link);
                        break;
                    }
                }
            }
            delete(netlink, all, doomed);
            LOG.debug("cleaned {} TAP(s) of {} VM(s)", doomed.size(), vmIds.size());
        }
        return new LinkedHashSet<>(vmIds);
    }

    /**
     * Tells whether a link is a TAP tapwire made for {@code vmId}.
     *
     * @param link the link
     * @param vmId the VM ID
     * @return true when name, kind and alias (if any) match
     */
    public static boolean belongsTo(Link link, String vmId) {
        if (!link.isTun() || !TapNames.belongsTo(link.name(), vmId)) {
            return false;
        }
        return !link.alias().startsWith(ALIAS_PREFIX) || link.alias().equals(ALIAS_PREFIX + vmId);
    }

    /**
     * Returns the full VM ID a TAP's alias names, if it has a tapwire alias.
     *
     * @param link the link
     * @return the VM ID, or null
     */
    static String aliasVmId(Link link) {
        return link.alias().startsWith(ALIAS_PREFIX) ? link.alias().substring(ALIAS_PREFIX.length()) : null;
    }

    /**
     * Deletes links in one batch: a fresh group for all of them, then one group delete.
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
            requests.add(Rtnetlink.setGroup(link.index(), link.name(), group));
        }
        requests.add(Rtnetlink.deleteGroup(group));
        netlink.execute(requests);
    }
}
