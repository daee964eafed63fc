package dev.tapwire.network.bridge.linux;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.NativeLong;
import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.bridge.linux.raw.LibC;
import dev.tapwire.network.bridge.linux.raw.Linux;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * A small rtnetlink ({@code AF_NETLINK}/{@code NETLINK_ROUTE}) client for what ioctls cannot do: link
 * dumps, bridge-port learning, link groups and batched deletes. Requests can be pipelined: many messages
 * in one {@code sendto}, one ack each. Works in the network namespace of the thread that opened it.
 * Not thread-safe.
 */
public final class Rtnetlink implements AutoCloseable {

    private static final int RX_SIZE = 1 << 16;
    private static final int MAX_BATCH_BYTES = 1 << 15;
    /**
     * Requests per {@code sendto}: each ack occupies about 768 bytes of the receive buffer (212 KiB by
     * default), so more than ~270 unread acks overflow it ({@code ENOBUFS}) and the socket loses step.
     */
    private static final int MAX_BATCH_MESSAGES = 128;
    private static final int SO_RCVBUF_WANTED = 1 << 20;
    /** How often a dump that the kernel marks inconsistent ({@code NLM_F_DUMP_INTR}) is taken again. */
    private static final int MAX_DUMP_ATTEMPTS = 5;
    /** {@code ENOENT}: what deleting an entry that is not there fails with. */
    private static final int ENOENT = 2;

    /** The kernel's netlink address ({@code sockaddr_nl}, pid 0): only ever read. */
    private static final Memory KERNEL = new Memory(12);
    /**
     * Receive buffers of closed clients, kept for the next one: a 64 KiB allocation per client (malloc, the
     * heap grown and trimmed again, JNA's bookkeeping) was a visible part of a single-TAP configure.
     */
    private static final ConcurrentLinkedQueue<Memory> SPARE_RX = new ConcurrentLinkedQueue<>();
    private static final int MAX_SPARE_RX = 8;

    static {
        KERNEL.clear();
        KERNEL.setShort(0, (short) Linux.AF_NETLINK);
    }

    private final Fd fd;
    private final Memory rx;
    private int seq = (int) (System.nanoTime() & 0x3fffffff);
    private boolean broken;

    private Rtnetlink(Fd fd) {
        this.fd = fd;
        Memory spare = SPARE_RX.poll();
        this.rx = spare != null ? spare : new Memory(RX_SIZE);
    }

    /**
     * Opens a netlink socket with capped and extended acks.
     *
     * @return the client
     * @throws DeviceOperationException if the socket cannot be created
     */
    public static Rtnetlink open() {
        Fd fd;
        try {
            fd = new Fd(LibC.socket(Linux.AF_NETLINK, Linux.SOCK_RAW | Linux.SOCK_CLOEXEC, Linux.NETLINK_ROUTE));
        } catch (LastErrorException e) {
            throw Errno.failure("socket(AF_NETLINK)", null, e);
        }
        Memory one = new Memory(4);
        one.setInt(0, SO_RCVBUF_WANTED);
        try {
            LibC.setsockopt(fd.get(), Linux.SOL_SOCKET, Linux.SO_RCVBUF, one, 4);
        } catch (LastErrorException ignored) {
            // the default buffer works too, with the batch limit
        }
        one.setInt(0, 1);
        for (int option : new int[] {Linux.NETLINK_CAP_ACK, Linux.NETLINK_EXT_ACK}) {
            try {
                LibC.setsockopt(fd.get(), Linux.SOL_NETLINK, option, one, 4);
            } catch (LastErrorException ignored) {
                // older kernels: acks carry the request and no error text; both are handled
            }
        }
        return new Rtnetlink(fd);
    }

    /**
     * One request of a pipelined batch.
     *
     * @param operation what it does, for the error message (e.g. {@code RTM_SETLINK master})
     * @param device the device it applies to, for the error message
     * @param message the encoded message (sequence number is filled in when sent)
     * @param ignoredErrno an errno that counts as success (e.g. {@code ENODEV} for a delete), or 0
     */
    public record Request(String operation, String device, Message message, int ignoredErrno) {
    }

    // ------------------------------------------------------------------ queries

    /**
     * Dumps every link of the namespace.
     *
     * @return the links in kernel order
     * @throws DeviceOperationException on failure
     */
    public List<Link> links() {
        return dumpLinks(Rtnetlink::parseLink);
    }

    /**
     * Returns the ifindexes of every bridge port of the namespace that is isolated ({@code IFLA_BRPORT_ISOLATED}).
     *
     * @return the isolated ports' ifindexes
     * @throws DeviceOperationException on failure
     */
    public Set<Integer> isolatedPorts() {
        Set<Integer> isolated = new HashSet<>();
        dumpLinks((buf, off, len) -> {
            int base = off + Linux.NLMSG_HDRLEN;
            for (Attrs a = new Attrs(buf, base + Linux.IFINFOMSG_LEN, off + len); a.next(); ) {
                if (a.type != Linux.IFLA_LINKINFO) {
                    continue;
                }
                for (Attrs info = a.nested(); info.next(); ) {
                    if (info.type != Linux.IFLA_INFO_SLAVE_DATA) {
                        continue;
                    }
                    for (Attrs port = info.nested(); port.next(); ) {
                        if (port.type == Linux.IFLA_BRPORT_ISOLATED && port.u8() != 0) {
                            isolated.add(buf.getInt(base + 4));
                        }
                    }
                }
            }
            return null;
        });
        return isolated;
    }

    /** Parses one {@code RTM_NEWLINK} message of a dump. */
    @FunctionalInterface
    private interface LinkParser<T> {
        T parse(ByteBuffer buf, int off, int len);
    }

    private <T> List<T> dumpLinks(LinkParser<T> parser) {
        for (int attempt = 1; ; attempt++) {
            Message m = new Message(Linux.RTM_GETLINK, Linux.NLM_F_REQUEST | Linux.NLM_F_DUMP)
                    .ifinfo(Linux.AF_UNSPEC, 0, 0, 0);
            int s = send(List.of(m));
            List<T> links = new ArrayList<>();
            boolean[] interrupted = {false};
            receiveUntil("RTM_GETLINK dump", null, (buf, off, len, type, seq) -> {
                if (seq != s) {
                    return false;
                }
                interrupted[0] |= (buf.getShort(off + 6) & Linux.NLM_F_DUMP_INTR) != 0;
                if (type == Linux.NLMSG_ERROR) {
                    throwIfError(buf, off, len, "RTM_GETLINK dump", null, 0);
                } else if (type == Linux.RTM_NEWLINK) {
                    T parsed = parser.parse(buf, off, len);
                    if (parsed != null) {
                        links.add(parsed);
                    }
                }
                return type == Linux.NLMSG_DONE;
            });
            if (!interrupted[0]) {
                return links;
            }
            if (attempt == MAX_DUMP_ATTEMPTS) {
                throw DeviceOperationException.of("RTM_GETLINK dump", null, DeviceOperationException.Reason.BUSY,
                        "the links changed during each of " + MAX_DUMP_ATTEMPTS + " dumps (NLM_F_DUMP_INTR);"
                                + " no consistent view could be taken", null);
            }
        }
    }

