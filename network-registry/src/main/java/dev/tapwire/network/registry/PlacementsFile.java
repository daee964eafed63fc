package dev.tapwire.network.registry;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tapwire.network.HostRecord;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.Placement;
import dev.tapwire.network.PlacementRegistry;
import dev.tapwire.network.RegistryCorruptedException;
import dev.tapwire.network.lock.LockFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code networks/placements.json}: the single host's lease, its placements and the networks' VNIs. Read without a
 * lock (every write is an atomic rename), never through a symbolic link, at most 16 MiB; written as the index is —
 * a temporary file in the same directory, fsync, rename over, fsync of the directory — by a caller that holds
 * {@code networks/placements.lock}. A file that is not a valid one is never overwritten: every operation fails with
 * {@link RegistryCorruptedException} naming it until an operator moves it away (placements are runtime state: the
 * host registers and places its members again).
 *
 * <pre>{@code
 * {
 *   "host" : { "name" : "node-1", "underlay" : "127.0.0.1", "lease" : "3f…", "pid" : 4242,
 *              "started" : "2026-12-04T21:00:00.120Z", "ttl_ms" : 10000 },
 *   "placements" : [ { "network" : "team", "workspace" : "alpha", "host" : "node-1", "mac" : "02:…" } ],
 *   "vnis" : { "team" : 4711 }
 * }
 * }</pre>
 */
final class PlacementsFile {

    static final String NAME = "placements.json";
    private static final String TEMP_PREFIX = NAME + ".tmp-";
    private static final long MAX_BYTES = 16L << 20;
    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();
    private static final Logger LOG = LoggerFactory.getLogger(PlacementsFile.class);

    /**
     * The holder of the single-host lease.
     *
     * @param id the lease's random identity: a lease whose id is no longer here has ended
     * @param host the host
     * @param pid the holder process
     * @param started that process's start time (with the pid, it names the process even after its pid is reused)
     * @param ttlMillis the lease's TTL
     * @param expiresAt when the lease ends, once it was closed without withdrawal; null while the holder renews it
     */
    record Holder(String id, HostRecord host, long pid, String started, long ttlMillis, Instant expiresAt) {

        /** A lease held by this process. */
        static Holder mine(String id, HostRecord host, Duration ttl) {
            ProcessHandle self = ProcessHandle.current();
            return new Holder(id, host, self.pid(), startOf(self), ttl.toMillis(), null);
        }

        /** The lease closed now: it holds for its TTL from now. */
        Holder closedAt(Instant now, Duration ttl) {
            return new Holder(id, host, pid, started, ttlMillis, now.plus(ttl));
        }

        /** Whether the lease holds: until it expires once closed, else while its holder process lives. */
        boolean live(Instant now) {
            if (expiresAt != null) {
                return now.isBefore(expiresAt);
            }
            return ProcessHandle.of(pid).map(p -> p.isAlive() && startOf(p).equals(started)).orElse(false);
        }

        private static String startOf(ProcessHandle process) {
            return process.info().startInstant().map(Instant::toString).orElse("");
        }
    }

    /**
     * What the file holds.
     *
     * @param holder the lease, or null when no host is registered
     * @param placements the placements, sorted by network and workspace
     * @param vnis the VNI of each network that has one
     */
    record State(Holder holder, List<Placement> placements, Map<String, Integer> vnis) {

        static final State EMPTY = new State(null, List.of(), Map.of());

        State {
            List<Placement> sorted = new ArrayList<>(placements);
            sorted.sort(Comparator.comparing(Placement::network).thenComparing(Placement::workspace));
            placements = List.copyOf(sorted);
            vnis = Map.copyOf(vnis);
        }
    }

    private final Path dir;
    private final Path file;

    PlacementsFile(Path networksDir) {
        this.dir = networksDir;
        this.file = networksDir.resolve(NAME);
    }

    Path path() {
        return file;
    }

    Path directory() {
        return dir;
    }

