package dev.tapwire.network.bridge.linux.raw;

/**
 * Linux constants and struct layouts (x86_64 and aarch64 alike), as verified in DESIGN.md.
 */
public final class Linux {

    private Linux() {
    }

    // open(2)
    /** {@code O_RDWR}. */
    public static final int O_RDWR = 2;
    /** {@code O_CLOEXEC}. */
    public static final int O_CLOEXEC = 0x80000;

    // socket(2)
    /** {@code AF_UNSPEC}. */
    public static final int AF_UNSPEC = 0;
    /** {@code AF_INET}. */
    public static final int AF_INET = 2;
    /** {@code AF_NETLINK}. */
    public static final int AF_NETLINK = 16;
    /** {@code SOCK_DGRAM}. */
    public static final int SOCK_DGRAM = 2;
    /** {@code SOCK_RAW}. */
    public static final int SOCK_RAW = 3;
    /** {@code SOCK_CLOEXEC}. */
    public static final int SOCK_CLOEXEC = 0x80000;
    /** {@code NETLINK_ROUTE}. */
    public static final int NETLINK_ROUTE = 0;
    /** {@code SOL_SOCKET}. */
    public static final int SOL_SOCKET = 1;
    /** {@code SO_RCVBUF}. */
    public static final int SO_RCVBUF = 8;
    /** {@code SOL_NETLINK}. */
    public static final int SOL_NETLINK = 270;
    /** {@code NETLINK_CAP_ACK}: acks carry only the request's header. */
    public static final int NETLINK_CAP_ACK = 10;
    /** {@code NETLINK_EXT_ACK}: acks may carry an error message. */
    public static final int NETLINK_EXT_ACK = 11;
    /** {@code CLONE_NEWNET}. */
    public static final int CLONE_NEWNET = 0x40000000;

    // tun ioctls and flags
    /** {@code TUNSETIFF}: ifreq. */
    public static final long TUNSETIFF = 0x400454caL;
    /** {@code TUNSETPERSIST}: value. */
    public static final long TUNSETPERSIST = 0x400454cbL;
    /** {@code TUNSETOWNER}: uid value. */
    public static final long TUNSETOWNER = 0x400454ccL;
    /** {@code TUNSETGROUP}: gid value. */
    public static final long TUNSETGROUP = 0x400454ceL;
    /** {@code IFF_TAP}. */
    public static final short IFF_TAP = 0x2;
    /** {@code IFF_MULTI_QUEUE}. */
    public static final short IFF_MULTI_QUEUE = 0x100;
    /** {@code IFF_NO_PI}. */
    public static final short IFF_NO_PI = 0x1000;
    /** {@code IFF_VNET_HDR}. */
    public static final short IFF_VNET_HDR = 0x4000;
    /** {@code IFF_TUN_EXCL}. */
    public static final short IFF_TUN_EXCL = (short) 0x8000;

    // socket ioctls, struct ifreq: name[16] then a union at 16; 40 bytes
    /** {@code sizeof(struct ifreq)}. */
    public static final int IFREQ_SIZE = 40;
    /** Offset of the union in {@code struct ifreq}. */
    public static final int IFREQ_UNION = 16;
    /** {@code SIOCGIFFLAGS}. */
    public static final long SIOCGIFFLAGS = 0x8913;
    /** {@code SIOCSIFFLAGS}. */
    public static final long SIOCSIFFLAGS = 0x8914;
    /** {@code SIOCSIFADDR}. */
    public static final long SIOCSIFADDR = 0x8916;
    /** {@code SIOCSIFNETMASK}. */
    public static final long SIOCSIFNETMASK = 0x891c;
    /** {@code SIOCGIFMTU}. */
    public static final long SIOCGIFMTU = 0x8921;
    /** {@code SIOCSIFMTU}. */
    public static final long SIOCSIFMTU = 0x8922;
    /** {@code SIOCSIFHWADDR}. */
    public static final long SIOCSIFHWADDR = 0x8924;
    /** {@code SIOCGIFHWADDR}. */
    public static final long SIOCGIFHWADDR = 0x8927;
    /** {@code SIOCGIFINDEX}. */
    public static final long SIOCGIFINDEX = 0x8933;
    /** {@code SIOCGIFTXQLEN}. */
    public static final long SIOCGIFTXQLEN = 0x8942;
    /** {@code SIOCSIFTXQLEN}. */
    public static final long SIOCSIFTXQLEN = 0x8943;
    /** {@code SIOCETHTOOL}. */
    public static final long SIOCETHTOOL = 0x8946;
    /** {@code SIOCBRADDBR}: plain char* name. */
    public static final long SIOCBRADDBR = 0x89a0;
    /** {@code SIOCBRDELBR}: plain char* name. */
    public static final long SIOCBRDELBR = 0x89a1;
    /** {@code SIOCBRADDIF}: ifreq with the port's ifindex at 16. */
    public static final long SIOCBRADDIF = 0x89a2;
    /** {@code SIOCBRDELIF}: ifreq with the port's ifindex at 16. */
    public static final long SIOCBRDELIF = 0x89a3;
    /** {@code ETHTOOL_GDRVINFO}. */
    public static final int ETHTOOL_GDRVINFO = 3;
    /** {@code sizeof(struct ethtool_drvinfo)}. */
    public static final int ETHTOOL_DRVINFO_SIZE = 196;
    /** {@code IFF_UP}. */
    public static final int IFF_UP = 0x1;
    /** {@code ARPHRD_ETHER}. */
    public static final short ARPHRD_ETHER = 1;