    /**
     * Looks one link up by name.
     *
     * @param name the interface name
     * @return the link, or empty when there is none
     * @throws DeviceOperationException on any failure other than {@code ENODEV}
     */
    public Optional<Link> link(String name) {
        Message m = new Message(Linux.RTM_GETLINK, Linux.NLM_F_REQUEST).ifinfo(Linux.AF_UNSPEC, 0, 0, 0)
                .string(Linux.IFLA_IFNAME, name);
        int s = send(List.of(m));
        List<Link> found = new ArrayList<>(1);
        receiveUntil("RTM_GETLINK", name, (buf, off, len, type, seq) -> {
            if (seq != s) {
                return false;
            }
            if (type == Linux.NLMSG_ERROR) {
                throwIfError(buf, off, len, "RTM_GETLINK", name, Errno.ENODEV); // ENODEV: no such link
            } else if (type == Linux.RTM_NEWLINK) {
                found.add(parseLink(buf, off, len));
            }
            return type == Linux.NLMSG_ERROR || type == Linux.RTM_NEWLINK;
        });
        return found.stream().findFirst();
    }

    /**
     * An IPv4 address on a link.
     *
     * @param index the link's ifindex
     * @param address the address (dotted quad)
     * @param prefix the prefix length
     */
    public record Address(int index, String address, int prefix) {
    }

    /**
     * Dumps every IPv4 address of the namespace.
     *
     * @return the addresses in kernel order
     * @throws DeviceOperationException on failure
     */
    public List<Address> ipv4Addresses() {
        Message m = new Message(Linux.RTM_GETADDR, Linux.NLM_F_REQUEST | Linux.NLM_F_DUMP)
                .ifaddr(Linux.AF_INET, 0, 0);
        int s = send(List.of(m));
        List<Address> addresses = new ArrayList<>();
        receiveUntil("RTM_GETADDR dump", null, (buf, off, len, type, seq) -> {
            if (seq != s) {
                return false;
            }
            if (type == Linux.NLMSG_ERROR) {
                throwIfError(buf, off, len, "RTM_GETADDR dump", null, 0);
            } else if (type == Linux.RTM_NEWADDR) {
                int base = off + Linux.NLMSG_HDRLEN;
                int prefix = buf.get(base + 1) & 0xff;
                int index = buf.getInt(base + 4);
                String local = null;
                for (Attrs a = new Attrs(buf, base + Linux.IFADDRMSG_LEN, off + len); a.next(); ) {
                    if ((a.type == Linux.IFA_LOCAL || a.type == Linux.IFA_ADDRESS && local == null) && a.length == 4) {
                        byte[] b = a.bytes();
                        local = (b[0] & 0xff) + "." + (b[1] & 0xff) + "." + (b[2] & 0xff) + "." + (b[3] & 0xff);
                    }
                }
                if (local != null) {
                    addresses.add(new Address(index, local, prefix));
                }
            }
            return type == Linux.NLMSG_DONE;
        });
        return addresses;
    }

    /**
     * An entry of a bridge's forwarding database.
     *
     * @param port the ifindex of the port that frames for {@code mac} go to
     * @param mac the MAC
     * @param isStatic true for a static entry ({@code NUD_NOARP}, as {@link #addStaticFdb} makes it); false for a
     *     learned entry or a port's own address
     */
    public record FdbEntry(int port, MacAddress mac, boolean isStatic) {
    }

    /**
     * Dumps the forwarding database of one bridge, as {@code bridge fdb show br BRIDGE} does.
     *
     * @param bridgeIndex the bridge's ifindex
     * @return its entries, in kernel order
     * @throws DeviceOperationException on failure
     */
    public List<FdbEntry> fdb(int bridgeIndex) {
        Message m = new Message(Linux.RTM_GETNEIGH, Linux.NLM_F_REQUEST | Linux.NLM_F_DUMP)
                .ndmsg(Linux.AF_BRIDGE, 0, 0, 0);
        int s = send(List.of(m));
        List<FdbEntry> entries = new ArrayList<>();
        receiveUntil("RTM_GETNEIGH dump", null, (buf, off, len, type, seq) -> {
            if (seq != s) {
                return false;
            }
            if (type == Linux.NLMSG_ERROR) {
                throwIfError(buf, off, len, "RTM_GETNEIGH dump", null, 0);
            } else if (type == Linux.RTM_NEWNEIGH) {
                int base = off + Linux.NLMSG_HDRLEN;
                int port = buf.getInt(base + 4);
                int state = buf.getShort(base + 8) & 0xffff;
                byte[] mac = null;
                int master = 0;
                for (Attrs a = new Attrs(buf, base + Linux.NDMSG_LEN, off + len); a.next(); ) {
                    if (a.type == Linux.NDA_LLADDR && a.length == 6) {
                        mac = a.bytes();
                    } else if (a.type == Linux.NDA_MASTER && a.length == 4) {
                        master = a.u32();
                    }
                }
                if (mac != null && master == bridgeIndex) {
                    entries.add(new FdbEntry(port, MacAddress.of(mac), (state & Linux.NUD_NOARP) != 0));
                }
            }
            return type == Linux.NLMSG_DONE;
        });
        return entries;
    }

    /** Handles one received message; returns true when no more are expected. */
    @FunctionalInterface
    private interface ReplyHandler {
        boolean handle(ByteBuffer buf, int off, int len, int type, int seq);
    }

    /** Reads messages, datagram by datagram, until the handler says it has seen the last one it expects. */
    private void receiveUntil(String operation, String device, ReplyHandler handler) {
        while (true) {
            int n = receive(operation, device);
            ByteBuffer buf = rx.getByteBuffer(0, n).order(ByteOrder.nativeOrder());
            for (int off = 0; off + Linux.NLMSG_HDRLEN <= n; ) {
                int len = buf.getInt(off);
                if (len < Linux.NLMSG_HDRLEN) {
                    break;
                }
                if (handler.handle(buf, off, len, buf.getShort(off + 4) & 0xffff, buf.getInt(off + 8))) {
                    return;
                }
                off += align(len);
            }
        }
    }

