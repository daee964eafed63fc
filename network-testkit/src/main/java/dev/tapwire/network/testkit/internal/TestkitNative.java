package dev.tapwire.network.testkit.internal;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;

/**
 * Raw libc bindings the testkit needs to move a thread into a private network namespace and to make a
 * bridge there. Direct-mapped; every function reports failure through {@link LastErrorException}.
 */
public final class TestkitNative {

    /** {@code CLONE_NEWNET}: a new network namespace. */
    public static final int CLONE_NEWNET = 0x40000000;
    /** {@code O_RDONLY}. */
    public static final int O_RDONLY = 0;
    /** {@code O_CLOEXEC}. */
    public static final int O_CLOEXEC = 0x80000;
    /** {@code AF_INET}. */
    public static final int AF_INET = 2;
    /** {@code SOCK_DGRAM}. */
    public static final int SOCK_DGRAM = 2;
    /** {@code SOCK_CLOEXEC}. */
    public static final int SOCK_CLOEXEC = 0x80000;
    /** {@code SIOCGIFFLAGS}. */
    public static final long SIOCGIFFLAGS = 0x8913;
    /** {@code SIOCSIFFLAGS}. */
    public static final long SIOCSIFFLAGS = 0x8914;
    /** {@code SIOCBRADDBR}. */
    public static final long SIOCBRADDBR = 0x89a0;
    /** {@code IFF_UP}. */
    public static final short IFF_UP = 1;
    /** {@code _LINUX_CAPABILITY_VERSION_3}. */
    public static final int LINUX_CAPABILITY_VERSION_3 = 0x20080522;
    /** {@code CAP_NET_ADMIN}. */
    public static final int CAP_NET_ADMIN = 12;

    static {
        Native.register(NativeLibrary.getInstance("c"));
    }

    private TestkitNative() {
    }

    /** {@code int unshare(int flags);} */
    public static native int unshare(int flags) throws LastErrorException;

    /** {@code int setns(int fd, int nstype);} */
    public static native int setns(int fd, int nstype) throws LastErrorException;

    /** {@code int open(const char *pathname, int flags);} */
    public static native int open(String path, int flags) throws LastErrorException;

    /** {@code int close(int fd);} */
    public static native int close(int fd) throws LastErrorException;

    /** {@code int socket(int domain, int type, int protocol);} */
    public static native int socket(int domain, int type, int protocol) throws LastErrorException;

    /** {@code int ioctl(int fd, unsigned long request, void *arg);} */
    public static native int ioctl(int fd, NativeLong request, Pointer arg) throws LastErrorException;

    /** {@code int capget(cap_user_header_t hdrp, cap_user_data_t datap);} */
    public static native int capget(Pointer header, Pointer data) throws LastErrorException;

    /** {@code int capset(cap_user_header_t hdrp, const cap_user_data_t datap);} */
    public static native int capset(Pointer header, Pointer data) throws LastErrorException;

    /** {@code struct if_nameindex *if_nameindex(void);} */
    public static native Pointer if_nameindex() throws LastErrorException;

    /** {@code void if_freenameindex(struct if_nameindex *ptr);} */
    public static native void if_freenameindex(Pointer ptr);

    /** Raw system calls whose glibc wrappers would change every thread of the process. */
    public interface Syscalls extends com.sun.jna.Library {
        /** The C library's {@code syscall(2)}. */
        Syscalls INSTANCE = com.sun.jna.Native.load("c", Syscalls.class);

        /**
         * {@code long syscall(long number, ...);}
         *
         * @param number the system call number
         * @param args its arguments
         * @return its result
         * @throws LastErrorException on failure
         */
        long syscall(long number, Object... args) throws LastErrorException;
    }

    /** {@code SYS_setgroups} for this architecture. */
    public static final long SYS_SETGROUPS = com.sun.jna.Platform.isARM() ? 159 : 116;
    /** {@code SYS_setresuid} for this architecture. */
    public static final long SYS_SETRESUID = com.sun.jna.Platform.isARM() ? 147 : 117;
    /** {@code SYS_prctl} for this architecture. */
    public static final long SYS_PRCTL = com.sun.jna.Platform.isARM() ? 167 : 157;
    /** {@code PR_SET_KEEPCAPS}: keep permitted capabilities across a change of user ID. */
    public static final long PR_SET_KEEPCAPS = 8;
    /** {@code CAP_DAC_OVERRIDE}. */
    public static final int CAP_DAC_OVERRIDE = 1;
    /** {@code SYS_setresgid} for this architecture. */
    public static final long SYS_SETRESGID = com.sun.jna.Platform.isARM() ? 149 : 119;

    /** {@code char *strerror(int errnum);} */
    public static native String strerror(int errnum);
}
