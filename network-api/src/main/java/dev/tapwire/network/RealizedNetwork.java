package dev.tapwire.network;

import java.util.List;

/**
 * A named network as it is realized on a host ({@link NetworkRealizations}): its bridge, addresses and options, and
 * what is wrong with it.
 *
 * @param network the network's name
 * @param bridge the bridge device that carries it
 * @param subnet its subnet
 * @param gateway the gateway address the host holds on the bridge
 * @param options how it is realized
 * @param problems what is wrong with it, in words an operator can act on; empty when all is well (always empty in
 *     what {@link NetworkRealizations#realize} and {@link NetworkRealizations#list} return, which do not check)
 */
public record RealizedNetwork(String network, String bridge, Ipv4Subnet subnet, Ipv4Address gateway,
        RealizeOptions options, List<String> problems) {

    /**
     * Validates and copies.
     *
     * @param network the network's name
     * @param bridge the bridge device that carries it
     * @param subnet its subnet
     * @param gateway the gateway address the host holds on the bridge
     * @param options how it is realized
     * @param problems what is wrong with it, in words an operator can act on; empty when all is well (always empty in
     *     what {@link NetworkRealizations#realize} and {@link NetworkRealizations#list} return, which do not check)
     * @throws InvalidNetworkSpecException if a part is missing
     */
    public RealizedNetwork {
        if (network == null || bridge == null || subnet == null || options == null) {
            throw new InvalidNetworkSpecException("a realized network needs its name, bridge, subnet and options; got "
                    + network + ", " + bridge + ", " + subnet + ", " + options);
        }
        problems = problems == null ? List.of() : List.copyOf(problems);
    }
}
