package dev.tapwire.network.bridge;

import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.bridge.linux.Link;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Lists the network interfaces of the calling thread's network namespace — what a manager or an operator tool shows
 * beside tapwire's own state (the {@code tapwire tap ls} and {@code demo} tables), without the internal Linux layer.
 * Run it through {@link NetworkNamespaces#call} to look into another namespace. Thread-safe: each call opens its own
 * netlink socket.
 */
public final class HostLinks {

    private HostLinks() {
    }

    /**
     * Lists every link of the calling thread's network namespace, in the kernel's order.
     *
     * @return the links
     * @throws DeviceOperationException if the netlink socket cannot be opened or the dump fails
     */
    public static List<HostLink> list() {
        try (Rtnetlink netlink = Rtnetlink.open()) {
            List<Link> links = netlink.links();
            Map<Integer, String> names = links.stream().collect(Collectors.toMap(Link::index, Link::name, (a, b) -> a));
            return links.stream().map(l -> new HostLink(l.name(), l.kind(),
                    Optional.ofNullable(names.get(l.masterIndex())), l.isUp(), l.mtu(), l.alias(), l.isTap(),
                    l.tun().map(Link.TunInfo::multiQueue).orElse(false),
                    BridgeTaps.isTapwireTap(l) ? BridgeTaps.vmIdOf(l) : Optional.empty())).toList();
        }
    }

    /**
     * Lists the TAPs tapwire made (TAPs with its alias {@code tapwire:<vm id>}), of any VM and on any bridge or
     * none, in the kernel's order.
     *
     * @return the TAPs; each {@link HostLink#vmId()} is present
     * @throws DeviceOperationException if the netlink socket cannot be opened or the dump fails
     */
    public static List<HostLink> tapwireTaps() {
        return list().stream().filter(HostLink::isTapwireTap).toList();
    }
}
