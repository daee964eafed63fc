package dev.tapwire.network.spi;

import dev.tapwire.network.InvalidNetworkSpecException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What a provider is created with: a root (state) directory and string options.
 *
 * <p>The bridge backend reads {@code bridge} (device name), {@code owner} (uid) and {@code group} (gid).
 *
 * @param rootDir the directory the provider keeps its state and locks under
 * @param options backend options by key
 */
public record ProviderSettings(Path rootDir, Map<String, String> options) {

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
        return new ProviderSettings(rootDir, copy);
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
