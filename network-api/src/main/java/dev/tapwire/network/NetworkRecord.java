package dev.tapwire.network;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Optional;

/**
 * One named network of the registry, as stored in {@code index.json}:
 * {@code {"name", "subnet", "gateway", "created_at", "members"}}.
 *
 * <p>{@code created_at} is omitted from JSON when null and {@code members} when empty; in Java
 * {@code members} is never null.
 *
 * @param name the network name (see {@link NetworkNames})
 * @param subnet the network's subnet
 * @param gateway the gateway address, inside the subnet
 * @param createdAt when the network was created, or null when unknown
 * @param members the member workspaces in join order, never null
 */
@JsonPropertyOrder({"name", "subnet", "gateway", "created_at", "members"})
@JsonIgnoreProperties(ignoreUnknown = true)
public record NetworkRecord(
        @JsonProperty("name") String name,
        @JsonProperty("subnet") Ipv4Subnet subnet,
        @JsonProperty("gateway") Ipv4Address gateway,
        @JsonIgnore Instant createdAt,
        @JsonProperty("members") @JsonInclude(JsonInclude.Include.NON_EMPTY) List<Member> members) {

    /**
     * Validates the record's shape and copies the member list.
     *
     * @param name the network name (see {@link NetworkNames})
     * @param subnet the network's subnet
     * @param gateway the gateway address, inside the subnet
     * @param createdAt when the network was created, or null when unknown
     * @param members the member workspaces in join order, never null
     * @throws InvalidNetworkSpecException if the name is invalid, the subnet or gateway is missing,
     *     or the gateway lies outside the subnet
     */
    public NetworkRecord {
        NetworkNames.requireValid(name);
        if (subnet == null) {
            throw new InvalidNetworkSpecException("network " + name + " has no subnet");
        }
        if (gateway == null) {
            throw new InvalidNetworkSpecException("network " + name + " has no gateway");
        }
        if (!subnet.contains(gateway)) {
            throw new InvalidNetworkSpecException("network " + name + ": gateway " + gateway
                    + " is outside its subnet " + subnet);
        }
        members = members == null ? List.of() : List.copyOf(members);
    }

    /**
     * Creates a record from its JSON fields; {@code created_at} is RFC 3339 text (any offset) or null.
     *
     * @param name the network name
     * @param subnet the subnet
     * @param gateway the gateway
     * @param createdAt RFC 3339 timestamp text, or null
     * @param members the members, or null
     * @return the record
     * @throws InvalidNetworkSpecException if a field is invalid, including an unparsable timestamp
     */
    @JsonCreator
    public static NetworkRecord fromJson(@JsonProperty("name") String name, @JsonProperty("subnet") Ipv4Subnet subnet,
            @JsonProperty("gateway") Ipv4Address gateway, @JsonProperty("created_at") String createdAt,
            @JsonProperty("members") List<Member> members) {
        return new NetworkRecord(name, subnet, gateway, parseTimestamp(createdAt), members);
    }

    /**
     * Returns {@code created_at} as the Go reference writes it (RFC 3339 in UTC, fraction only when non-zero,
     * without trailing zeros), or null when unknown.
     *
     * @return the timestamp text, e.g. {@code 2026-11-22T18:38:30Z}
     */
    @JsonProperty("created_at")
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public String createdAtText() {
        if (createdAt == null) {
            return null;
        }
        String text = DateTimeFormatter.ISO_LOCAL_DATE_TIME.format(createdAt.atOffset(ZoneOffset.UTC).withNano(0));
        int nanos = createdAt.getNano();
        if (nanos == 0) {
            return text + 'Z';
        }
        String fraction = String.format("%09d", nanos).replaceFirst("0+$", "");
        return text + '.' + fraction + 'Z';
    }

    private static Instant parseTimestamp(String text) {
        if (text == null || text.isEmpty()) {
            return null;
        }
        try {
            return OffsetDateTime.parse(text).toInstant();
        } catch (DateTimeParseException e) {
            throw new InvalidNetworkSpecException("invalid created_at " + Ipv4Address.quote(text)
                    + ": expected an RFC 3339 timestamp such as 2026-11-22T18:38:30Z", e);
        }
    }

    /**
     * Finds the membership of {@code workspace}.
     *
     * @param workspace the workspace name
     * @return the member, or empty when the workspace has not joined
     */
    public Optional<Member> member(String workspace) {
        for (Member m : members) {
            if (m.workspace().equals(workspace)) {
                return Optional.of(m);
            }
        }
        return Optional.empty();
    }

    /**
     * Returns a copy of this record with {@code members} in place of the current members.
     *
     * @param newMembers the new member list
     * @return the new record
     */
    public NetworkRecord withMembers(List<Member> newMembers) {
        return new NetworkRecord(name, subnet, gateway, createdAt, newMembers);
    }

    /**
     * Returns the member workspace names in join order.
     *
     * @return an immutable list of names
     */
    @JsonIgnore
    public List<String> workspaces() {
        return members.stream().map(Member::workspace).toList();
    }
}
