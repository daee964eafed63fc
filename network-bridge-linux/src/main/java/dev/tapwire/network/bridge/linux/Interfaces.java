package dev.tapwire.network.bridge.linux;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.TapNames;
import dev.tapwire.network.bridge.linux.raw.LibC;
import dev.tapwire.network.bridge.linux.raw.Linux;
import java.lang.ref.Reference;
import java.nio.charset.StandardCharsets;

/**
 * Interface settings through socket ioctls on an {@code AF_INET}/{@code SOCK_DGRAM} socket, in the
 * namespace of the thread that opened it. Not thread-safe; cheap to open.
 */
public final class Interfaces implements AutoCloseable {

    private final Fd socket;
    private final boolean owned;
    private final Memory ifr = new Memory(Linux.IFREQ_SIZE);

    private Interfaces(Fd socket, boolean owned) {
        this.socket = socket;
        this.owned = owned;
    }

    /**
     * Uses the socket of an open netlink client for interface ioctls instead of opening one: the kernel
     * serves {@code SIOCGIF*}/{@code SIOCSIF*} on any socket, so one socket per operation is enough.
     * Closing the result leaves the netlink client open.
     *
     * @param netlink the client whose socket to use; it must stay open while this is used
     * @return the interface controller
     */
    public static Interfaces over(Rtnetlink netlink) {
        return new Interfaces(netlink.socket(), false);
    }

    /**
     * Opens the control socket.
     *
     * @return the interface controller
     * @throws dev.tapwire.network.DeviceOperationException if the socket cannot be created
     */
    public static Interfaces open() {
        try {
            return new Interfaces(new Fd(LibC.socket(Linux.AF_INET, Linux.SOCK_DGRAM | Linux.SOCK_CLOEXEC, 0)), true);
        } catch (LastErrorException e) {
            throw Errno.failure("socket(AF_INET)", null, e);
        }
    }

    /**
     * Returns an interface's index.
     *
     * @param name the interface
     * @return its ifindex
     * @throws dev.tapwire.network.DeviceOperationException {@code ENODEV} when it does not exist
     */
    public int index(String name) {
        return getInt("SIOCGIFINDEX", Linux.SIOCGIFINDEX, name);
    }

    /**
     * Returns an interface's flags ({@code IFF_*}).
     *
     * @param name the interface
     * @return the flags
     * @throws dev.tapwire.network.DeviceOperationException on failure
     */
    public int flags(String name) {
        call("SIOCGIFFLAGS", Linux.SIOCGIFFLAGS, name);
        return ifr.getShort(Linux.IFREQ_UNION) & 0xffff; // ifr_flags is a short
    }

    /**
     * Brings an interface up or down.
     *
     * @param name the interface
     * @param up true for up
     * @throws dev.tapwire.network.DeviceOperationException on failure
     */
    public void setUp(String name, boolean up) {
        int flags = flags(name);
        flags = up ? flags | Linux.IFF_UP : flags & ~Linux.IFF_UP;
        prepare(name);
        ifr.setShort(Linux.IFREQ_UNION, (short) flags);
        invoke("SIOCSIFFLAGS", Linux.SIOCSIFFLAGS, name, ifr);
    }

    /**
     * Returns an interface's MTU.
     *
     * @param name the interface
     * @return the MTU
     * @throws dev.tapwire.network.DeviceOperationException on failure
     */
    public int mtu(String name) {
        return getInt("SIOCGIFMTU", Linux.SIOCGIFMTU, name);
    }

    /**
     * Sets an interface's MTU.
     *
     * @param name the interface
     * @param mtu the MTU
     * @throws dev.tapwire.network.DeviceOperationException on failure ({@code EINVAL}: out of range)
     */
    public void setMtu(String name, int mtu) {
        setInt("SIOCSIFMTU", Linux.SIOCSIFMTU, name, mtu);
    }

    /**
     * Returns an interface's transmit queue length.
     *
     * @param name the interface
     * @return txqueuelen
     * @throws dev.tapwire.network.DeviceOperationException on failure
     */
    public int txQueueLength(String name) {
        return getInt("SIOCGIFTXQLEN", Linux.SIOCGIFTXQLEN, name);
    }

    /**
     * Sets an interface's transmit queue length.
     *
     * @param name the interface
     * @param length txqueuelen
     * @throws dev.tapwire.network.DeviceOperationException on failure
     */
    public void setTxQueueLength(String name, int length) {
        setInt("SIOCSIFTXQLEN", Linux.SIOCSIFTXQLEN, name, length);
    }

    /**
     * Returns an interface's hardware address.
     *
     * @param name the interface
     * @return its MAC
     * @throws dev.tapwire.network.DeviceOperationException on failure
     */
    public MacAddress mac(String name) {
        call("SIOCGIFHWADDR", Linux.SIOCGIFHWADDR, name);
        return MacAddress.of(ifr.getByteArray(Linux.IFREQ_UNION + 2, 6));
    }

    /**
     * Sets an interface's hardware address.
     *
     * @param name the interface
     * @param mac the new MAC
     * @throws dev.tapwire.network.DeviceOperationException on failure
     */
    public void setMac(String name, MacAddress mac) {
        prepare(name);
        ifr.setShort(Linux.IFREQ_UNION, Linux.ARPHRD_ETHER);
        ifr.write(Linux.IFREQ_UNION + 2, mac.toBytes(), 0, 6);
        invoke("SIOCSIFHWADDR", Linux.SIOCSIFHWADDR, name, ifr);
    }