    // netlink
    /** {@code sizeof(struct nlmsghdr)}. */
    public static final int NLMSG_HDRLEN = 16;
    /** {@code sizeof(struct ifinfomsg)}. */
    public static final int IFINFOMSG_LEN = 16;
    /** {@code NLMSG_ERROR}. */
    public static final int NLMSG_ERROR = 2;
    /** {@code NLMSG_DONE}. */
    public static final int NLMSG_DONE = 3;
    /** {@code RTM_NEWLINK}. */
    public static final int RTM_NEWLINK = 16;
    /** {@code RTM_DELLINK}. */
    public static final int RTM_DELLINK = 17;
    /** {@code RTM_GETLINK}. */
    public static final int RTM_GETLINK = 18;
    /** {@code RTM_SETLINK}. */
    public static final int RTM_SETLINK = 19;
    /** {@code NLM_F_REQUEST}. */
    public static final int NLM_F_REQUEST = 1;
    /** {@code NLM_F_ACK}. */
    public static final int NLM_F_ACK = 4;
    /** {@code NLM_F_DUMP}. */
    public static final int NLM_F_DUMP = 0x300;
    /** {@code NLM_F_ACK_TLVS}: the error message carries attributes. */
    public static final int NLM_F_ACK_TLVS = 0x200;
    /** {@code NLMSGERR_ATTR_MSG}. */
    public static final int NLMSGERR_ATTR_MSG = 1;
    /** {@code NLA_F_NESTED}. */
    public static final int NLA_F_NESTED = 0x8000;
    /** {@code IFLA_ADDRESS}. */
    public static final int IFLA_ADDRESS = 1;
    /** {@code IFLA_IFNAME}. */
    public static final int IFLA_IFNAME = 3;
    /** {@code IFLA_MTU}. */
    public static final int IFLA_MTU = 4;
    /** {@code IFLA_MASTER}. */
    public static final int IFLA_MASTER = 10;
    /** {@code IFLA_TXQLEN}. */
    public static final int IFLA_TXQLEN = 13;
    /** {@code IFLA_LINKINFO}. */
    public static final int IFLA_LINKINFO = 18;
    /** {@code IFLA_IFALIAS}. */
    public static final int IFLA_IFALIAS = 20;
    /** {@code IFLA_GROUP}. */
    public static final int IFLA_GROUP = 27;
    /** {@code IFLA_INFO_KIND}. */
    public static final int IFLA_INFO_KIND = 1;
    /** {@code IFLA_INFO_DATA}. */
    public static final int IFLA_INFO_DATA = 2;
    /** {@code IFLA_INFO_SLAVE_KIND}. */
    public static final int IFLA_INFO_SLAVE_KIND = 4;
    /** {@code IFLA_INFO_SLAVE_DATA}. */
    public static final int IFLA_INFO_SLAVE_DATA = 5;
    /** {@code IFLA_BRPORT_LEARNING}. */
    public static final int IFLA_BRPORT_LEARNING = 8;
    /** {@code IFLA_BRPORT_UNICAST_FLOOD}: whether frames to unknown MACs are flooded to this port. */
    public static final int IFLA_BRPORT_UNICAST_FLOOD = 9;
    /** {@code IFLA_BRPORT_ISOLATED} (u8): an isolated port exchanges frames only with ports that are not isolated. */
    public static final int IFLA_BRPORT_ISOLATED = 0x21;
    /** {@code IFLA_PROTINFO}: with {@code AF_BRIDGE}, the nest of {@code IFLA_BRPORT_*} flags. */
    public static final int IFLA_PROTINFO = 12;
    /** {@code RTM_NEWNEIGH}: add a neighbour or, with {@code AF_BRIDGE}, a forwarding-database entry. */
    public static final int RTM_NEWNEIGH = 28;
    /** {@code NLM_F_REPLACE}. */
    public static final int NLM_F_REPLACE = 0x100;
    /** {@code NLM_F_CREATE}. */
    public static final int NLM_F_CREATE = 0x400;
    /** {@code NLM_F_DUMP_INTR}: the dump changed while it was taken; take it again. */
    public static final int NLM_F_DUMP_INTR = 0x10;
    /** {@code AF_BRIDGE}. */
    public static final int AF_BRIDGE = 7;
    /** {@code sizeof(struct ndmsg)}. */
    public static final int NDMSG_LEN = 12;
    /** {@code NUD_NOARP}: with {@code AF_BRIDGE}, a static FDB entry ({@code bridge fdb add … static}). */
    public static final int NUD_NOARP = 0x40;
    /** {@code NTF_MASTER}: the entry goes to the bridge the port belongs to. */
    public static final int NTF_MASTER = 0x04;
    /** {@code NDA_LLADDR}. */
    public static final int NDA_LLADDR = 2;
    /** {@code NDA_MASTER}: with {@code AF_BRIDGE}, the bridge an FDB entry belongs to. */
    public static final int NDA_MASTER = 9;
    /** {@code RTM_GETNEIGH}: with {@code AF_BRIDGE} and {@code NLM_F_DUMP}, dumps the forwarding databases. */
    public static final int RTM_GETNEIGH = 30;
    /** {@code MSG_TRUNC}: {@code recv} returns the datagram's real length even when it did not fit. */
    public static final int MSG_TRUNC = 0x20;
    /** {@code IFLA_TUN_OWNER}. */
    public static final int IFLA_TUN_OWNER = 1;
    /** {@code IFLA_TUN_GROUP}. */
    public static final int IFLA_TUN_GROUP = 2;
    /** {@code IFLA_TUN_TYPE}. */
    public static final int IFLA_TUN_TYPE = 3;
    /** {@code IFLA_TUN_PI}. */
    public static final int IFLA_TUN_PI = 4;
    /** {@code IFLA_TUN_VNET_HDR}. */
    public static final int IFLA_TUN_VNET_HDR = 5;
    /** {@code IFLA_TUN_PERSIST}. */
    public static final int IFLA_TUN_PERSIST = 6;
    /** {@code IFLA_TUN_MULTI_QUEUE}. */
    public static final int IFLA_TUN_MULTI_QUEUE = 7;
    /** {@code IFLA_TUN_NUM_QUEUES}. */
    public static final int IFLA_TUN_NUM_QUEUES = 8;