    /**
     * Reads the file; a missing one is the empty state.
     *
     * @throws RegistryCorruptedException if it is not a regular file, too large or not a valid placements file
     * @throws NetworkException if it cannot be read
     */
    State read() {
        byte[] bytes;
        try {
            BasicFileAttributes attrs = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!attrs.isRegularFile() || attrs.size() > MAX_BYTES) {
                throw corrupt(attrs.isRegularFile() ? "larger than " + MAX_BYTES + " bytes" : "not a regular file");
            }
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
                ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(channel.size(), MAX_BYTES));
                while (buffer.hasRemaining() && channel.read(buffer) >= 0) {
                    // fill
                }
                bytes = buffer.array();
            }
        } catch (NoSuchFileException e) {
            return State.EMPTY;
        } catch (IOException e) {
            throw new NetworkException("cannot read " + file + ": " + IndexFile.describe(e), e);
        }
        return decode(bytes);
    }

    /**
     * Writes {@code state} atomically and durably. The caller holds {@code placements.lock}.
     *
     * @throws NetworkException if it could not be put in place; the previous file is then intact
     */
    void write(State state) {
        byte[] bytes = encode(state);
        Path temp = dir.resolve(TEMP_PREFIX + ProcessHandle.current().pid() + "-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        try {
            LockFile.createDirectories(dir);
            sweepTempFiles();
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                    LinkOption.NOFOLLOW_LINKS)) {
                Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-r--r--"));
                ByteBuffer buffer = ByteBuffer.wrap(bytes);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                channel.force(true);
            }
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException ignored) {
                // the next write sweeps it
            }
            throw new NetworkException("cannot write " + file + ": " + e + "; the previous placements are intact", e);
        }
        try (FileChannel directory = FileChannel.open(dir, StandardOpenOption.READ)) {
            directory.force(true);
        } catch (IOException e) {
            LOG.warn("{} is in place but fsync of {} failed, so it may not survive a power loss: {}", file, dir,
                    IndexFile.describe(e));
        }
    }

    /** Removes temporary files a killed writer left behind; only lock holders make them. */
    private void sweepTempFiles() throws IOException {
        try (DirectoryStream<Path> stale = Files.newDirectoryStream(dir, TEMP_PREFIX + "*")) {
            for (Path p : stale) {
                LOG.debug("removing stale temporary placements file {}", p);
                Files.deleteIfExists(p);
            }
        }
    }

    private RegistryCorruptedException corrupt(String what) {
        return new RegistryCorruptedException("placements file " + file + " is " + what + "; it was left untouched:"
                + " move it away to start over (placements are runtime state, which each host writes again when it"
                + " registers)");
    }

    // ---------------------------------------------------------------- format

    private byte[] encode(State state) {
        ObjectNode root = MAPPER.createObjectNode();
        Holder h = state.holder();
        if (h != null) {
            ObjectNode host = root.putObject("host");
            host.put("name", h.host().name());
            host.put("underlay", h.host().underlay().toString());
            host.put("lease", h.id());
            host.put("pid", h.pid());
            host.put("started", h.started());
            host.put("ttl_ms", h.ttlMillis());
            if (h.expiresAt() != null) {
                host.put("expires_at", h.expiresAt().toString());
            }
        }
        ArrayNode placements = root.putArray("placements");
        for (Placement p : state.placements()) {
            placements.addObject().put("network", p.network()).put("workspace", p.workspace()).put("host", p.host())
                    .put("mac", p.mac().toString());
        }
        ObjectNode vnis = root.putObject("vnis");
        new TreeMap<>(state.vnis()).forEach(vnis::put);
        try {
            return (MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n")
                    .getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new NetworkException("cannot encode the placements of " + file + ": " + e.getMessage(), e);
        }
    }

    private State decode(byte[] bytes) {
        JsonNode root;
        try {
            root = MAPPER.readTree(bytes);
        } catch (IOException e) {
            throw corrupt("not valid JSON (" + e.getClass().getSimpleName() + " at "
                    + (e instanceof JsonProcessingException j && j.getLocation() != null
                            ? "line " + j.getLocation().getLineNr() + ", column " + j.getLocation().getColumnNr()
                            : "an unknown position") + ")");
        }
        if (root == null || !root.isObject()) {
            throw corrupt("not a JSON object");
        }
        try {
            Holder holder = null;
            JsonNode h = root.path("host");
            if (h.isObject()) {
                JsonNode expires = h.path("expires_at");
                holder = new Holder(text(h, "lease"), new HostRecord(text(h, "name"),
                        Ipv4Address.parse(text(h, "underlay"))), number(h, "pid"), text(h, "started"),
                        number(h, "ttl_ms"), expires.isTextual() ? Instant.parse(expires.asText()) : null);
            } else if (!h.isMissingNode() && !h.isNull()) {
                throw corrupt("holding a \"host\" that is no object");
            }
            List<Placement> placements = new ArrayList<>();
            JsonNode list = root.path("placements");
            if (!list.isMissingNode() && !list.isArray()) {
                throw corrupt("holding \"placements\" that are no list");
            }
            for (JsonNode p : list) {
                placements.add(new Placement(text(p, "network"), text(p, "workspace"), text(p, "host"),
                        MacAddress.parse(text(p, "mac"))));
            }
            Map<String, Integer> vnis = new TreeMap<>();
            JsonNode v = root.path("vnis");
            if (!v.isMissingNode() && !v.isObject()) {
                throw corrupt("holding \"vnis\" that are no object");
            }
            for (Map.Entry<String, JsonNode> e : v.properties()) {
                long vni = e.getValue().isIntegralNumber() ? e.getValue().asLong() : -1;
                if (vni < 1 || vni > PlacementRegistry.MAX_VNI || vnis.containsValue((int) vni)) {
                    throw corrupt("holding VNI " + e.getValue() + " of network " + e.getKey() + ", which is not a"
                            + " VNI of one network (1-" + PlacementRegistry.MAX_VNI + ")");
                }
                vnis.put(e.getKey(), (int) vni);
            }
            return new State(holder, placements, vnis);
        } catch (RegistryCorruptedException e) {
            throw e;
        } catch (NetworkException | IllegalArgumentException | DateTimeParseException e) {
            throw corrupt("not a valid placements file (" + e.getMessage() + ")");
        }
    }

    private String text(JsonNode node, String field) {
        JsonNode value = node.path(field);
        if (!value.isTextual()) {
            throw corrupt("missing the text field \"" + field + "\" where it is needed");
        }
        return value.asText();
    }

    private long number(JsonNode node, String field) {
        JsonNode value = node.path(field);
        if (!value.isIntegralNumber()) {
            throw corrupt("missing the number field \"" + field + "\" where it is needed");
        }
        return value.asLong();
    }
}