    // ------------------------------------------------------------------ requests

    /**
     * Sends requests pipelined (as few {@code sendto} calls as fit) and waits for every ack; when some
     * fail, the first failure is thrown after all acks are read, so the socket stays in step.
     *
     * @param requests the requests, processed by the kernel in order
     * @throws DeviceOperationException for the first request that failed
     */
    public void execute(List<Request> requests) {
        execute(requests, true);
    }

    /**
     * Sends requests pipelined as {@link #execute} does, but asks for an ack only of the last request of each
     * {@code sendto}: the kernel answers the others only when they fail, and processes a datagram's messages in
     * order, so the last one's ack means every earlier reply has been read. For long streams of small requests (a
     * host's thousand forwarding entries) this spares the kernel and the receiver one ack message per request.
     *
     * @param requests the requests, processed by the kernel in order
     * @throws DeviceOperationException for the first request that failed (after every reply was read)
     */
    public void executeStream(List<Request> requests) {
        execute(requests, false);
    }

    private void execute(List<Request> requests, boolean ackEach) {
        DeviceOperationException[] first = new DeviceOperationException[1];
        int from = 0;
        while (from < requests.size()) {
            int to = from;
            int bytes = 0;
            while (to < requests.size() && to - from < MAX_BATCH_MESSAGES
                    && (to == from || bytes + requests.get(to).message.size() <= MAX_BATCH_BYTES)) {
                bytes += requests.get(to).message.size();
                to++;
            }
            List<Request> batch = requests.subList(from, to);
            int firstSeq = send(batch.stream().map(Request::message).toList(), ackEach);
            int[] pending = {ackEach ? batch.size() : 1};
            receiveUntil(batch.get(0).operation, batch.get(0).device, (buf, off, len, type, seq) -> {
                int i = seq - firstSeq;
                if (type == Linux.NLMSG_ERROR && i >= 0 && i < batch.size()) {
                    if (ackEach || i == batch.size() - 1) {
                        pending[0]--;
                    }
                    Request r = batch.get(i);
                    try {
                        throwIfError(buf, off, len, r.operation, r.device, r.ignoredErrno);
                    } catch (DeviceOperationException e) {
                        if (first[0] == null) {
                            first[0] = e;
                        }
                    }
                }
                return pending[0] == 0;
            });
            from = to;
        }
        if (first[0] != null) {
            throw first[0];
        }
    }

    /**
     * Returns a request that sets a link's group.
     *
     * @param index the link's ifindex
     * @param name the link's name, for errors
     * @param group the group
     * @return the request ({@code ENODEV} is not ignored)
     */
    public static Request setGroup(int index, String name, int group) {
        return setGroup(index, name, group, 0);
    }

    /**
     * Returns a request that moves a link into a group about to be deleted; a link that is gone already
     * ({@code ENODEV}: another deleter won the race) counts as success.
     *
     * @param index the link's ifindex
     * @param name the link's name, for errors
     * @param group the group that {@link #deleteGroup} will delete
     * @return the request
     */
    public static Request setGroupForDelete(int index, String name, int group) {
        return setGroup(index, name, group, Errno.ENODEV);
    }

    private static Request setGroup(int index, String name, int group, int ignoredErrno) {
        return new Request("RTM_SETLINK group", name, new Message(Linux.RTM_SETLINK, Linux.NLM_F_REQUEST | Linux.NLM_F_ACK)
                .ifinfo(Linux.AF_UNSPEC, index, 0, 0).u32(Linux.IFLA_GROUP, group), ignoredErrno);
    }

    /**
     * Returns a request that deletes every link of a group in one message.
     *
     * @param group the group, never 0 (the default group holds every other link)
     * @return the request
     * @throws IllegalArgumentException for group 0
     */
    public static Request deleteGroup(int group) {
        if (group == 0) {
            throw new IllegalArgumentException("refusing to delete link group 0, which holds every ordinary link");
        }
        return new Request("RTM_DELLINK group", "group " + group, new Message(Linux.RTM_DELLINK,
                Linux.NLM_F_REQUEST | Linux.NLM_F_ACK).ifinfo(Linux.AF_UNSPEC, 0, 0, 0).u32(Linux.IFLA_GROUP, group),
                Errno.ENODEV);
    }

    /**
     * Returns a request that deletes one link.
     *
     * @param index the link's ifindex
     * @param name the link's name, for errors
     * @return the request ({@code ENODEV} counts as success)
     */
    public static Request deleteLink(int index, String name) {
        return new Request("RTM_DELLINK", name, new Message(Linux.RTM_DELLINK, Linux.NLM_F_REQUEST | Linux.NLM_F_ACK)
                .ifinfo(Linux.AF_UNSPEC, index, 0, 0), Errno.ENODEV);
    }

    /**
     * Returns a request that sets how the bridge treats a port: whether it learns source MACs there and
     * whether frames to unknown MACs are flooded to it.
     *
     * @param index the port's ifindex
     * @param name the port's name, for errors
     * @param learning whether the bridge learns source MACs on this port
     * @param unicastFlood whether frames to an unknown unicast MAC are sent to this port
     * @return the request
     */
    public static Request setPortFlags(int index, String name, boolean learning, boolean unicastFlood) {
        return portFlags(index, name, learning, unicastFlood, null);
    }

    /**
     * Returns a request that sets how the bridge treats a port, as {@link #setPortFlags(int, String, boolean,
     * boolean)} does, and whether the port is isolated ({@code IFLA_BRPORT_ISOLATED}: isolated ports of a bridge
     * cannot reach each other, each still reaches the bridge itself and every port that is not isolated) — in the
     * same one message.
     *
     * @param index the port's ifindex
     * @param name the port's name, for errors
     * @param learning whether the bridge learns source MACs on this port
     * @param unicastFlood whether frames to an unknown unicast MAC are sent to this port
     * @param isolated whether the port is isolated
     * @return the request
     */
    public static Request setPortFlags(int index, String name, boolean learning, boolean unicastFlood,
            boolean isolated) {
        return portFlags(index, name, learning, unicastFlood, isolated);
    }

