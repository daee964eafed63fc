package dev.tapwire.network.spi;

import dev.tapwire.network.HostRecord;
import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.NetworkException;
import dev.tapwire.network.NetworkRegistry;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What a provider is created with: a root (state) directory, string options and, for NICs on named
 * networks, the registry those networks live in.
 *
 * <p>The bridge backend reads {@code bridge} (device name), {@code owner} (uid), {@code group} (gid) and
 * {@code tap-names} ({@code prefix} or {@code hashed}); a backend refuses a key it does not read
 * ({@link #requireKnownOptions}).
 *
 * <p>Three options are the settings' own, for a host of a fleet, and every backend takes them: {@value #HOST}
 * (this host's name among the hosts of a shared registry, {@link #host()}), {@value #UNDERLAY} (its tunnel
 * endpoint, {@link #underlay()}) and {@value #HOST_TTL} (how long its records outlive its last lease renewal,
 * {@link #hostTtl()}). They are checked when the settings are made.
 *
 * @param rootDir the directory the provider keeps its state and locks under
 * @param options backend options by key
 * @param registry the registry of named networks, or null when the provider serves no named networks
 */
public record ProviderSettings(Path rootDir, Map<String, String> options, NetworkRegistry registry) {

    /** The option that names this host in a fleet: see {@link #host()}. */
    public static final String HOST = "host";
    /** The option that gives this host's tunnel endpoint (an IPv4 address): see {@link #underlay()}. */
    public static final String UNDERLAY = "underlay";
    /** The option that gives this host's lease TTL ({@code 10s}, {@code 1500ms}, or whole seconds): {@link #hostTtl()}. */
    public static final String HOST_TTL = "host-ttl";
    /** The host lease TTL when {@value #HOST_TTL} is not set. */
    public static final Duration DEFAULT_HOST_TTL = Duration.ofSeconds(10);
    /** The shortest host lease TTL accepted. */
    public static final Duration MIN_HOST_TTL = Duration.ofSeconds(2);
    /**
     * The underlay when none is set and the registry is reached over no network (a single-host registry): loopback,
     * since a single host builds no tunnel.
     */
    public static final Ipv4Address SINGLE_HOST_UNDERLAY = Ipv4Address.of(127, 0, 0, 1);

    private static final Set<String> FLEET_OPTIONS = Set.of(HOST, UNDERLAY, HOST_TTL);
    private static final Path KERNEL_HOSTNAME = Path.of("/proc/sys/kernel/hostname");

    /**
     * Validates and copies the options.
     *
     * @throws InvalidNetworkSpecException if the root directory is null, an option key or value is null, or the
     *     {@value #HOST}, {@value #UNDERLAY} or {@value #HOST_TTL} option is malformed (the message says what is
     *     accepted)
     */
    public ProviderSettings {
        if (rootDir == null) {
            throw new InvalidNetworkSpecException("provider settings need a root directory");
        }
        options = options == null ? Map.of() : Map.copyOf(options);
        if (options.containsKey(HOST)) {
            requireHostName(options.get(HOST), "the " + HOST + " setting");
        }
        if (options.containsKey(UNDERLAY)) {
            parseUnderlay(options.get(UNDERLAY));
        }
        if (options.containsKey(HOST_TTL)) {
            parseTtl(options.get(HOST_TTL));
        }
    }

    /**
     * Creates settings with no registry.
     *
     * @param rootDir the root directory
     * @param options backend options by key
     * @throws InvalidNetworkSpecException if the root directory is null or an option key or value is null
     */
    public ProviderSettings(Path rootDir, Map<String, String> options) {
        this(rootDir, options, null);
    }

    /**
     * Returns a copy that realizes named networks from {@code registry}: NICs on a named network join it there.
     *
     * @param registry the registry (a file registry, etcd, or any other implementation)
     * @return the new settings
     * @throws InvalidNetworkSpecException if the registry is null
     */
    public ProviderSettings withRegistry(NetworkRegistry registry) {
        if (registry == null) {
            throw new InvalidNetworkSpecException("the registry must not be null");
        }
        return new ProviderSettings(rootDir, options, registry);
    }

    /**
     * Returns the registry of named networks, if one was given.
     *
     * @return the registry, or empty
     */
    public Optional<NetworkRegistry> findRegistry() {
        return Optional.ofNullable(registry);
    }

    /**
     * Returns settings for {@code rootDir} with no options.
     *
     * @param rootDir the root directory
     * @return the settings
     * @throws InvalidNetworkSpecException if the root directory is null
     */
    public static ProviderSettings of(Path rootDir) {
        return new ProviderSettings(rootDir, Map.of());
    }

    /**
     * Returns a copy with {@code key} set to {@code value}.
     *
     * @param key the option key
     * @param value the option value
     * @return the new settings
     * @throws InvalidNetworkSpecException if the key or value is null
     */
    public ProviderSettings with(String key, String value) {
        if (key == null || value == null) {
            throw new InvalidNetworkSpecException("provider option key and value must not be null");
        }
        Map<String, String> copy = new TreeMap<>(options);
        copy.put(key, value);
        return new ProviderSettings(rootDir, copy, registry);
    }

    /**
     * Refuses options the backend does not read, so that a typo ({@code tap-name}, {@code ownr}) is an error
     * instead of a silent default. Backends call it when they are created. The settings' own options
     * ({@value #HOST}, {@value #UNDERLAY}, {@value #HOST_TTL}) are always known.
     *
     * @param type the provider type, for the message
     * @param known the option keys the backend reads
     * @return these settings
     * @throws InvalidNetworkSpecException naming the unknown keys and listing the known ones
     */
    public ProviderSettings requireKnownOptions(String type, Set<String> known) {
        Set<String> unknown = new TreeSet<>(options.keySet());
        unknown.removeAll(known);
        unknown.removeAll(FLEET_OPTIONS); // the settings' own: every backend takes them
        if (!unknown.isEmpty()) {
            throw new InvalidNetworkSpecException("the " + type + " provider has no option" + (unknown.size() > 1 ? "s "
                    : " ") + String.join(", ", unknown) + "; its options are " + String.join(", ", new TreeSet<>(known)));
        }
        return this;
    }

    /**
     * Returns an option's value.
     *
     * @param key the option key
     * @return the value, or empty when unset
     */
    public Optional<String> option(String key) {
        return Optional.ofNullable(options.get(key));
    }

    /**
     * Returns an option parsed as a non-negative integer (a uid or gid, say).
     *
     * @param key the option key
     * @return the value, or empty when unset
     * @throws InvalidNetworkSpecException if the value is not a non-negative integer
     */
    public Optional<Integer> intOption(String key) {
        String value = options.get(key);
        if (value == null) {
            return Optional.empty();
        }
        try {
            int parsed = Integer.parseInt(value.trim());
            if (parsed < 0) {
                throw new NumberFormatException();
            }
            return Optional.of(parsed);
        } catch (NumberFormatException e) {
            throw new InvalidNetworkSpecException("provider option " + key + "=" + value
                    + " is not a non-negative integer");
        }
    }

    // ---------------------------------------------------------------- the host in a fleet

    /**
     * Returns a copy that names this host in a fleet.
     *
     * @param name the host's name: 1–253 characters of {@code a-z A-Z 0-9 . - _}, not starting with {@code .} or
     *     {@code -}
     * @return the new settings
     * @throws InvalidNetworkSpecException if the name is not such a name
     */
    public ProviderSettings withHost(String name) {
        return with(HOST, requireHostName(name, "the host name"));
    }

    /**
     * Returns this host's name among the hosts of a shared registry: the {@value #HOST} option, else the name the
     * kernel gives this host's UTS namespace ({@code /proc/sys/kernel/hostname}), else
     * {@link InetAddress#getLocalHost()}'s name.
     *
     * @return the host's name
     * @throws InvalidNetworkSpecException if no option is set and the machine's name is not a valid host name (the
     *     message says what is accepted and how to set one)
     */
    public String host() {
        String set = options.get(HOST);
        return set != null ? set : defaultHost(KERNEL_HOSTNAME);
    }

    /** The machine's name as {@code hostnameFile} (the kernel's) says, else as the resolver library says. */
    static String defaultHost(Path hostnameFile) {
        String name = null;
        try {
            name = Files.readString(hostnameFile, StandardCharsets.US_ASCII).strip();
        } catch (IOException | RuntimeException e) {
            try {
                name = InetAddress.getLocalHost().getHostName();
            } catch (UnknownHostException unknown) {
                name = unknown.getMessage() == null ? null : unknown.getMessage().split(":")[0].strip();
            }
        }
        if (!HostRecord.isValidName(name)) {
            throw new InvalidNetworkSpecException("this machine's name \"" + name + "\" is no valid host name for a"
                    + " fleet (1-253 characters of a-z, A-Z, 0-9, '.', '-' and '_', not starting with '.' or '-'): set"
                    + " one with --host, TAPWIRE_HOST or ProviderSettings.withHost");
        }
        return name;
    }

    /**
     * Returns a copy with this host's tunnel endpoint: the address other hosts send its members' overlay traffic to.
     *
     * @param address the underlay address, an address of this host
     * @return the new settings
     * @throws InvalidNetworkSpecException if the address is null
     */
    public ProviderSettings withUnderlay(Ipv4Address address) {
        if (address == null) {
            throw new InvalidNetworkSpecException("the underlay address must not be null; give this host's address on"
                    + " the network between the hosts, e.g. 198.51.100.1");
        }
        return with(UNDERLAY, address.toString());
    }

    /**
     * Returns this host's tunnel endpoint: the {@value #UNDERLAY} option, else the source address the kernel picks
     * for the route towards the registry's first endpoint ({@link dev.tapwire.network.PlacementRegistry#defaultUnderlayTarget()}:
     * a connected UDP socket's local address, nothing is sent; a host name there is resolved), else — no registry,
     * or one reached over no network, as the single-host file registry — {@link #SINGLE_HOST_UNDERLAY}.
     *
     * @return the underlay address
     * @throws NetworkException if the route towards the registry cannot be found or its source is no IPv4 address
     *     (the message says to set the underlay)
     */
    public Ipv4Address underlay() {
        String set = options.get(UNDERLAY);
        if (set != null) {
            return parseUnderlay(set);
        }
        Optional<InetSocketAddress> target = registry == null ? Optional.empty()
                : registry.placements().defaultUnderlayTarget();
        return target.map(ProviderSettings::routeSource).orElse(SINGLE_HOST_UNDERLAY);
    }

    /**
     * Returns the source address the kernel picks for the route towards {@code target}: the local address of a UDP
     * socket connected to it (connecting a UDP socket sends nothing).
     *
     * @param target where to route to; resolved when it is a name
     * @return the source address
     * @throws NetworkException if there is no route, the name does not resolve, or the source is no IPv4 address
     */
    public static Ipv4Address routeSource(InetSocketAddress target) {
        InetSocketAddress resolved = target.isUnresolved()
                ? new InetSocketAddress(target.getHostString(), target.getPort()) : target;
        String advice = "; set this host's underlay address (--underlay, TAPWIRE_UNDERLAY or"
                + " ProviderSettings.withUnderlay)";
        if (resolved.isUnresolved()) {
            throw new NetworkException("cannot find this host's underlay address: the registry's endpoint "
                    + target.getHostString() + " does not resolve" + advice);
        }
        try (DatagramSocket socket = new DatagramSocket()) {
            socket.connect(new InetSocketAddress(resolved.getAddress(), Math.max(1, resolved.getPort())));
            InetAddress local = socket.getLocalAddress();
            if (!(local instanceof Inet4Address) || local.isAnyLocalAddress()) {
                throw new NetworkException("cannot find this host's underlay address: the route towards the registry's"
                        + " endpoint " + resolved + " leaves from " + local.getHostAddress() + ", no IPv4 address of"
                        + " this host" + advice);
            }
            return Ipv4Address.parse(local.getHostAddress());
        } catch (IOException | java.io.UncheckedIOException e) {
            throw new NetworkException("cannot find this host's underlay address: no route towards the registry's"
                    + " endpoint " + resolved + " (" + e.getMessage() + ")" + advice, e);
        }
    }

    /**
     * Returns a copy with this host's lease TTL: how long its host record and placements outlive its last renewal.
     *
     * @param ttl at least 2 s; whole milliseconds
     * @return the new settings
     * @throws InvalidNetworkSpecException if the TTL is null or shorter than 2 s
     */
    public ProviderSettings withHostTtl(Duration ttl) {
        if (ttl == null) {
            throw new InvalidNetworkSpecException("the host TTL must not be null; e.g. 10s");
        }
        return with(HOST_TTL, ttl.toMillis() + "ms");
    }

    /**
     * Returns this host's lease TTL: the {@value #HOST_TTL} option, else {@link #DEFAULT_HOST_TTL} (10 s).
     *
     * @return the TTL, at least 2 s
     */
    public Duration hostTtl() {
        String set = options.get(HOST_TTL);
        return set == null ? DEFAULT_HOST_TTL : parseTtl(set);
    }

    private static String requireHostName(String name, String what) {
        if (!HostRecord.isValidName(name)) {
            throw new InvalidNetworkSpecException(what + " \"" + name + "\" is invalid: accepted are 1-253"
                    + " characters of a-z, A-Z, 0-9, '.', '-' and '_', not starting with '.' or '-'");
        }
        return name;
    }

    private static Ipv4Address parseUnderlay(String text) {
        if (text == null || !Ipv4Address.isValid(text.strip())) {
            throw new InvalidNetworkSpecException("the " + UNDERLAY + " setting \"" + text + "\" is no IPv4 address:"
                    + " give this host's address on the network between the hosts as a dotted quad, e.g."
                    + " 198.51.100.1");
        }
        return Ipv4Address.parse(text.strip());
    }

    private static Duration parseTtl(String text) {
        String t = text == null ? "" : text.strip();
        Duration ttl = null;
        try {
            if (t.endsWith("ms")) {
                ttl = Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
            } else if (t.endsWith("s")) {
                ttl = Duration.ofSeconds(Long.parseLong(t.substring(0, t.length() - 1)));
            } else {
                ttl = Duration.ofSeconds(Long.parseLong(t));
            }
        } catch (NumberFormatException e) {
            ttl = null;
        }
        if (ttl == null || ttl.compareTo(MIN_HOST_TTL) < 0) {
            throw new InvalidNetworkSpecException("the " + HOST_TTL + " setting \"" + text + "\" is invalid: accepted"
                    + " is a duration of at least 2 s, as 10s, 2500ms or whole seconds (10)");
        }
        return ttl;
    }
}
