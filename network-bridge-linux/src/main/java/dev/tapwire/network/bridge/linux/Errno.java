package dev.tapwire.network.bridge.linux;

import com.sun.jna.LastErrorException;
import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.bridge.linux.raw.LibC;
import java.util.Map;

/** Turns an errno into the {@link DeviceOperationException} every failure of this layer is. */
final class Errno {

    static final int EPERM = 1;
    static final int EINTR = 4;
    static final int EBUSY = 16;
    static final int EEXIST = 17;
    static final int ENODEV = 19;

    private static final Map<Integer, String> NAMES = Map.ofEntries(
            Map.entry(1, "EPERM"), Map.entry(2, "ENOENT"), Map.entry(3, "ESRCH"), Map.entry(4, "EINTR"),
            Map.entry(5, "EIO"), Map.entry(6, "ENXIO"), Map.entry(7, "E2BIG"), Map.entry(9, "EBADF"),
            Map.entry(11, "EAGAIN"), Map.entry(12, "ENOMEM"), Map.entry(13, "EACCES"), Map.entry(14, "EFAULT"),
            Map.entry(16, "EBUSY"), Map.entry(17, "EEXIST"), Map.entry(19, "ENODEV"), Map.entry(20, "ENOTDIR"),
            Map.entry(22, "EINVAL"), Map.entry(23, "ENFILE"), Map.entry(24, "EMFILE"), Map.entry(25, "ENOTTY"),
            Map.entry(28, "ENOSPC"), Map.entry(34, "ERANGE"), Map.entry(36, "ENAMETOOLONG"), Map.entry(38, "ENOSYS"),
            Map.entry(90, "EMSGSIZE"), Map.entry(93, "EPROTONOSUPPORT"), Map.entry(95, "EOPNOTSUPP"),
            Map.entry(97, "EAFNOSUPPORT"), Map.entry(98, "EADDRINUSE"), Map.entry(99, "EADDRNOTAVAIL"),
            Map.entry(100, "ENETDOWN"), Map.entry(105, "ENOBUFS"), Map.entry(110, "ETIMEDOUT"));

    private Errno() {
    }

    static String name(int errno) {
        return NAMES.getOrDefault(errno, "errno " + errno);
    }

    static DeviceOperationException failure(String operation, String device, LastErrorException e) {
        return failure(operation, device, e.getErrorCode(), null);
    }

    static DeviceOperationException failure(String operation, String device, int errno, String detail) {
        String text = LibC.strerror(errno);
        return new DeviceOperationException(operation, device, errno, name(errno),
                detail == null || detail.isEmpty() ? text : text + ": " + detail);
    }
}
