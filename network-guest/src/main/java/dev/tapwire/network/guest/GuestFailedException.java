package dev.tapwire.network.guest;

import dev.tapwire.network.NetworkException;

/**
 * A guest did not do what was awaited: its NIC driver or DHCP failed ({@code TAPWIRE-NO-DRIVER},
 * {@code TAPWIRE-NO-LEASE}), its kernel panicked, QEMU exited or could not start, or nothing matched in time.
 * {@link #reason()} says it in one line; the message adds the whole console.
 */
public class GuestFailedException extends NetworkException {

    private static final long serialVersionUID = 1L;

    /** The guest's name. */
    private final String guest;
    /** Why it failed, in one line. */
    private final String reason;
    /** The guest's console output up to the failure. */
    private final String console;

    /**
     * Creates the exception.
     *
     * @param guest the guest's name
     * @param reason what went wrong, in one line
     * @param console everything the guest printed
     * @param cause the underlying failure, or null
     */
    public GuestFailedException(String guest, String reason, String console, Throwable cause) {
        super("guest " + guest + " " + reason + "; console:\n" + console, cause);
        this.guest = guest;
        this.reason = reason;
        this.console = console;
    }

    /**
     * Returns the guest's name.
     *
     * @return the name it was booted with
     */
    public String guest() {
        return guest;
    }

    /**
     * Returns what went wrong in one line, without the console.
     *
     * @return e.g. {@code failed: TAPWIRE-NO-DRIVER insmod virtio.ko failed: ... unknown symbol in module}
     */
    public String reason() {
        return reason;
    }

    /**
     * Returns everything the guest printed up to the failure.
     *
     * @return the console, line by line
     */
    public String console() {
        return console;
    }
}
