/**
 * Numbers from the kernel's uapi headers (linux/netlink.h, rtnetlink.h, if_link.h, if_addr.h).
 *
 * Only what this package sends or reads; the names match the C ones so they can be looked up.
 */

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;

export const NETLINK_ROUTE = 0;
export const SOL_NETLINK = 270;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;

export const NLMSG_HDRLEN = 16;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
/** Set on an NLMSG_ERROR when extended-ACK attributes follow the echoed header. */
export const NLM_F_ACK_TLVS = 0x200;
/** Set on an NLMSG_ERROR when only the request's header, not its body, was echoed. */
export const NLM_F_CAPPED = 0x100;
export const NLMSGERR_ATTR_MSG = 1;

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;

/** sizeof(struct ifinfomsg), sizeof(struct ifaddrmsg), sizeof(struct rtmsg). */
export const IFINFOMSG_LEN = 16;
export const IFADDRMSG_LEN = 8;
export const RTMSG_LEN = 12;

export const IFF_UP = 0x1;
/** Receive every frame on the wire (netdevice(7)); the kernel counts requests (`promiscuity`). */
export const IFF_PROMISC = 0x100;

export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_LINK = 5;
export const IFLA_MASTER = 10;
export const IFLA_OPERSTATE = 16;
export const IFLA_LINKINFO = 18;
export const IFLA_NET_NS_FD = 28;
export const IFLA_EXT_MASK = 29;
export const IFLA_LINK_NETNSID = 37;
/** IFLA_EXT_MASK value that keeps VF statistics out of link answers (they are large and unused here). */
export const RTEXT_FILTER_SKIP_STATS = 1 << 3;

export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const VETH_INFO_PEER = 1;
export const IFLA_MACVLAN_MODE = 1;

export const IFLA_VXLAN_ID = 1;
export const IFLA_VXLAN_GROUP = 2;
export const IFLA_VXLAN_LINK = 3;
export const IFLA_VXLAN_LOCAL = 4;
export const IFLA_VXLAN_LEARNING = 7;
export const IFLA_VXLAN_PORT = 15;
export const IFLA_VXLAN_GROUP6 = 16;
export const IFLA_VXLAN_LOCAL6 = 17;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_FLAGS = 8;
export const IFA_F_NODAD = 0x02;

export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PRIORITY = 6;
export const RTA_PREFSRC = 7;
export const RTA_TABLE = 15;

export const RT_TABLE_MAIN = 254;
export const RTPROT_BOOT = 3;
export const RTN_UNICAST = 1;
export const RTM_F_CLONED = 0x200;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_NOWHERE = 255;

export const CLONE_NEWNET = 0x40000000;
/** _IO(0xb7, 0x3) from linux/nsfs.h: which kind of namespace an nsfs fd refers to. */
export const NS_GET_NSTYPE = 0xb703;