    private static Request portFlags(int index, String name, boolean learning, boolean unicastFlood,
            Boolean isolated) {
        // RTM_NEWLINK on the existing port with bridge slave data, as `ip link set X type bridge_slave`
        // does: cheaper in the kernel than an AF_BRIDGE RTM_SETLINK with IFLA_PROTINFO.
        Message m = new Message(Linux.RTM_NEWLINK, Linux.NLM_F_REQUEST | Linux.NLM_F_ACK)
                .ifinfo(Linux.AF_UNSPEC, index, 0, 0);
        int info = m.beginNested(Linux.IFLA_LINKINFO);
        m.string(Linux.IFLA_INFO_SLAVE_KIND, "bridge");
        int data = m.beginNested(Linux.IFLA_INFO_SLAVE_DATA);
        m.u8(Linux.IFLA_BRPORT_LEARNING, learning ? 1 : 0);
        m.u8(Linux.IFLA_BRPORT_UNICAST_FLOOD, unicastFlood ? 1 : 0);
        if (isolated != null) {
            m.u8(Linux.IFLA_BRPORT_ISOLATED, isolated ? 1 : 0);
        }
        m.endNested(data);
        m.endNested(info);
        return new Request("RTM_NEWLINK bridge_slave learning+flood" + (isolated == null ? "" : "+isolated"), name,
                m, 0);
    }

    /**
     * Returns a request that adds (or replaces) a static forwarding-database entry: frames for {@code mac}
     * go to this port only, as {@code bridge fdb replace MAC dev PORT master static} does.
     *
     * @param index the port's ifindex
     * @param name the port's name, for errors
     * @param mac the MAC behind the port (the guest's)
     * @return the request
     */
    public static Request addStaticFdb(int index, String name, MacAddress mac) {
        Message m = new Message(Linux.RTM_NEWNEIGH, Linux.NLM_F_REQUEST | Linux.NLM_F_ACK | Linux.NLM_F_CREATE
                | Linux.NLM_F_REPLACE).ndmsg(Linux.AF_BRIDGE, index, Linux.NUD_NOARP, Linux.NTF_MASTER)
                .bytes(Linux.NDA_LLADDR, mac.toBytes());
        return new Request("RTM_NEWNEIGH fdb " + mac, name, m, 0);
    }

    /**
     * Returns a request that sets a link's MTU and alias and brings it up, in one message.
     *
     * @param index the link's ifindex
     * @param name the link's name, for errors
     * @param mtu the MTU to set, or 0 to leave it
     * @param alias the alias to set, or null to leave it
     * @return the request
     */
    public static Request bringUp(int index, String name, int mtu, String alias) {
        Message m = new Message(Linux.RTM_SETLINK, Linux.NLM_F_REQUEST | Linux.NLM_F_ACK)
                .ifinfo(Linux.AF_UNSPEC, index, Linux.IFF_UP, Linux.IFF_UP);
        if (mtu > 0) {
            m.u32(Linux.IFLA_MTU, mtu);
        }
        if (alias != null) {
            m.string(Linux.IFLA_IFALIAS, alias);
        }
        return new Request("RTM_SETLINK mtu+alias+up", name, m, 0);
    }

    /**
     * Returns a request that sets a link's alias ({@code IFLA_IFALIAS}), as {@code ip link set X alias A}.
     *
     * @param index the link's ifindex
     * @param name the link's name, for errors
     * @param alias the alias
     * @return the request
     */
    public static Request setAlias(int index, String name, String alias) {
        return new Request("RTM_SETLINK alias", name, new Message(Linux.RTM_SETLINK,
                Linux.NLM_F_REQUEST | Linux.NLM_F_ACK).ifinfo(Linux.AF_UNSPEC, index, 0, 0)
                .string(Linux.IFLA_IFALIAS, alias), 0);
    }

    /**
     * Returns one request that sets a link's MTU, brings it up and makes it a port of a bridge. The kernel
     * applies the flags before the master, so the port comes up before it joins (cheaper, see
     * {@link #setMaster}); and one message means one change notification instead of two.
     *
     * @param index the link's ifindex
     * @param name the link's name, for errors
     * @param mtu the MTU to set, or 0 to leave it
     * @param masterIndex the bridge's ifindex
     * @return the request
     */
    public static Request bringUpOnBridge(int index, String name, int mtu, int masterIndex) {
        Request up = bringUp(index, name, mtu, null);
        return new Request("RTM_SETLINK mtu+up+master", name, up.message().u32(Linux.IFLA_MASTER, masterIndex), 0);
    }

    /**
     * Returns a request that creates a Linux bridge; an existing device of that name is an {@code EEXIST} error.
     *
     * @param name the bridge's name
     * @return the request
     */
    public static Request createBridge(String name) {
        return createBridge(name, null);
    }

    /**
     * Returns a request that creates a Linux bridge with a MAC address of its own (set in the same message, so
     * the bridge never exists without it); an existing device of that name is an {@code EEXIST} error.
     *
     * @param name the bridge's name
     * @param mac the bridge's address, or null for one the kernel picks
     * @return the request
     */
    public static Request createBridge(String name, MacAddress mac) {
        Message m = new Message(Linux.RTM_NEWLINK, Linux.NLM_F_REQUEST | Linux.NLM_F_ACK | Linux.NLM_F_CREATE
                | Linux.NLM_F_EXCL).ifinfo(Linux.AF_UNSPEC, 0, 0, 0).string(Linux.IFLA_IFNAME, name);
        if (mac != null) {
            m.bytes(Linux.IFLA_ADDRESS, mac.toBytes());
        }
        int info = m.beginNested(Linux.IFLA_LINKINFO);
        m.string(Linux.IFLA_INFO_KIND, "bridge");
        m.endNested(info);
        return new Request("RTM_NEWLINK bridge", name, m, 0);
    }

    /**
     * Returns a request that adds an IPv4 address with its prefix and broadcast address to a link; the same
     * address already there counts as success.
     *
     * @param index the link's ifindex
     * @param name the link's name, for errors
     * @param address the four address bytes
     * @param prefix the prefix length
     * @param broadcast the four broadcast address bytes
     * @return the request
     */
    public static Request addIpv4Address(int index, String name, byte[] address, int prefix, byte[] broadcast) {
        Message m = new Message(Linux.RTM_NEWADDR, Linux.NLM_F_REQUEST | Linux.NLM_F_ACK | Linux.NLM_F_CREATE
                | Linux.NLM_F_EXCL).ifaddr(Linux.AF_INET, prefix, index)
                .bytes(Linux.IFA_LOCAL, address).bytes(Linux.IFA_ADDRESS, address)
                .bytes(Linux.IFA_BROADCAST, broadcast);
        return new Request("RTM_NEWADDR", name, m, Errno.EEXIST);
    }