    // vxlan (IFLA_INFO_DATA of kind "vxlan"), neighbours and forwarding entries
    /** {@code IFLA_VXLAN_ID} (u32): the VNI. */
    public static final int IFLA_VXLAN_ID = 1;
    /** {@code IFLA_VXLAN_LOCAL} (in_addr): the source address of encapsulated packets. */
    public static final int IFLA_VXLAN_LOCAL = 4;
    /** {@code IFLA_VXLAN_LEARNING} (u8): whether the device learns remote MACs from received packets. */
    public static final int IFLA_VXLAN_LEARNING = 7;
    /** {@code IFLA_VXLAN_PROXY} (u8): whether ARP requests are answered from the device's neighbour table. */
    public static final int IFLA_VXLAN_PROXY = 11;
    /** {@code IFLA_VXLAN_PORT} (be16): the UDP destination port. */
    public static final int IFLA_VXLAN_PORT = 15;
    /** {@code IFLA_VXLAN_UDP_CSUM} (u8): whether encapsulated IPv4 packets carry a UDP checksum. */
    public static final int IFLA_VXLAN_UDP_CSUM = 18;
    /** {@code RTM_DELNEIGH}: delete a neighbour or, with {@code AF_BRIDGE}, a forwarding-database entry. */
    public static final int RTM_DELNEIGH = 29;
    /** {@code NUD_PERMANENT}: a neighbour or vxlan forwarding entry that never expires. */
    public static final int NUD_PERMANENT = 0x80;
    /** {@code NTF_SELF}: the entry is the device's own (the vxlan device's FDB), not its bridge's. */
    public static final int NTF_SELF = 0x02;
    /** {@code NDA_DST}: a neighbour's address or, on a vxlan FDB entry, the remote VTEP. */
    public static final int NDA_DST = 1;

    // poll(2)
    /** {@code POLLIN}. */
    public static final short POLLIN = 1;

    /** Netlink flag: fail if the object exists. */
    public static final int NLM_F_EXCL = 0x200;
    /** rtnetlink message: add an address. */
    public static final int RTM_NEWADDR = 20;
    /** rtnetlink message: get (dump) addresses. */
    public static final int RTM_GETADDR = 22;
    /** Size of {@code struct ifaddrmsg}. */
    public static final int IFADDRMSG_LEN = 8;
    /** Address attribute: the peer (for broadcast interfaces the local address too). */
    public static final int IFA_ADDRESS = 1;
    /** Address attribute: the local address. */
    public static final int IFA_LOCAL = 2;
    /** Address attribute: the broadcast address. */
    public static final int IFA_BROADCAST = 4;
    /** Address scope: global. */
    public static final int RT_SCOPE_UNIVERSE = 0;
}