    /**
     * Returns the driver behind an interface through {@code SIOCETHTOOL}/{@code ETHTOOL_GDRVINFO}:
     * {@code tun} for TAPs, {@code bridge} for bridges.
     *
     * @param name the interface
     * @return the driver name
     * @throws dev.tapwire.network.DeviceOperationException on failure ({@code EOPNOTSUPP} for drivers without ethtool)
     */
    public String driver(String name) {
        Memory info = new Memory(Linux.ETHTOOL_DRVINFO_SIZE);
        info.clear();
        info.setInt(0, Linux.ETHTOOL_GDRVINFO);
        prepare(name);
        ifr.setPointer(Linux.IFREQ_UNION, info);
        invoke("SIOCETHTOOL", Linux.SIOCETHTOOL, name, ifr);
        return info.getString(4, StandardCharsets.US_ASCII.name());
    }

    /**
     * Creates a Linux bridge (down).
     *
     * @param name the bridge name, 1-15 bytes
     * @throws dev.tapwire.network.DeviceOperationException on failure ({@code EEXIST}: taken)
     */
    public void createBridge(String name) {
        invoke("SIOCBRADDBR", Linux.SIOCBRADDBR, name, cString(name));
    }

    /**
     * Deletes a Linux bridge; it must be down.
     *
     * @param name the bridge name
     * @throws dev.tapwire.network.DeviceOperationException on failure ({@code EBUSY}: still up)
     */
    public void deleteBridge(String name) {
        invoke("SIOCBRDELBR", Linux.SIOCBRDELBR, name, cString(name));
    }

    /**
     * Attaches an interface to a bridge as a port.
     *
     * @param bridge the bridge
     * @param portIndex the port's ifindex
     * @throws dev.tapwire.network.DeviceOperationException on failure
     */
    public void addBridgePort(String bridge, int portIndex) {
        setInt("SIOCBRADDIF", Linux.SIOCBRADDIF, bridge, portIndex);
    }

    /**
     * Detaches a port from a bridge.
     *
     * @param bridge the bridge
     * @param portIndex the port's ifindex
     * @throws dev.tapwire.network.DeviceOperationException on failure
     */
    public void removeBridgePort(String bridge, int portIndex) {
        setInt("SIOCBRDELIF", Linux.SIOCBRDELIF, bridge, portIndex);
    }

    /**
     * Gives an interface an IPv4 address and netmask.
     *
     * @param name the interface
     * @param address the address
     * @param prefixLength the prefix length, 0-32
     * @throws dev.tapwire.network.DeviceOperationException on failure
     */
    public void setIpv4(String name, Ipv4Address address, int prefixLength) {
        prepareSockaddr(name, address);
        invoke("SIOCSIFADDR", Linux.SIOCSIFADDR, name, ifr);
        int mask = prefixLength == 0 ? 0 : -1 << (32 - prefixLength);
        prepareSockaddr(name, new Ipv4Address(mask));
        invoke("SIOCSIFNETMASK", Linux.SIOCSIFNETMASK, name, ifr);
    }

    private void prepareSockaddr(String name, Ipv4Address address) {
        prepare(name);
        ifr.setShort(Linux.IFREQ_UNION, (short) Linux.AF_INET);
        ifr.write(Linux.IFREQ_UNION + 4, address.toBytes(), 0, 4);
    }

    /** Runs an ioctl that returns an int in the ifreq union. */
    private int getInt(String op, long request, String name) {
        call(op, request, name);
        return ifr.getInt(Linux.IFREQ_UNION);
    }

    /** Runs an ioctl that takes an int in the ifreq union. */
    private void setInt(String op, long request, String name, int value) {
        prepare(name);
        ifr.setInt(Linux.IFREQ_UNION, value);
        invoke(op, request, name, ifr);
    }

    private void call(String op, long request, String name) {
        prepare(name);
        invoke(op, request, name, ifr);
    }

    private void prepare(String name) {
        TapNames.requireValidInterfaceName(name);
        putName(ifr, name);
    }

    private static Memory cString(String name) {
        TapNames.requireValidInterfaceName(name);
        Memory m = new Memory(16);
        putName(m, name);
        return m;
    }

    /**
     * Zeroes {@code target} and writes an interface name at its start, NUL-terminated: the layout of
     * {@code ifr_name} and of the plain name the bridge ioctls take. The caller has validated the name.
     */
    static void putName(Memory target, String name) {
        target.clear();
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        target.write(0, bytes, 0, bytes.length);
    }

    private void invoke(String op, long request, String name, Pointer arg) {
        try {
            LibC.ioctl(socket.get(), new NativeLong(request), arg);
        } catch (LastErrorException e) {
            throw Errno.failure(op, name, e);
        } finally {
            Reference.reachabilityFence(socket); // the Cleaner must not close it while the kernel uses it
        }
    }

    /** Closes the control socket if this controller opened it. Idempotent. */
    @Override
    public void close() {
        if (owned) {
            socket.close();
        }
    }
}
