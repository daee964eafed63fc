package dev.tapwire.network.spi;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.NetworkRegistry;
import java.nio.file.Path;
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
 * @param rootDir the directory the provider keeps its state and locks under
 * @param options backend options by key
 * @param registry the registry of named networks, or null when the provider serves no named networks
 */
public record ProviderSettings(Path rootDir, Map<String, String> options, NetworkRegistry registry) {

    /**
     * Validates and copies the options.
     *
     * @throws InvalidNetworkSpecException if the root directory is null or an option key or value is null
     */
    public ProviderSettings {
        if (rootDir == null) {
            throw new InvalidNetworkSpecException("provider settings need a root directory");
        }
        options = options == null ? Map.of() : Map.copyOf(options);
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
     * instead of a silent default. Backends call it when they are created.
     *
     * @param type the provider type, for the message
     * @param known the option keys the backend reads
     * @return these settings
     * @throws InvalidNetworkSpecException naming the unknown keys and listing the known ones
     */
    public ProviderSettings requireKnownOptions(String type, Set<String> known) {
        Set<String> unknown = new TreeSet<>(options.keySet());
        unknown.removeAll(known);
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
}
