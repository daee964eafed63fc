package dev.tapwire.network;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/**
 * How one VM NIC is realized, in the JSON shape of the hypervisor manager's own VM record:
 * {@code {"tap","mac","num_queues","queue_size","backend","bridge_dev","netns_path","network"}}, empty
 * fields omitted.
 *
 * @param tap the host TAP device name
 * @param mac the guest MAC address
 * @param numQueues the number of virtio queues (2 per queue pair)
 * @param queueSize the virtio queue size
 * @param backend the provider type that made it, e.g. {@code bridge}
 * @param bridgeDev the bridge the TAP is attached to, or null
 * @param netnsPath the network namespace the TAP lives in, or null for the caller's own
 * @param network the guest IPv4 settings, or null when the guest uses DHCP
 */
@JsonPropertyOrder({"tap", "mac", "num_queues", "queue_size", "backend", "bridge_dev", "netns_path", "network"})
@JsonInclude(JsonInclude.Include.NON_EMPTY)
@JsonIgnoreProperties(ignoreUnknown = true)
public record NicConfig(
        @JsonProperty("tap") String tap,
        @JsonProperty("mac") MacAddress mac,
        @JsonProperty("num_queues") int numQueues,
        @JsonProperty("queue_size") int queueSize,
        @JsonProperty("backend") String backend,
        @JsonProperty("bridge_dev") String bridgeDev,
        @JsonProperty("netns_path") String netnsPath,
        @JsonProperty("network") GuestNetwork network) {

    /**
     * Validates the config.
     *
     * @param tap the host TAP device name
     * @param mac the guest MAC address
     * @param numQueues the number of virtio queues (2 per queue pair)
     * @param queueSize the virtio queue size
     * @param backend the provider type that made it, e.g. {@code bridge}
     * @param bridgeDev the bridge the TAP is attached to, or null
     * @param netnsPath the network namespace the TAP lives in, or null for the caller's own
     * @param network the guest IPv4 settings, or null when the guest uses DHCP
     * @throws InvalidNetworkSpecException if the TAP name or MAC is missing, or a count is negative
     */
    public NicConfig {
        if (tap == null || tap.isBlank()) {
            throw new InvalidNetworkSpecException("NIC config needs a tap name");
        }
        if (mac == null) {
            throw new InvalidNetworkSpecException("NIC config for " + tap + " needs a mac");
        }
        if (numQueues < 0 || queueSize < 0) {
            throw new InvalidNetworkSpecException("NIC config for " + tap + ": queue counts must not be negative");
        }
    }

    /**
     * Returns a copy with the guest's IPv4 settings, as a backend fills them in once the NIC's network is joined.
     *
     * @param guest the guest's address, gateway and prefix, or null for a guest that uses DHCP
     * @return the new config
     */
    public NicConfig withNetwork(GuestNetwork guest) {
        return new NicConfig(tap, mac, numQueues, queueSize, backend, bridgeDev, netnsPath, guest);
    }
}
