package dev.tapwire.network.registry;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamReadException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Member;
import dev.tapwire.network.NetworkIndex;
import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.RegistryCorruptedException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes {@code index.json} byte-for-byte as the Go reference does ({@code json.MarshalIndent}
 * with two spaces, HTML-safe escaping, one trailing newline).
 */
final class IndexCodec {

    private static final ObjectMapper MAPPER = strictMapper();
    private static final ObjectReader READER = MAPPER.readerFor(NetworkIndex.class);
    private static final char[] HEX = "0123456789abcdef".toCharArray();
    /** What each field of the format accepts, for errors that must not quote the file. */
    private static final Map<String, String> EXPECTED = Map.of(
            "networks", "a list of networks",
            "members", "a list of members",
            "name", "a network name: 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'",
            "subnet", "an IPv4 subnet such as \"10.44.1.0/24\"",
            "gateway", "an IPv4 address such as \"10.44.1.1\"",
            "ip", "an IPv4 address such as \"10.44.1.2\"",
            "created_at", "an RFC 3339 timestamp such as \"2026-11-22T18:38:30Z\"",
            "workspace", "a non-blank string");

    private IndexCodec() {
    }

    /**
     * A mapper as strict as Go's {@code encoding/json} where it matters: no number or boolean taken as a
     * string, no string taken as a number; stricter where Go is silently lossy: a key twice in one object is
     * refused (Go keeps the last one). Unknown fields are ignored, as Go does.
     */
    private static ObjectMapper strictMapper() {
        JsonMapper mapper = JsonMapper.builder()
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .build();
        for (LogicalType type : List.of(LogicalType.Textual, LogicalType.Integer, LogicalType.Float,
                LogicalType.Boolean)) {
            mapper.coercionConfigFor(type)
                    .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.String, CoercionAction.Fail);
        }
        mapper.coercionConfigFor(LogicalType.Textual).setCoercion(CoercionInputShape.String, CoercionAction.TryConvert);
        return mapper;
    }

    /**
     * Parses an index file's bytes.
     *
     * <p>The error says where and what was wrong and what is accepted, but never quotes the file: an index
     * could be made to hold anything, and error messages end up in logs.
     *
     * @param bytes the file content
     * @param file the file, for the error message
     * @return the index
     * @throws RegistryCorruptedException naming the file, the problem and its location
     */
    static NetworkIndex parse(byte[] bytes, Path file) {
        if (bytes.length == 0) {
            throw corrupt(file, "", "the file is empty");
        }
        NetworkIndex index;
        try {
            index = READER.readValue(bytes);
        } catch (JsonProcessingException e) {
            throw corrupt(file, where(e.getLocation()), describe(e));
        } catch (IOException e) {
            throw corrupt(file, "", e.getClass().getSimpleName());
        }
        if (index == null) {
            throw corrupt(file, "", "it holds JSON null, not an object with a \"networks\" list");
        }
        return index;
    }

    private static String where(JsonLocation at) {
        return at == null || at.getLineNr() < 0 ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
    }

    /** Says what was wrong in words of the format, never with the file's own text. */
    private static String describe(JsonProcessingException e) {
        if (e instanceof StreamReadException && !(e instanceof JsonMappingException)) {
            String message = String.valueOf(e.getOriginalMessage());
            if (message.startsWith("Duplicate Object property") || message.startsWith("Duplicate field")) {
                return "a key appears twice in one object, so which value counts is ambiguous";
            }
            return "it is not well-formed JSON";
        }
        if (e instanceof JsonMappingException bind) {
            String path = path(bind.getPath());
            String field = lastField(bind.getPath());
            String expected = field == null ? null : EXPECTED.get(field);
            if (e instanceof ValueInstantiationException && field == null) {
                return (path.isEmpty() ? "an entry" : path) + " is not a valid "
                        + (path.contains("members") ? "member: it needs a non-blank \"workspace\" and an \"ip\""
                        : "network: it needs a valid \"name\", a \"subnet\" and a \"gateway\" inside it, and "
                                + "\"created_at\" (if present) as an RFC 3339 timestamp");
            }
            if (e instanceof MismatchedInputException && "Trailing token".regionMatches(0,
                    String.valueOf(e.getOriginalMessage()), 0, 14)) {
                return "there is more after the index object";
            }
            return (path.isEmpty() ? "the top level" : path) + " has the wrong type or an invalid value; expected "
                    + (expected != null ? expected : path.isEmpty() ? "an object with a \"networks\" list"
                            : "what the Go reference writes there");
        }
        return "it is not a valid index";
    }

    private static String path(List<JsonMappingException.Reference> references) {
        StringBuilder out = new StringBuilder();
        for (JsonMappingException.Reference r : references) {
            if (r.getFieldName() != null) {
                if (!EXPECTED.containsKey(r.getFieldName())) {
                    return out.toString(); // an unknown key: its name is the file's content
                }
                out.append(out.length() == 0 ? "" : ".").append(r.getFieldName());
            } else if (r.getIndex() >= 0) {
                out.append('[').append(r.getIndex()).append(']');
            }
        }
        return out.toString();
    }

    private static String lastField(List<JsonMappingException.Reference> references) {
        if (references.isEmpty()) {
            return null;
        }
        return references.get(references.size() - 1).getFieldName();
    }

    private static RegistryCorruptedException corrupt(Path file, String where, String what) {
        return new RegistryCorruptedException("registry index " + file + " is corrupt" + where + ": " + what
                + "; it was left untouched — restore it from a backup or move it aside to start afresh");
    }

    /**
     * Formats an index exactly as the Go reference writes it; networks are written in the order given.
     *
     * @param index the index
     * @return the UTF-8 bytes, ending with one newline
     */
    static byte[] format(NetworkIndex index) {
        return format(index, new MemberCache());
    }

    /**
     * Remembers the encoded form of each {@link Member} by identity: an index change keeps all but one
     * member object, so re-encoding is mostly copying. Not thread-safe; the registry uses it under its lock.
     */
    static final class MemberCache {
        private IdentityHashMap<Member, byte[]> encoded = new IdentityHashMap<>();

        byte[] get(Member member) {
            byte[] bytes = encoded.get(member);
            if (bytes == null) {
                Sink one = new Sink(96);
                one.ascii("        {\n          \"workspace\": ").string(member.workspace())
                        .ascii(",\n          \"ip\": \"").address(member.ip()).ascii("\"\n        }");
                bytes = one.toByteArray();
                encoded.put(member, bytes);
            }
            return bytes;
        }

        /** Drops members that are gone once the cache holds twice as many as the index. */
        void trim(int live, List<NetworkRecord> networks) {
            if (encoded.size() > 2 * live + 64) {
                IdentityHashMap<Member, byte[]> kept = new IdentityHashMap<>(live * 2);
                for (NetworkRecord n : networks) {
                    for (Member m : n.members()) {
                        byte[] b = encoded.get(m);
                        if (b != null) {
                            kept.put(m, b);
                        }
                    }
                }
                encoded = kept;
            }
        }
    }

    /**
     * Formats an index as {@link #format(NetworkIndex)} does, reusing encoded members from {@code cache}.
     *
     * @param index the index
     * @param cache encoded members from earlier calls
     * @return the UTF-8 bytes, ending with one newline
     */
    static byte[] format(NetworkIndex index, MemberCache cache) {
        List<NetworkRecord> networks = index.networks();
        int members = 0;
        for (NetworkRecord n : networks) {
            members += n.members().size();
        }
        Sink out = new Sink(64 + networks.size() * 192 + members * 96);
        out.ascii("{\n  \"networks\": ");
        if (networks.isEmpty()) {
            out.ascii("[]");
        } else {
            out.ascii("[\n");
            for (int i = 0; i < networks.size(); i++) {
                NetworkRecord n = networks.get(i);
                out.ascii("    {\n      \"name\": ").string(n.name());
                out.ascii(",\n      \"subnet\": \"").address(n.subnet().networkAddress()).ascii("/")
                        .number(n.subnet().prefixLength()).ascii("\"");
                out.ascii(",\n      \"gateway\": \"").address(n.gateway()).ascii("\"");
                if (n.createdAt() != null) {
                    out.ascii(",\n      \"created_at\": ").string(n.createdAtText());
                }
                List<Member> list = n.members();
                if (!list.isEmpty()) {
                    out.ascii(",\n      \"members\": [\n");
                    for (int m = 0; m < list.size(); m++) {
                        out.bytes(cache.get(list.get(m))).ascii(m + 1 < list.size() ? ",\n" : "\n");
                    }
                    out.ascii("      ]");
                }
                out.ascii(i + 1 < networks.size() ? "\n    },\n" : "\n    }\n");
            }
            out.ascii("  ]");
        }
        out.ascii("\n}\n");
        cache.trim(members, networks);
        return out.toByteArray();
    }

    /** A growable UTF-8 byte buffer with the few writes the index needs, without intermediate strings. */
    private static final class Sink {
        private byte[] buf;
        private int len;

        Sink(int capacity) {
            buf = new byte[capacity];
        }

        private void ensure(int more) {
            if (len + more > buf.length) {
                buf = Arrays.copyOf(buf, Math.max(buf.length * 2, len + more));
            }
        }

        /** Appends text known to be ASCII and free of characters that need escaping. */
        Sink ascii(String text) {
            int n = text.length();
            ensure(n);
            for (int i = 0; i < n; i++) {
                buf[len++] = (byte) text.charAt(i);
            }
            return this;
        }

        Sink bytes(byte[] bytes) {
            ensure(bytes.length);
            System.arraycopy(bytes, 0, buf, len, bytes.length);
            len += bytes.length;
            return this;
        }

        Sink number(int value) {
            ensure(3);
            if (value >= 100) {
                buf[len++] = (byte) ('0' + value / 100);
            }
            if (value >= 10) {
                buf[len++] = (byte) ('0' + value / 10 % 10);
            }
            buf[len++] = (byte) ('0' + value % 10);
            return this;
        }

        Sink address(Ipv4Address address) {
            int bits = address.bits();
            number(bits >>> 24).ascii(".").number(bits >>> 16 & 0xff).ascii(".").number(bits >>> 8 & 0xff).ascii(".")
                    .number(bits & 0xff);
            return this;
        }

        /** Appends a JSON string; plain ASCII is copied directly, anything else goes through Go's escaping. */
        Sink string(String value) {
            for (int i = 0; i < value.length(); i++) {
                char c = value.charAt(i);
                if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&') {
                    return bytes(IndexCodec.string(new StringBuilder(value.length() + 8), value).toString()
                            .getBytes(StandardCharsets.UTF_8));
                }
            }
            return ascii("\"").ascii(value).ascii("\"");
        }

        byte[] toByteArray() {
            return Arrays.copyOf(buf, len);
        }
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