    /**
     * Returns a request that makes a link a port of a bridge ({@code IFLA_MASTER}).
     *
     * <p>Bring a multi-queue TAP up <em>before</em> enslaving it: bringing up a multi-queue port that is
     * already on a bridge costs about 8 ms on these kernels, against about 2 ms the other way round.
     *
     * @param index the link's ifindex
     * @param name the link's name, for errors
     * @param masterIndex the bridge's ifindex
     * @return the request
     */
    public static Request setMaster(int index, String name, int masterIndex) {
        return new Request("RTM_SETLINK master", name, new Message(Linux.RTM_SETLINK,
                Linux.NLM_F_REQUEST | Linux.NLM_F_ACK).ifinfo(Linux.AF_UNSPEC, index, 0, 0)
                .u32(Linux.IFLA_MASTER, masterIndex), 0);
    }

    // ------------------------------------------------------------------ vxlan, neighbours, forwarding entries

    /**
     * Returns a request that creates a VXLAN device, as {@code ip link add NAME type vxlan id VNI local LOCAL
     * dstport PORT [no]learning proxy [no]udpcsum} does, with an MTU; an existing device of that name is an
     * {@code EEXIST} error. It has no default remote and no group: without forwarding entries it sends nothing.
     *
     * @param name the device name
     * @param vni the VXLAN network identifier (1 to 2^24 - 1)
     * @param local the source address of encapsulated packets (this host's underlay address)
     * @param port the UDP destination port
     * @param learning whether the device learns remote MACs from what it receives
     * @param proxy whether it answers ARP requests from its neighbour table
     * @param udpChecksum whether encapsulated IPv4 packets carry a UDP checksum
     * @param mtu the MTU, or 0 for the kernel's choice
     * @return the request
     */
    public static Request createVxlan(String name, int vni, Ipv4Address local, int port, boolean learning,
            boolean proxy, boolean udpChecksum, int mtu) {
        Message m = new Message(Linux.RTM_NEWLINK, Linux.NLM_F_REQUEST | Linux.NLM_F_ACK | Linux.NLM_F_CREATE
                | Linux.NLM_F_EXCL).ifinfo(Linux.AF_UNSPEC, 0, 0, 0).string(Linux.IFLA_IFNAME, name);
        if (mtu > 0) {
            m.u32(Linux.IFLA_MTU, mtu);
        }
        int info = m.beginNested(Linux.IFLA_LINKINFO);
        m.string(Linux.IFLA_INFO_KIND, "vxlan");
        int data = m.beginNested(Linux.IFLA_INFO_DATA);
        m.u32(Linux.IFLA_VXLAN_ID, vni);
        m.bytes(Linux.IFLA_VXLAN_LOCAL, local.toBytes());
        m.be16(Linux.IFLA_VXLAN_PORT, port);
        m.u8(Linux.IFLA_VXLAN_LEARNING, learning ? 1 : 0);
        m.u8(Linux.IFLA_VXLAN_PROXY, proxy ? 1 : 0);
        m.u8(Linux.IFLA_VXLAN_UDP_CSUM, udpChecksum ? 1 : 0);
        m.endNested(data);
        m.endNested(info);
        return new Request("RTM_NEWLINK vxlan id " + vni, name, m, 0);
    }

    /**
     * An entry of the neighbour tables or forwarding databases, as an {@code RTM_GETNEIGH} dump reports it.
     *
     * @param family {@code AF_INET} for an ARP (neighbour) entry, {@code AF_BRIDGE} for a forwarding entry
     * @param index the ifindex of the device it is on (for a bridge's entry: the port)
     * @param state the {@code NUD_*} state
     * @param flags the {@code NTF_*} flags
     * @param mac the link-layer address ({@code NDA_LLADDR}), or null when there is none
     * @param destination {@code NDA_DST}: the neighbour's address, or a vxlan entry's remote VTEP; null when absent
     * @param master {@code NDA_MASTER}: the bridge a forwarding entry belongs to, 0 for a device's own entry
     */
    public record Neighbour(int family, int index, int state, int flags, MacAddress mac, Ipv4Address destination,
            int master) {

        /**
         * Tells whether the entry never expires ({@code NUD_PERMANENT}).
         *
         * @return true for a permanent entry
         */
        public boolean isPermanent() {
            return (state & Linux.NUD_PERMANENT) != 0;
        }

        /**
         * Tells whether the entry is a static bridge entry ({@code NUD_NOARP}, as {@link #addStaticFdb} makes it).
         *
         * @return true for a static entry
         */
        public boolean isStatic() {
            return (state & Linux.NUD_NOARP) != 0;
        }
    }

    /**
     * Dumps the entries of one family on one device: {@code AF_INET} gives its ARP neighbours ({@code ip neigh show
     * dev DEV}), {@code AF_BRIDGE} its forwarding entries — the device's own ({@code NTF_SELF}, {@link
     * Neighbour#master} 0, e.g. a vxlan device's remote VTEPs) and those of the bridge it is a port of ({@link
     * Neighbour#master} the bridge).
     *
     * @param family {@code AF_INET} or {@code AF_BRIDGE}
     * @param index the device's ifindex
     * @return its entries, in kernel order
     * @throws DeviceOperationException on failure
     */
    public List<Neighbour> neighbours(int family, int index) {
        for (int attempt = 1; ; attempt++) {
            Message m = new Message(Linux.RTM_GETNEIGH, Linux.NLM_F_REQUEST | Linux.NLM_F_DUMP)
                    .ndmsg(family, 0, 0, 0);
            int s = send(List.of(m));
            List<Neighbour> entries = new ArrayList<>();
            boolean[] interrupted = {false};
            receiveUntil("RTM_GETNEIGH dump", null, (buf, off, len, type, seq) -> {
                if (seq != s) {
                    return false;
                }
                interrupted[0] |= (buf.getShort(off + 6) & Linux.NLM_F_DUMP_INTR) != 0;
                if (type == Linux.NLMSG_ERROR) {
                    throwIfError(buf, off, len, "RTM_GETNEIGH dump", null, 0);
                } else if (type == Linux.RTM_NEWNEIGH) {
                    int base = off + Linux.NLMSG_HDRLEN;
                    int fam = buf.get(base) & 0xff;
                    int dev = buf.getInt(base + 4);
                    if (fam == family && dev == index) {
                        entries.add(parseNeighbour(buf, off, len));
                    }
                }
                return type == Linux.NLMSG_DONE;
            });
            if (!interrupted[0]) {
                return entries;
            }
            if (attempt == MAX_DUMP_ATTEMPTS) {
                throw DeviceOperationException.of("RTM_GETNEIGH dump", null, DeviceOperationException.Reason.BUSY,
                        "the neighbour entries changed during each of " + MAX_DUMP_ATTEMPTS + " dumps"
                                + " (NLM_F_DUMP_INTR); no consistent view could be taken", null);
            }
        }
    }

