package dev.tapwire.network;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** SHA-256 of text, for the names and addresses tapwire derives from other names (MACs, bridges, TAPs). */
final class Sha256 {

    /** One digest per thread: looking one up costs more than hashing a short name. */
    private static final ThreadLocal<MessageDigest> DIGEST = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e); // every JVM must have it
        }
    });

    private Sha256() {
    }

    /** Returns the 32-byte SHA-256 of the text's UTF-8 bytes. */
    static byte[] of(String text) {
        return DIGEST.get().digest(text.getBytes(StandardCharsets.UTF_8));
    }
}
