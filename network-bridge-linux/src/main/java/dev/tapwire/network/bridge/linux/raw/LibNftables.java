package dev.tapwire.network.bridge.linux.raw;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;

/**
 * Raw libnftables functions ({@code libnftables.so.1}, Debian package {@code libnftables1}), direct-mapped
 * through JNA: the C API that firewalld drives. Loading this class fails with {@link UnsatisfiedLinkError}
 * when the library is missing.
 */
public final class LibNftables {

    /** The shared object loaded. */
    public static final String LIBRARY = "libnftables.so.1";

    static {
        Native.register(NativeLibrary.getInstance(LIBRARY));
    }

    private LibNftables() {
    }

    /** {@code struct nft_ctx *nft_ctx_new(uint32_t flags);} */
    public static native Pointer nft_ctx_new(int flags);

    /** {@code void nft_ctx_free(struct nft_ctx *ctx);} */
    public static native void nft_ctx_free(Pointer ctx);

    /** {@code int nft_ctx_buffer_output(struct nft_ctx *ctx);} */
    public static native int nft_ctx_buffer_output(Pointer ctx);

    /** {@code const char *nft_ctx_get_output_buffer(struct nft_ctx *ctx);} */
    public static native String nft_ctx_get_output_buffer(Pointer ctx);

    /** {@code int nft_ctx_buffer_error(struct nft_ctx *ctx);} */
    public static native int nft_ctx_buffer_error(Pointer ctx);

    /** {@code const char *nft_ctx_get_error_buffer(struct nft_ctx *ctx);} */
    public static native String nft_ctx_get_error_buffer(Pointer ctx);

    /** {@code int nft_run_cmd_from_buffer(struct nft_ctx *nft, const char *buf);} */
    public static native int nft_run_cmd_from_buffer(Pointer ctx, String buf);
}