    private static Neighbour parseNeighbour(ByteBuffer buf, int off, int len) {
        int base = off + Linux.NLMSG_HDRLEN;
        int family = buf.get(base) & 0xff;
        int index = buf.getInt(base + 4);
        int state = buf.getShort(base + 8) & 0xffff;
        int flags = buf.get(base + 10) & 0xff;
        MacAddress mac = null;
        Ipv4Address dst = null;
        int master = 0;
        for (Attrs a = new Attrs(buf, base + Linux.NDMSG_LEN, off + len); a.next(); ) {
            if (a.type == Linux.NDA_LLADDR && a.length == 6) {
                mac = MacAddress.of(a.bytes());
            } else if (a.type == Linux.NDA_DST && a.length == 4) {
                dst = ipv4(a.bytes());
            } else if (a.type == Linux.NDA_MASTER && a.length == 4) {
                master = a.u32();
            }
        }
        return new Neighbour(family, index, state, flags, mac, dst, master);
    }

    /**
     * Returns a request that points a MAC at a remote VTEP in a vxlan device's own forwarding database, as {@code
     * bridge fdb replace MAC dev DEV dst VTEP self permanent} does: {@code NTF_SELF} (flags 0 on a bridged vxlan
     * port would write the bridge's database instead), {@code NUD_PERMANENT}, and {@code NLM_F_CREATE|NLM_F_REPLACE},
     * so an entry the device learned, or a stale one pointing elsewhere, is overwritten instead of failing the add
     * with {@code EEXIST} (moby#53663).
     *
     * @param index the vxlan device's ifindex
     * @param name its name, for errors
     * @param mac the remote MAC
     * @param vtep the remote host's tunnel endpoint
     * @return the request
     */
    public static Request replaceVxlanFdb(int index, String name, MacAddress mac, Ipv4Address vtep) {
        Message m = new Message(Linux.RTM_NEWNEIGH, Linux.NLM_F_REQUEST | Linux.NLM_F_ACK | Linux.NLM_F_CREATE
                | Linux.NLM_F_REPLACE).ndmsg(Linux.AF_BRIDGE, index, Linux.NUD_PERMANENT, Linux.NTF_SELF)
                .bytes(Linux.NDA_LLADDR, mac.toBytes()).bytes(Linux.NDA_DST, vtep.toBytes());
        return new Request("RTM_NEWNEIGH vxlan fdb " + mac + " dst " + vtep, name, m, 0);
    }

    /**
     * Returns a request that removes a MAC, with every remote it has, from a vxlan device's own forwarding database
     * ({@code bridge fdb del MAC dev DEV self}); a MAC that is not there ({@code ENOENT}) counts as success.
     *
     * @param index the vxlan device's ifindex
     * @param name its name, for errors
     * @param mac the MAC
     * @return the request
     */
    public static Request deleteVxlanFdb(int index, String name, MacAddress mac) {
        Message m = new Message(Linux.RTM_DELNEIGH, Linux.NLM_F_REQUEST | Linux.NLM_F_ACK)
                .ndmsg(Linux.AF_BRIDGE, index, 0, Linux.NTF_SELF).bytes(Linux.NDA_LLADDR, mac.toBytes());
        return new Request("RTM_DELNEIGH vxlan fdb " + mac, name, m, ENOENT);
    }

    /**
     * Returns a request that removes an entry from the forwarding database of the bridge a port belongs to ({@code
     * bridge fdb del MAC dev PORT master}); a MAC that is not there ({@code ENOENT}) counts as success.
     *
     * @param index the port's ifindex
     * @param name its name, for errors
     * @param mac the MAC
     * @return the request
     */
    public static Request deleteBridgeFdb(int index, String name, MacAddress mac) {
        Message m = new Message(Linux.RTM_DELNEIGH, Linux.NLM_F_REQUEST | Linux.NLM_F_ACK)
                .ndmsg(Linux.AF_BRIDGE, index, 0, Linux.NTF_MASTER).bytes(Linux.NDA_LLADDR, mac.toBytes());
        return new Request("RTM_DELNEIGH fdb " + mac, name, m, ENOENT);
    }

    /**
     * Returns a request that sets a permanent ARP neighbour entry on a device, as {@code ip neigh replace IP lladdr
     * MAC dev DEV nud permanent} does ({@code NLM_F_CREATE|NLM_F_REPLACE}: whatever the entry was, it becomes this).
     *
     * @param index the device's ifindex
     * @param name its name, for errors
     * @param ip the neighbour's address
     * @param mac its MAC
     * @return the request
     */
    public static Request replaceNeighbour(int index, String name, Ipv4Address ip, MacAddress mac) {
        Message m = new Message(Linux.RTM_NEWNEIGH, Linux.NLM_F_REQUEST | Linux.NLM_F_ACK | Linux.NLM_F_CREATE
                | Linux.NLM_F_REPLACE).ndmsg(Linux.AF_INET, index, Linux.NUD_PERMANENT, 0)
                .bytes(Linux.NDA_DST, ip.toBytes()).bytes(Linux.NDA_LLADDR, mac.toBytes());
        return new Request("RTM_NEWNEIGH " + ip + " lladdr " + mac, name, m, 0);
    }

    /**
     * Returns a request that removes an ARP neighbour entry from a device ({@code ip neigh del IP dev DEV}); an
     * address that has none ({@code ENOENT}) counts as success.
     *
     * @param index the device's ifindex
     * @param name its name, for errors
     * @param ip the neighbour's address
     * @return the request
     */
    public static Request deleteNeighbour(int index, String name, Ipv4Address ip) {
        Message m = new Message(Linux.RTM_DELNEIGH, Linux.NLM_F_REQUEST | Linux.NLM_F_ACK)
                .ndmsg(Linux.AF_INET, index, 0, 0).bytes(Linux.NDA_DST, ip.toBytes());
        return new Request("RTM_DELNEIGH " + ip, name, m, ENOENT);
    }

