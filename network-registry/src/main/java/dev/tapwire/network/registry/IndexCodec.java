package dev.tapwire.network.registry;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.RegistryCorruptedException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * Reads and writes {@code index.json} byte-for-byte as the Go reference does ({@code json.MarshalIndent}
 * with two spaces, HTML-safe escaping, one trailing newline).
 */
final class IndexCodec {

    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();
    private static final ObjectReader READER = MAPPER.readerFor(NetworkIndex.class);
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private IndexCodec() {
    }

    /**
     * Parses an index file's bytes.
     *
     * @param bytes the file content
     * @param file the file, for the error message
     * @return the index
     * @throws RegistryCorruptedException naming the file, the problem and its location
     */
    static NetworkIndex parse(byte[] bytes, Path file) {
        if (bytes.length == 0) {
            throw new RegistryCorruptedException("registry index " + file + " is corrupt: the file is empty; "
                    + "it was left untouched — restore it from a backup or move it aside to start afresh");
        }
        try {
            NetworkIndex index = READER.readValue(bytes);
            if (index == null) {
                throw new RegistryCorruptedException("registry index " + file + " is corrupt: it holds JSON null; "
                        + "it was left untouched — restore it from a backup or move it aside to start afresh");
            }
            return index;
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
            String what = e.getCause() != null && e.getCause().getMessage() != null
                    ? e.getCause().getMessage() : e.getOriginalMessage();
            throw new RegistryCorruptedException("registry index " + file + " is corrupt" + where + ": " + what
                    + "; it was left untouched — restore it from a backup or move it aside to start afresh", e);
        } catch (IOException e) {
            throw new RegistryCorruptedException("registry index " + file + " cannot be parsed: " + e, e);
        }
    }

    /**
     * Formats an index exactly as the Go reference writes it; networks are written in the order given.
     *
     * @param index the index
     * @return the UTF-8 bytes, ending with one newline
     */
    static byte[] format(NetworkIndex index) {
        List<NetworkRecord> networks = index.networks();
        int members = 0;
        for (NetworkRecord n : networks) {
            members += n.members().size();
        }
        StringBuilder out = new StringBuilder(64 + networks.size() * 160 + members * 72);
        out.append("{\n  \"networks\": ");
        if (networks.isEmpty()) {
            out.append("[]");
        } else {
            out.append("[\n");
            for (int i = 0; i < networks.size(); i++) {
                NetworkRecord n = networks.get(i);
                out.append("    {\n");
                field(out, 6, "name", n.name()).append(",\n");
                field(out, 6, "subnet", n.subnet().toString()).append(",\n");
                field(out, 6, "gateway", n.gateway().toString());
                if (n.createdAt() != null) {
                    out.append(",\n");
                    field(out, 6, "created_at", n.createdAtText());
                }
                if (!n.members().isEmpty()) {
                    out.append(",\n      \"members\": [\n");
                    List<Member> list = n.members();
                    for (int m = 0; m < list.size(); m++) {
                        Member member = list.get(m);
                        out.append("        {\n");
                        field(out, 10, "workspace", member.workspace()).append(",\n");
                        field(out, 10, "ip", member.ip().toString()).append('\n');
                        out.append(m + 1 < list.size() ? "        },\n" : "        }\n");
                    }
                    out.append("      ]");
                }
                out.append('\n');
                out.append(i + 1 < networks.size() ? "    },\n" : "    }\n");
            }
            out.append("  ]");
        }
        out.append("\n}\n");
        return out.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static StringBuilder field(StringBuilder out, int indent, String key, String value) {
        for (int i = 0; i < indent; i++) {
            out.append(' ');
        }
        out.append('"').append(key).append("\": ");
        return string(out, value);
    }

    /** Appends a JSON string with Go's encoding/json escaping (HTML-safe, U+2028/2029 escaped). */
    static StringBuilder string(StringBuilder out, String value) {
        out.append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                case '<', '>', '&', '\u2028', '\u2029' -> unicode(out, c);
                default -> {
                    if (c < 0x20) {
                        unicode(out, c);
                    } else if (Character.isSurrogate(c)) {
                        if (Character.isHighSurrogate(c) && i + 1 < value.length()
                                && Character.isLowSurrogate(value.charAt(i + 1))) {
                            out.append(c).append(value.charAt(++i));
                        } else {
                            out.append('\ufffd'); // Go replaces invalid UTF-8 / lone surrogates
                        }
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"');
    }

    private static void unicode(StringBuilder out, char c) {
        out.append("\\u").append(HEX[c >> 12 & 0xf]).append(HEX[c >> 8 & 0xf]).append(HEX[c >> 4 & 0xf])
                .append(HEX[c & 0xf]);
    }
}
