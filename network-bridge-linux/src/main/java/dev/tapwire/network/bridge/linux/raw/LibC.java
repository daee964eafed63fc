package dev.tapwire.network.bridge.linux.raw;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;

/**
 * Raw libc functions, direct-mapped through JNA. Each declaration carries its C signature; each that can
 * fail throws {@link LastErrorException} with errno captured right after the call. No marshalling or
 * policy lives here: the safe layer in {@code dev.tapwire.network.bridge.linux} does that.
 */
public final class LibC {

    static {
        Native.register(NativeLibrary.getInstance("c"));
    }

    private LibC() {
    }

    /** {@code int open(const char *pathname, int flags);} */
    public static native int open(String pathname, int flags) throws LastErrorException;

    /** {@code int close(int fd);} */
    public static native int close(int fd) throws LastErrorException;

    /** {@code int ioctl(int fd, unsigned long request, void *argp);} */
    public static native int ioctl(int fd, NativeLong request, Pointer argp) throws LastErrorException;

    /** {@code int ioctl(int fd, unsigned long request, unsigned long value);} — for value-taking requests. */
    public static native int ioctl(int fd, NativeLong request, NativeLong value) throws LastErrorException;

    /** {@code int socket(int domain, int type, int protocol);} */
    public static native int socket(int domain, int type, int protocol) throws LastErrorException;

    /** {@code int setsockopt(int sockfd, int level, int optname, const void *optval, socklen_t optlen);} */
    public static native int setsockopt(int sockfd, int level, int optname, Pointer optval, int optlen)
            throws LastErrorException;

    /** {@code ssize_t sendto(int sockfd, const void *buf, size_t len, int flags, const struct sockaddr *dest_addr, socklen_t addrlen);} */
    public static native NativeLong sendto(int sockfd, Pointer buf, NativeLong len, int flags, Pointer destAddr,
            int addrlen) throws LastErrorException;

    /** {@code ssize_t recv(int sockfd, void *buf, size_t len, int flags);} */
    public static native NativeLong recv(int sockfd, Pointer buf, NativeLong len, int flags) throws LastErrorException;

    /** {@code ssize_t read(int fd, void *buf, size_t count);} */
    public static native NativeLong read(int fd, Pointer buf, NativeLong count) throws LastErrorException;

    /** {@code ssize_t write(int fd, const void *buf, size_t count);} */
    public static native NativeLong write(int fd, Pointer buf, NativeLong count) throws LastErrorException;

    /** {@code int poll(struct pollfd *fds, nfds_t nfds, int timeout);} */
    public static native int poll(Pointer fds, NativeLong nfds, int timeout) throws LastErrorException;

    /** {@code int kill(pid_t pid, int sig);} */
    public static native int kill(int pid, int sig) throws LastErrorException;

    /** {@code pid_t gettid(void);} */
    public static native int gettid();

    /** {@code int setns(int fd, int nstype);} */
    public static native int setns(int fd, int nstype) throws LastErrorException;

    /** {@code int unshare(int flags);} */
    public static native int unshare(int flags) throws LastErrorException;

    /** {@code uid_t geteuid(void);} */
    public static native int geteuid();

    /** {@code gid_t getegid(void);} */
    public static native int getegid();

    /** {@code char *strerror(int errnum);} — glibc returns static text for every known errno. */
    public static native String strerror(int errnum);
}
