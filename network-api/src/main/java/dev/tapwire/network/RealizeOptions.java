package dev.tapwire.network;

/**
 * How a named network is realized on a host ({@link NetworkRealizations#realize}): whether its traffic leaving the
 * host is masqueraded, whether its guest ports are port-secured and isolated from each other, and its MTU.
 *
 * @param nat whether traffic leaving the host is masqueraded (the bridge backend then turns IPv4 forwarding on)
 * @param portSecurity whether guest ports may send only with their own MAC and address
 * @param isolated whether guest ports are isolated from each other (they reach the gateway only)
 * @param mtu the MTU of the bridge, the guests' TAPs and the guests (DHCP option 26), {@value #MIN_MTU}-{@value
 *     #MAX_MTU}
 */
public record RealizeOptions(boolean nat, boolean portSecurity, boolean isolated, int mtu) {

    /** The lowest MTU accepted: the least an IPv4 host must take (RFC 791). */
    public static final int MIN_MTU = 68;
    /** The highest MTU accepted. */
    public static final int MAX_MTU = 65535;
    /** The MTU of a network realized without one: Ethernet's. */
    public static final int DEFAULT_MTU = 1500;

    /**
     * Validates the options.
     *
     * @param nat whether traffic leaving the host is masqueraded (the bridge backend then turns IPv4 forwarding on)
     * @param portSecurity whether guest ports may send only with their own MAC and address
     * @param isolated whether guest ports are isolated from each other (they reach the gateway only)
     * @param mtu the MTU of the bridge, the guests' TAPs and the guests (DHCP option 26), {@value #MIN_MTU}-{@value
     *     #MAX_MTU}
     * @throws InvalidNetworkSpecException if the MTU is out of range
     */
    public RealizeOptions {
        if (mtu < MIN_MTU || mtu > MAX_MTU) {
            throw new InvalidNetworkSpecException("MTU " + mtu + " is out of range: accepted are " + MIN_MTU + " to "
                    + MAX_MTU);
        }
    }

    /**
     * Returns the defaults: no NAT, port security on, ports not isolated, MTU {@value #DEFAULT_MTU}.
     *
     * @return the options
     */
    public static RealizeOptions defaults() {
        return new RealizeOptions(false, true, false, DEFAULT_MTU);
    }

    /**
     * Returns a copy with NAT on or off.
     *
     * @param on whether traffic leaving the host is masqueraded
     * @return the new options
     */
    public RealizeOptions withNat(boolean on) {
        return new RealizeOptions(on, portSecurity, isolated, mtu);
    }

    /**
     * Returns a copy with another MTU.
     *
     * @param value the MTU
     * @return the new options
     * @throws InvalidNetworkSpecException if it is out of range
     */
    public RealizeOptions withMtu(int value) {
        return new RealizeOptions(nat, portSecurity, isolated, value);
    }

    /**
     * Returns a copy with guest ports isolated from each other or not.
     *
     * @param on whether guest ports are isolated
     * @return the new options
     */
    public RealizeOptions withIsolation(boolean on) {
        return new RealizeOptions(nat, portSecurity, on, mtu);
    }
}