    // ------------------------------------------------------------------ wire

    private int send(List<Message> messages) {
        return send(messages, true);
    }

    /** Sends the messages in one datagram; without {@code ackEach}, only the last keeps {@code NLM_F_ACK}. */
    private int send(List<Message> messages, boolean ackEach) {
        int total = 0;
        for (Message m : messages) {
            total += m.size();
        }
        Memory tx = new Memory(total);
        int first = ++seq;
        int off = 0;
        for (int k = 0; k < messages.size(); k++) {
            Message m = messages.get(k);
            byte[] bytes = m.encode(seq++, ackEach || k == messages.size() - 1);
            tx.write(off, bytes, 0, bytes.length);
            off += bytes.length;
        }
        seq--;
        try {
            LibC.sendto(fd.get(), tx, new NativeLong(total), 0, KERNEL, 12);
        } catch (LastErrorException e) {
            broken = true;
            throw Errno.failure("sendto(NETLINK_ROUTE)", null, e);
        } finally {
            Reference.reachabilityFence(fd);
        }
        return first;
    }

    private int receive(String operation, String device) {
        while (true) {
            try {
                int n = LibC.recv(fd.get(), rx, new NativeLong(RX_SIZE), Linux.MSG_TRUNC).intValue();
                if (n > RX_SIZE) { // the rest of the datagram is lost: the socket is out of step
                    broken = true;
                    throw DeviceOperationException.of("recv(" + operation + ")", device,
                            DeviceOperationException.Reason.OTHER, "a netlink reply of " + n + " bytes did not fit the "
                                    + RX_SIZE + "-byte buffer (MSG_TRUNC)", null);
                }
                return n;
            } catch (LastErrorException e) {
                if (e.getErrorCode() != Errno.EINTR) {
                    broken = true; // replies may be lost: the socket is out of step
                    throw Errno.failure("recv(" + operation + ")", device, e);
                }
            } finally {
                Reference.reachabilityFence(fd); // the Cleaner must not close it while the kernel uses it
            }
        }
    }

    private static void throwIfError(ByteBuffer buf, int off, int len, String operation, String device, int ignored) {
        int error = -buf.getInt(off + Linux.NLMSG_HDRLEN);
        if (error == 0 || error == ignored) {
            return;
        }
        String detail = null;
        if ((buf.getShort(off + 6) & Linux.NLM_F_ACK_TLVS) != 0) {
            // error (4 bytes) and the request's header (capped ack), then attributes
            for (Attrs a = new Attrs(buf, off + Linux.NLMSG_HDRLEN + 4 + Linux.NLMSG_HDRLEN, off + len); a.next(); ) {
                if (a.type == Linux.NLMSGERR_ATTR_MSG) {
                    detail = a.string();
                }
            }
        }
        throw Errno.failure(operation, device, error, detail);
    }

    private static Link parseLink(ByteBuffer buf, int off, int len) {
        int base = off + Linux.NLMSG_HDRLEN;
        int index = buf.getInt(base + 4);
        int flags = buf.getInt(base + 8);
        String name = "";
        String kind = "";
        String alias = "";
        int master = 0;
        int group = 0;
        int mtu = 0;
        int txqlen = 0;
        MacAddress mac = null;
        Optional<Link.TunInfo> tun = Optional.empty();
        Optional<Link.VxlanInfo> vxlan = Optional.empty();
        for (Attrs a = new Attrs(buf, base + Linux.IFINFOMSG_LEN, off + len); a.next(); ) {
            switch (a.type) {
                case Linux.IFLA_IFNAME -> name = a.string();
                case Linux.IFLA_IFALIAS -> alias = a.string();
                case Linux.IFLA_MASTER -> master = a.u32();
                case Linux.IFLA_GROUP -> group = a.u32();
                case Linux.IFLA_MTU -> mtu = a.u32();
                case Linux.IFLA_TXQLEN -> txqlen = a.u32();
                case Linux.IFLA_ADDRESS -> mac = a.length == 6 ? MacAddress.of(a.bytes()) : null;
                case Linux.IFLA_LINKINFO -> {
                    Attrs data = null;
                    for (Attrs info = a.nested(); info.next(); ) {
                        if (info.type == Linux.IFLA_INFO_KIND) {
                            kind = info.string();
                        } else if (info.type == Linux.IFLA_INFO_DATA) {
                            data = info.nested();
                        }
                    }
                    if ("tun".equals(kind) && data != null) {
                        tun = Optional.of(parseTun(data));
                    } else if ("vxlan".equals(kind) && data != null) {
                        vxlan = Optional.of(parseVxlan(data));
                    }
                }
                default -> {
                }
            }
        }
        return new Link(index, name, kind, master, group, mtu, flags, txqlen, alias, mac, tun, vxlan);
    }

    private static Link.VxlanInfo parseVxlan(Attrs a) {
        int vni = 0;
        Ipv4Address local = null;
        int port = 0;
        boolean learning = false;
        boolean proxy = false;
        boolean csum = false;
        while (a.next()) {
            switch (a.type) {
                case Linux.IFLA_VXLAN_ID -> vni = a.u32();
                case Linux.IFLA_VXLAN_LOCAL -> local = a.length == 4 ? ipv4(a.bytes()) : null;
                case Linux.IFLA_VXLAN_PORT -> port = a.be16();
                case Linux.IFLA_VXLAN_LEARNING -> learning = a.u8() != 0;
                case Linux.IFLA_VXLAN_PROXY -> proxy = a.u8() != 0;
                case Linux.IFLA_VXLAN_UDP_CSUM -> csum = a.u8() != 0;
                default -> {
                }
            }
        }
        return new Link.VxlanInfo(vni, local, port, learning, proxy, csum);
    }

    private static Ipv4Address ipv4(byte[] b) {
        return Ipv4Address.of(b[0] & 0xff, b[1] & 0xff, b[2] & 0xff, b[3] & 0xff);
    }

