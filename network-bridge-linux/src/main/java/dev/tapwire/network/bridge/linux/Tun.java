package dev.tapwire.network.bridge.linux;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.NativeLong;
import dev.tapwire.network.TapNames;
import dev.tapwire.network.bridge.linux.raw.LibC;
import dev.tapwire.network.bridge.linux.raw.Linux;
import java.util.OptionalInt;

/**
 * TAP devices through {@code /dev/net/tun} ioctls, in the calling thread's network namespace.
 */
public final class Tun {

    private static final String TUN = "/dev/net/tun";

    private Tun() {
    }

    /**
     * Creates a persistent TAP ({@code IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_TUN_EXCL}, plus
     * {@code IFF_MULTI_QUEUE} when asked), sets its owner and group, and detaches. {@code IFF_TUN_EXCL}
     * makes an existing device of that name fail with {@code EBUSY} instead of being silently shared.
     *
     * <p>On any failure nothing is left behind: until {@code TUNSETPERSIST} the device lives only as long
     * as the fd, which is always closed.
     *
     * @param name the interface name, 1-15 bytes
     * @param multiQueue whether to create it multi-queue
     * @param owner the uid allowed to attach, or empty for none
     * @param group the gid allowed to attach, or empty for none
     * @throws dev.tapwire.network.DeviceOperationException with the ioctl and errno on failure
     *     ({@code EBUSY}: the name is taken; {@code EPERM}: no {@code CAP_NET_ADMIN})
     * @throws dev.tapwire.network.InvalidNetworkSpecException if the name is not a valid interface name
     */
    public static void createPersistentTap(String name, boolean multiQueue, OptionalInt owner, OptionalInt group) {
        try (NewTap tap = create(name, multiQueue, owner, group)) {
            tap.persist();
        }
    }

    /**
     * Creates a TAP that lives only as long as this process holds it: the kernel removes it when the returned
     * handle is closed, or the process dies, before {@link NewTap#persist()}. So a caller can mark the device
     * as its own (an alias) while a crash would still leave nothing behind, then make it persistent.
     *
     * @param name the interface name, 1-15 bytes
     * @param multiQueue whether to create it multi-queue
     * @param owner the uid allowed to attach, or empty for none
     * @param group the gid allowed to attach, or empty for none
     * @return the new TAP, attached to this process until persisted or closed
     * @throws dev.tapwire.network.DeviceOperationException with the ioctl and errno on failure
     *     ({@code EBUSY}: the name is taken; {@code EPERM}: no {@code CAP_NET_ADMIN}); nothing is left then
     * @throws dev.tapwire.network.InvalidNetworkSpecException if the name is not a valid interface name
     */
    public static NewTap create(String name, boolean multiQueue, OptionalInt owner, OptionalInt group) {
        TapNames.requireValidInterfaceName(name);
        short flags = (short) (Linux.IFF_TAP | Linux.IFF_NO_PI | Linux.IFF_VNET_HDR | Linux.IFF_TUN_EXCL
                | (multiQueue ? Linux.IFF_MULTI_QUEUE : 0));
        Fd fd = openTun(name);
        try {
            setIff(fd, name, flags, null);
            if (owner.isPresent()) {
                valueIoctl(fd, name, "TUNSETOWNER", Linux.TUNSETOWNER, owner.getAsInt());
            }
            if (group.isPresent()) {
                valueIoctl(fd, name, "TUNSETGROUP", Linux.TUNSETGROUP, group.getAsInt());
            }
            return new NewTap(name, fd);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /**
     * A TAP just created and still attached to its creator: it disappears when closed unless
     * {@link #persist()} was called first.
     */
    public static final class NewTap implements AutoCloseable {
        private final String name;
        private final Fd fd;

        private NewTap(String name, Fd fd) {
            this.name = name;
            this.fd = fd;
        }

        /**
         * Returns the TAP's name.
         *
         * @return the interface name
         */
        public String name() {
            return name;
        }

        /**
         * Makes the TAP persistent and detaches from it: from now on it outlives this process.
         *
         * @throws dev.tapwire.network.DeviceOperationException if {@code TUNSETPERSIST} fails; closing then
         *     removes the TAP
         * @throws IllegalStateException if it was closed already
         */
        public void persist() {
            valueIoctl(fd, name, "TUNSETPERSIST", Linux.TUNSETPERSIST, 1);
            fd.close();
        }

        /** Detaches; a TAP not made persistent is removed by the kernel. Idempotent. */
        @Override
        public void close() {
            fd.close();
        }
    }

    /**
     * Attaches to an existing TAP as a VMM does, for reading and writing frames.
     *
     * @param name the TAP name
     * @param multiQueue whether the TAP is multi-queue (must match how it was created)
     * @return the queue; close it to detach
     * @throws dev.tapwire.network.DeviceOperationException on failure
     */
    public static TapQueue attach(String name, boolean multiQueue) {
        TapNames.requireValidInterfaceName(name);
        short flags = (short) (Linux.IFF_TAP | Linux.IFF_NO_PI | Linux.IFF_VNET_HDR
                | (multiQueue ? Linux.IFF_MULTI_QUEUE : 0));
        Fd fd = openTun(name);
        try {
            setIff(fd, name, flags, "this user may attach only as the TAP's owner and a member of its group"
                    + " (whichever are set), or with CAP_NET_ADMIN");
            return new TapQueue(name, fd);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    private static Fd openTun(String device) {
        try {
            return new Fd(LibC.open(TUN, Linux.O_RDWR | Linux.O_CLOEXEC));
        } catch (LastErrorException e) {
            throw Errno.failure("open(" + TUN + ")", device, e);
        }
    }

    private static void setIff(Fd fd, String name, short flags, String permissionHint) {
        Memory ifr = new Memory(Linux.IFREQ_SIZE);
        Interfaces.putName(ifr, name);
        ifr.setShort(Linux.IFREQ_UNION, flags);
        try {
            LibC.ioctl(fd.get(), new NativeLong(Linux.TUNSETIFF), ifr);
        } catch (LastErrorException e) {
            String hint = e.getErrorCode() == Errno.EBUSY ? "a device of that name exists already"
                    : e.getErrorCode() == Errno.EPERM ? permissionHint : null;
            throw Errno.failure("TUNSETIFF", name, e.getErrorCode(), hint);
        }
    }

    private static void valueIoctl(Fd fd, String name, String op, long request, long value) {
        try {
            LibC.ioctl(fd.get(), new NativeLong(request), new NativeLong(value));
        } catch (LastErrorException e) {
            throw Errno.failure(op, name, e);
        }
    }
}
