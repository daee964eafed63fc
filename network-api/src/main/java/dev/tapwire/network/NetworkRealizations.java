package dev.tapwire.network;

import java.util.List;
import java.util.Optional;

/**
 * The named networks a provider realizes on its host ({@link NetworkProvider#networks}): what a manager needs to
 * bring a network up with options before its first VM (a configure realizes one on demand, with the defaults), take
 * it down, and see what is realized. The bridge backend makes a bridge, dnsmasq and nftables rules per network; the
 * in-memory fake models the same rules (bridges, subnets, refusals) without them.
 *
 * <p>Thread-safe, as its provider is; works in the network namespace of the calling thread.
 */
public interface NetworkRealizations {

    /**
     * Realizes a network of the provider's registry with these options (or changes the options of a realized one).
     *
     * @param network the network's name
     * @param options how to realize it
     * @return the realization
     * @throws NetworkNotFoundException if the registry has no such network
     * @throws InvalidNetworkSpecException if the name or options are invalid
     * @throws DeviceOperationException ({@code BUSY}) if its subnet overlaps another network realized here, or its
     *     bridge's name is taken by another device; or if a device cannot be made
     * @throws NetworkException if the backend cannot realize networks on this host (the bridge backend names the
     *     package to install)
     */
    RealizedNetwork realize(String network, RealizeOptions options);

    /**
     * Takes a network's realization down (bridge, DNS and DHCP, rules); a network not realized here is left alone.
     *
     * @param network the network's name
     * @return true when something was removed
     * @throws DeviceOperationException ({@code BUSY}) if TAPs of VMs are still on its bridge (delete them first)
     * @throws InvalidNetworkSpecException if the name is invalid
     */
    boolean unrealize(String network);

    /**
     * Returns every network realized here, by name.
     *
     * @return the realizations
     * @throws NetworkException if the state cannot be read
     */
    List<RealizedNetwork> list();

    /**
     * Tells how a network is realized here and what is wrong with it, changing nothing.
     *
     * @param network the network's name
     * @return the realization with its problems, or empty when it is not realized here
     * @throws InvalidNetworkSpecException if the name is invalid
     */
    Optional<RealizedNetwork> inspect(String network);
}
