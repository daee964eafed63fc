package dev.tapwire.network.bridge.linux;

import com.sun.jna.Pointer;
import dev.tapwire.network.DeviceOperationException;
import dev.tapwire.network.bridge.linux.raw.LibNftables;
import java.util.Optional;

/**
 * Runs nftables commands through libnftables in the network namespace of the calling thread, one context per
 * call (a context's netlink socket belongs to the namespace it was opened in). A batch of commands given in
 * one call is one kernel transaction: all of it applies or none.
 */
public final class Nftables {

    private static volatile Optional<String> unavailability;

    private Nftables() {
    }

    /**
     * Says why libnftables cannot be used here, probing once.
     *
     * @return the reason (naming the Debian package to install), or empty when it can be used
     */
    public static Optional<String> unavailabilityCause() {
        Optional<String> cause = unavailability;
        if (cause == null) {
            try {
                Pointer ctx = LibNftables.nft_ctx_new(0);
                LibNftables.nft_ctx_free(ctx);
                cause = Optional.empty();
            } catch (LinkageError e) {
                cause = Optional.of(LibNftables.LIBRARY + " cannot be loaded (install the Debian package libnftables1): "
                        + e.getMessage());
            }
            unavailability = cause;
        }
        return cause;
    }

    /**
     * Runs commands in nft syntax, e.g. {@code list table ip tapwire}, and returns what nft printed.
     *
     * @param commands one or more commands, newline-separated; run as one transaction
     * @return the output (listings), possibly empty
     * @throws DeviceOperationException with nft's own error text when a command fails, or when libnftables is
     *     missing
     */
    public static String run(String commands) {
        unavailabilityCause().ifPresent(cause -> {
            throw DeviceOperationException.of("nft", null, DeviceOperationException.Reason.OTHER, cause, null);
        });
        Pointer ctx = LibNftables.nft_ctx_new(0);
        if (ctx == null) {
            throw DeviceOperationException.of("nft", null, DeviceOperationException.Reason.OTHER,
                    "nft_ctx_new failed (out of memory?)", null);
        }
        try {
            LibNftables.nft_ctx_buffer_output(ctx);
            LibNftables.nft_ctx_buffer_error(ctx);
            int rc = LibNftables.nft_run_cmd_from_buffer(ctx, commands);
            String out = LibNftables.nft_ctx_get_output_buffer(ctx);
            if (rc != 0) {
                String err = LibNftables.nft_ctx_get_error_buffer(ctx);
                throw new NftablesException(commands.lines().findFirst().orElse(""), err == null ? "" : err.strip());
            }
            return out == null ? "" : out;
        } finally {
            LibNftables.nft_ctx_free(ctx);
        }
    }

    /** An nft command that failed; its message is nft's own error text. */
    public static final class NftablesException extends DeviceOperationException {
        private static final long serialVersionUID = 1L;

        NftablesException(String command, String error) {
            super("nft", null, 0, null, "nftables refused \"" + command + "\": " + error);
        }

        /**
         * Tells whether nft said the object does not exist ({@code ENOENT}, "No such file or directory").
         *
         * @return true for a missing table, chain or set
         */
        public boolean isNoSuchObject() {
            return getMessage().contains("No such file or directory");
        }
    }
}