    private static Link.TunInfo parseTun(Attrs a) {
        int owner = -1;
        int group = -1;
        int tunType = 0;
        boolean pi = false;
        boolean vnet = false;
        boolean persist = false;
        boolean mq = false;
        int queues = 0;
        while (a.next()) {
            switch (a.type) {
                case Linux.IFLA_TUN_OWNER -> owner = a.u32();
                case Linux.IFLA_TUN_GROUP -> group = a.u32();
                case Linux.IFLA_TUN_TYPE -> tunType = a.u8();
                case Linux.IFLA_TUN_PI -> pi = a.u8() != 0;
                case Linux.IFLA_TUN_VNET_HDR -> vnet = a.u8() != 0;
                case Linux.IFLA_TUN_PERSIST -> persist = a.u8() != 0;
                case Linux.IFLA_TUN_MULTI_QUEUE -> mq = a.u8() != 0;
                case Linux.IFLA_TUN_NUM_QUEUES -> queues = a.u32();
                default -> {
                }
            }
        }
        return new Link.TunInfo(owner, group, tunType == Linux.IFF_TAP, pi, vnet, persist, mq, queues);
    }

    /** A cursor over the netlink attributes between two offsets: {@code next()}, then read the current one. */
    private static final class Attrs {
        private final ByteBuffer buf;
        private final int end;
        private int next;
        int type;
        int payload;
        int length;

        Attrs(ByteBuffer buf, int from, int end) {
            this.buf = buf;
            this.next = from;
            this.end = end;
        }

        /** Moves to the next attribute; false at the end or at a malformed one. */
        boolean next() {
            if (next + 4 > end) {
                return false;
            }
            int alen = buf.getShort(next) & 0xffff;
            if (alen < 4 || next + alen > end) {
                return false;
            }
            type = buf.getShort(next + 2) & 0x3fff; // without NLA_F_NESTED / NLA_F_NET_BYTEORDER
            payload = next + 4;
            length = alen - 4;
            next += align(alen);
            return true;
        }

        int u8() {
            return buf.get(payload) & 0xff;
        }

        int u32() {
            return buf.getInt(payload);
        }

        int be16() {
            return ((buf.get(payload) & 0xff) << 8) | (buf.get(payload + 1) & 0xff);
        }

        byte[] bytes() {
            byte[] bytes = new byte[length];
            buf.get(payload, bytes);
            return bytes;
        }

        String string() {
            return cString(buf, payload, length);
        }

        Attrs nested() {
            return new Attrs(buf, payload, payload + length);
        }
    }

    private static String cString(ByteBuffer buf, int p, int max) {
        int n = 0;
        while (n < max && buf.get(p + n) != 0) {
            n++;
        }
        byte[] bytes = new byte[n];
        buf.get(p, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    static int align(int len) {
        return (len + 3) & ~3;
    }

    Fd socket() {
        return fd;
    }

    /**
     * Tells whether the socket is open and in step (no send or receive has failed on it).
     *
     * @return true when it can be used for further requests
     */
    public boolean isUsable() {
        return fd.isOpen() && !broken;
    }

    /** Closes the socket. Idempotent. */
    @Override
    public void close() {
        if (fd.closeOnce()) {
            if (SPARE_RX.size() < MAX_SPARE_RX) {
                SPARE_RX.offer(rx);
            }
        }
    }

    /** A netlink message being built: header, {@code ifinfomsg}, attributes. */
    public static final class Message {
        private final int type;
        private final int flags;
        private ByteBuffer buf = ByteBuffer.allocate(128).order(ByteOrder.nativeOrder());

        /**
         * Starts a message.
         *
         * @param type the message type, e.g. {@code RTM_SETLINK}
         * @param flags the {@code NLM_F_*} flags
         */
        public Message(int type, int flags) {
            this.type = type;
            this.flags = flags;
            buf.position(Linux.NLMSG_HDRLEN);
        }

        Message ifinfo(int family, int index, int ifFlags, int change) {
            ensure(Linux.IFINFOMSG_LEN);
            buf.put((byte) family).put((byte) 0).putShort((short) 0).putInt(index).putInt(ifFlags).putInt(change);
            return this;
        }

        Message ifaddr(int family, int prefix, int index) {
            ensure(Linux.IFADDRMSG_LEN);
            buf.put((byte) family).put((byte) prefix).put((byte) 0).put((byte) Linux.RT_SCOPE_UNIVERSE).putInt(index);
            return this;
        }

        Message ndmsg(int family, int index, int state, int ndFlags) {
            ensure(Linux.NDMSG_LEN);
            buf.put((byte) family).put((byte) 0).putShort((short) 0).putInt(index).putShort((short) state)
                    .put((byte) ndFlags).put((byte) 0);
            return this;
        }

        Message bytes(int attr, byte[] value) {
            int len = 4 + value.length;
            ensure(align(len));
            buf.putShort((short) len).putShort((short) attr).put(value);
            for (int i = len; i < align(len); i++) {
                buf.put((byte) 0);
            }
            return this;
        }

        Message u32(int attr, int value) {
            ensure(8);
            buf.putShort((short) 8).putShort((short) attr).putInt(value);
            return this;
        }

        Message be16(int attr, int value) {
            ensure(8);
            buf.putShort((short) 6).putShort((short) attr).put((byte) (value >>> 8)).put((byte) value)
                    .putShort((short) 0);
            return this;
        }

        Message u8(int attr, int value) {
            ensure(8);
            buf.putShort((short) 5).putShort((short) attr).put((byte) value).put((byte) 0).putShort((short) 0);
            return this;
        }

        Message string(int attr, String value) {
            byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
            int len = 4 + bytes.length + 1;
            ensure(align(len));
            buf.putShort((short) len).putShort((short) attr).put(bytes).put((byte) 0);
            for (int i = len; i < align(len); i++) {
                buf.put((byte) 0);
            }
            return this;
        }

        int beginNested(int attr) {
            ensure(4);
            int at = buf.position();
            buf.putShort((short) 0).putShort((short) (attr | Linux.NLA_F_NESTED));
            return at;
        }

        void endNested(int at) {
            buf.putShort(at, (short) (buf.position() - at));
        }

        int size() {
            return buf.position();
        }

        byte[] encode(int sequence, boolean ack) {
            buf.putInt(0, buf.position()).putShort(4, (short) type)
                    .putShort(6, (short) (ack ? flags : flags & ~Linux.NLM_F_ACK)).putInt(8, sequence).putInt(12, 0);
            byte[] out = new byte[buf.position()];
            buf.get(0, out);
            return out;
        }

        private void ensure(int more) {
            if (buf.remaining() < more) {
                ByteBuffer bigger = ByteBuffer.allocate(Math.max(buf.capacity() * 2, buf.position() + more))
                        .order(ByteOrder.nativeOrder());
                buf.flip();
                bigger.put(buf);
                buf = bigger;
            }
        }
    }
}
