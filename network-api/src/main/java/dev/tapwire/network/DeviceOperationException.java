package dev.tapwire.network;

/**
 * Thrown when an operation on a network device fails, carrying the call, the device and the errno.
 *
 * <p>The message reads like {@code TUNSETIFF(bt1a2b3c4d-0) failed: EBUSY (Device or resource busy)}.
 * Backends that are not native (such as the testkit's in-memory one) throw it with the errno the
 * kernel would have given, so callers handle both alike through {@link #reason()}.
 */
public class DeviceOperationException extends NetworkException {

    private static final long serialVersionUID = 1L;

    /** The errno classes callers commonly need to tell apart, each with the errno Linux gives for it. */
    public enum Reason {
        /** {@code EPERM} or {@code EACCES}: the caller lacks a capability (usually CAP_NET_ADMIN) or permission. */
        PERMISSION_DENIED(1, "EPERM", "Operation not permitted"),
        /** {@code EBUSY}: the device exists and is in use, e.g. a TAP of that name already exists. */
        BUSY(16, "EBUSY", "Device or resource busy"),
        /** {@code ENODEV} or {@code ENXIO}: no such device. */
        NO_SUCH_DEVICE(19, "ENODEV", "No such device"),
        /** {@code EEXIST}: the object to create already exists. */
        ALREADY_EXISTS(17, "EEXIST", "File exists"),
        /** Any other errno, or a failure that is not an errno at all. */
        OTHER(0, null, null);

        private final int errno;
        private final String errnoName;
        private final String text;

        Reason(int errno, String errnoName, String text) {
            this.errno = errno;
            this.errnoName = errnoName;
            this.text = text;
        }

        /**
         * Maps a Linux errno to its reason.
         *
         * @param errno the errno value
         * @return the matching reason, {@link #OTHER} when none fits
         */
        public static Reason ofErrno(int errno) {
            switch (errno) {
                case 1: // EPERM
                case 13: // EACCES
                    return PERMISSION_DENIED;
                case 16: // EBUSY
                    return BUSY;
                case 19: // ENODEV
                case 6: // ENXIO
                    return NO_SUCH_DEVICE;
                case 17: // EEXIST
                    return ALREADY_EXISTS;
                default:
                    return OTHER;
            }
        }
    }

    /**
     * Creates the exception for a failure found without a syscall failing (a check in Java, or a backend
     * that is not native), with the errno Linux gives for {@code reason}, so it reads and classifies like
     * a kernel failure: {@code of("verify", "bt1-0", Reason.NO_SUCH_DEVICE, "VM 1 has no TAP bt1-0")} reads
     * {@code verify(bt1-0) failed: ENODEV (No such device: VM 1 has no TAP bt1-0)}.
     *
     * @param operation what failed, e.g. {@code verify}
     * @param device the device it concerns, or null
     * @param reason the class of failure; {@link Reason#OTHER} gives errno 0 and the detail alone
     * @param detail what exactly was wrong
     * @return the exception
     */
    public static DeviceOperationException of(String operation, String device, Reason reason, String detail) {
        return of(operation, device, reason, detail, null);
    }

    /**
     * Creates the exception as {@link #of(String, String, Reason, String)} does, with an underlying cause.
     *
     * @param operation what failed
     * @param device the device it concerns, or null
     * @param reason the class of failure
     * @param detail what exactly was wrong
     * @param cause the underlying failure, or null
     * @return the exception
     */
    public static DeviceOperationException of(String operation, String device, Reason reason, String detail,
            Throwable cause) {
        String description = reason.text == null ? detail : reason.text + ": " + detail;
        return new DeviceOperationException(operation, device, reason.errno, reason.errnoName, description, cause);
    }

    /** The failed call. */
    private final String operation;
    /** The device it was called on. */
    private final String device;
    /** The errno, or 0. */
    private final int errno;
    /** The errno's symbolic name, or null. */
    private final String errnoName;

    /**
     * Creates the exception for a failed call.
     *
     * @param operation the syscall, ioctl or netlink request that failed, e.g. {@code TUNSETIFF}
     * @param device the device it was applied to, or null when none
     * @param errno the errno, or 0 when the failure was not an errno
     * @param errnoName the symbolic errno name such as {@code EBUSY}, or null
     * @param description what went wrong, e.g. the {@code strerror} text
     */
    public DeviceOperationException(String operation, String device, int errno, String errnoName, String description) {
        this(operation, device, errno, errnoName, description, null);
    }

    /**
     * Creates the exception for a failed call with an underlying cause.
     *
     * @param operation the syscall, ioctl or netlink request that failed
     * @param device the device it was applied to, or null when none
     * @param errno the errno, or 0 when the failure was not an errno
     * @param errnoName the symbolic errno name such as {@code EBUSY}, or null
     * @param description what went wrong, e.g. the {@code strerror} text
     * @param cause the underlying failure, or null
     */
    public DeviceOperationException(String operation, String device, int errno, String errnoName, String description,
            Throwable cause) {
        super(format(operation, device, errno, errnoName, description), cause);
        this.operation = operation;
        this.device = device;
        this.errno = errno;
        this.errnoName = errnoName;
    }

    private static String format(String operation, String device, int errno, String errnoName, String description) {
        StringBuilder sb = new StringBuilder(operation);
        if (device != null) {
            sb.append('(').append(device).append(')');
        }
        sb.append(" failed: ");
        if (errnoName != null) {
            sb.append(errnoName).append(" (").append(description).append(')');
        } else {
            sb.append(description);
        }
        if (Reason.ofErrno(errno) == Reason.PERMISSION_DENIED && !description.contains("CAP_NET_ADMIN")) {
            sb.append("; this needs CAP_NET_ADMIN (run as root or grant the capability)");
        }
        return sb.toString();
    }

    /**
     * Returns the call that failed, e.g. {@code TUNSETIFF} or {@code RTM_NEWLINK}.
     *
     * @return the operation name
     */
    public String operation() {
        return operation;
    }

    /**
     * Returns the device the call was applied to.
     *
     * @return the device name, or null when the call had none
     */
    public String device() {
        return device;
    }

    /**
     * Returns the errno the call failed with.
     *
     * @return the errno, or 0 when the failure was not an errno
     */
    public int errno() {
        return errno;
    }

    /**
     * Returns the symbolic errno name, e.g. {@code EBUSY}.
     *
     * @return the name, or null when the failure was not an errno
     */
    public String errnoName() {
        return errnoName;
    }

    /**
     * Returns the class of failure, derived from the errno.
     *
     * @return the reason
     */
    public Reason reason() {
        return Reason.ofErrno(errno);
    }
}
