package dev.tapwire.network;

import java.util.Objects;

/**
 * One change to a {@link PlacementRegistry}, as its {@link PlacementRegistry#watch watch} reports it. A listener
 * that keeps host state in step should treat every change as a reason to reconcile (read the placements again and
 * apply the difference), and must do so after {@link Type#RESYNC}.
 *
 * @param type what happened
 * @param network the network of a placement change; null otherwise
 * @param workspace the workspace of a placement change; null otherwise
 * @param host the host the change concerns (its name); null for {@link Type#RESYNC}
 */
public record PlacementChange(Type type, String network, String workspace, String host) {

    /** What happened. */
    public enum Type {
        /** A member was placed on a host, or moved to another. */
        PLACED,
        /** A member's placement was removed. */
        UNPLACED,
        /** A host registered (or re-registered with another underlay address). */
        HOST_UP,
        /** A host's lease ended (expired or withdrawn): its placements are gone with it. */
        HOST_DOWN,
        /** Changes may have been missed: read the placements again and take them as the truth. */
        RESYNC
    }

    /**
     * Validates the change.
     *
     * @param type what happened
     * @param network the network of a placement change; null otherwise
     * @param workspace the workspace of a placement change; null otherwise
     * @param host the host the change concerns (its name); null for {@link Type#RESYNC}
     * @throws NullPointerException if {@code type} is null, or a field its type needs is null
     */
    public PlacementChange {
        Objects.requireNonNull(type, "type");
        if (type == Type.PLACED || type == Type.UNPLACED) {
            Objects.requireNonNull(network, "network");
            Objects.requireNonNull(workspace, "workspace");
        }
        if (type != Type.RESYNC) {
            Objects.requireNonNull(host, "host");
        }
    }

    /**
     * Returns the change that tells a listener it must read the placements again.
     *
     * @return a {@link Type#RESYNC}
     */
    public static PlacementChange resync() {
        return new PlacementChange(Type.RESYNC, null, null, null);
    }
}
