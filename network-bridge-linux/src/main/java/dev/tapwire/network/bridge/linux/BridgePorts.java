package dev.tapwire.network.bridge.linux;

import dev.tapwire.network.bridge.linux.raw.Linux;

/**
 * Bridge port flags set through rtnetlink as {@code bridge link set dev PORT …} does: {@code RTM_SETLINK}, family
 * {@code AF_BRIDGE}, the flags nested in {@code IFLA_PROTINFO}. Send the requests with {@link Rtnetlink#execute}.
 * (Configure sets isolation together with the other port flags, {@link Rtnetlink#setPortFlags(int, String, boolean,
 * boolean, boolean)}, in one message; this is the {@code bridge link} form.)
 */
public final class BridgePorts {

    private BridgePorts() {
    }

    /**
     * Returns a request that isolates a bridge port, or ends its isolation, as {@code bridge link set dev PORT
     * isolated on|off}: isolated ports of one bridge cannot reach each other, while each still reaches the bridge
     * itself (the host, the gateway) and every port that is not isolated (an uplink, an overlay port).
     *
     * @param index the port's ifindex
     * @param name the port's name, for errors
     * @param isolated whether the port is isolated
     * @return the request; the kernel answers {@code EOPNOTSUPP} when the link is not a bridge port
     */
    public static Rtnetlink.Request setIsolated(int index, String name, boolean isolated) {
        Rtnetlink.Message m = new Rtnetlink.Message(Linux.RTM_SETLINK, Linux.NLM_F_REQUEST | Linux.NLM_F_ACK)
                .ifinfo(Linux.AF_BRIDGE, index, 0, 0);
        int protinfo = m.beginNested(Linux.IFLA_PROTINFO);
        m.u8(Linux.IFLA_BRPORT_ISOLATED, isolated ? 1 : 0);
        m.endNested(protinfo);
        return new Rtnetlink.Request("RTM_SETLINK AF_BRIDGE isolated " + (isolated ? "on" : "off"), name, m, 0);
    }
}
