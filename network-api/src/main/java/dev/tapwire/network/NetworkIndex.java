package dev.tapwire.network;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * The whole registry as stored in {@code networks/index.json}: {@code {"networks": [...]}}.
 *
 * <p>{@code "networks": null} and a missing field read as an empty list; in Java the list is never null.
 *
 * @param networks the networks, in the order given
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record NetworkIndex(@JsonProperty("networks") List<NetworkRecord> networks) {

    /** The empty index. */
    public static final NetworkIndex EMPTY = new NetworkIndex(List.of());

    /**
     * Copies the list, reading null as empty.
     *
     * @param networks the networks, in the order given
     */
    public NetworkIndex {
        networks = networks == null ? List.of() : List.copyOf(networks);
    }

    /**
     * Finds a network by name.
     *
     * @param name the network name
     * @return the network, or empty when absent
     */
    public Optional<NetworkRecord> find(String name) {
        for (NetworkRecord n : networks) {
            if (n.name().equals(name)) {
                return Optional.of(n);
            }
        }
        return Optional.empty();
    }

    /**
     * Returns this index with its networks sorted by name, as it is written to disk.
     *
     * @return a sorted index
     */
    public NetworkIndex sorted() {
        return new NetworkIndex(networks.stream().sorted(Comparator.comparing(NetworkRecord::name)).toList());
    }
}
