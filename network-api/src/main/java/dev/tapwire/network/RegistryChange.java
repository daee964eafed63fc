package dev.tapwire.network;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One change to a registry, as {@link NetworkRegistry#watch} reports it, whichever process or host made it.
 *
 * <p>A watch either reports every change or, when it cannot (an etcd watch whose missed revisions were compacted
 * away), reports {@link Type#RESYNC}: the listener must then read the registry again ({@link
 * NetworkRegistry#readIndex()}, {@link NetworkRegistry#list()}) and take that as the truth, since changes before it
 * may not have been reported. Every change after a {@code RESYNC} is reported again.
 *
 * @param type what happened
 * @param network the network's name; null for {@link Type#RESYNC}
 * @param member the member that joined or left; null for a network change and for {@link Type#RESYNC}
 */
public record RegistryChange(Type type, String network, Member member) {

    /** What happened. */
    public enum Type {
        /** A network was created. */
        NETWORK_CREATED,
        /** A network was removed (its members' {@link #MEMBER_LEFT} come first). */
        NETWORK_REMOVED,
        /** A workspace joined a network; {@code member} holds its address. */
        MEMBER_JOINED,
        /** A workspace left a network; {@code member} holds the address it gave up. */
        MEMBER_LEFT,
        /** A network's subnet or gateway changed ({@link NetworkRegistry#writeIndex}); its members are reported apart. */
        NETWORK_CHANGED,
        /**
         * Changes may have been missed: read the registry again and take it as the truth. {@code network} and
         * {@code member} are null.
         */
        RESYNC
    }

    /**
     * Validates the change.
     *
     * @param type what happened
     * @param network the network's name; null for {@link Type#RESYNC}
     * @param member the member that joined or left; null for a network change and for {@link Type#RESYNC}
     * @throws NullPointerException if {@code type} is null, {@code network} is null for any change but
     *     {@link Type#RESYNC}, or {@code member} is null for a member change
     * @throws IllegalArgumentException if a {@link Type#RESYNC} names a network or a member
     */
    public RegistryChange {
        Objects.requireNonNull(type, "type");
        if (type == Type.RESYNC) {
            if (network != null || member != null) {
                throw new IllegalArgumentException("a RESYNC names no network and no member");
            }
        } else {
            Objects.requireNonNull(network, "network");
        }
        if (type == Type.MEMBER_JOINED || type == Type.MEMBER_LEFT) {
            Objects.requireNonNull(member, "member");
        }
    }

    /**
     * Returns the change that tells a listener it must read the registry again.
     *
     * @return a {@link Type#RESYNC}
     */
    public static RegistryChange resync() {
        return new RegistryChange(Type.RESYNC, null, null);
    }

    /**
     * Returns the changes that turn {@code before} into {@code after}: members left, networks removed, networks
     * changed (subnet or gateway), networks created, members joined — in that order, networks by name. A member
     * whose address changed is reported as having left and joined again.
     *
     * @param before the earlier index
     * @param after the later index
     * @return the changes, empty when the two hold the same networks and members
     */
    public static List<RegistryChange> between(NetworkIndex before, NetworkIndex after) {
        Map<String, NetworkRecord> old = byName(before);
        Map<String, NetworkRecord> now = byName(after);
        List<RegistryChange> left = new ArrayList<>();
        List<RegistryChange> removed = new ArrayList<>();
        List<RegistryChange> changed = new ArrayList<>();
        List<RegistryChange> created = new ArrayList<>();
        List<RegistryChange> joined = new ArrayList<>();
        for (NetworkRecord n : before.sorted().networks()) {
            NetworkRecord later = now.get(n.name());
            for (Member m : n.members()) {
                if (later == null || !later.members().contains(m)) {
                    left.add(new RegistryChange(Type.MEMBER_LEFT, n.name(), m));
                }
            }
            if (later == null) {
                removed.add(new RegistryChange(Type.NETWORK_REMOVED, n.name(), null));
            }
        }
        for (NetworkRecord n : after.sorted().networks()) {
            NetworkRecord earlier = old.get(n.name());
            if (earlier == null) {
                created.add(new RegistryChange(Type.NETWORK_CREATED, n.name(), null));
            } else if (!earlier.subnet().equals(n.subnet()) || !earlier.gateway().equals(n.gateway())) {
                changed.add(new RegistryChange(Type.NETWORK_CHANGED, n.name(), null));
            }
            for (Member m : n.members()) {
                if (earlier == null || !earlier.members().contains(m)) {
                    joined.add(new RegistryChange(Type.MEMBER_JOINED, n.name(), m));
                }
            }
        }
        List<RegistryChange> all = new ArrayList<>(left);
        all.addAll(removed);
        all.addAll(changed);
        all.addAll(created);
        all.addAll(joined);
        return all;
    }

    private static Map<String, NetworkRecord> byName(NetworkIndex index) {
        Map<String, NetworkRecord> map = new HashMap<>();
        for (NetworkRecord n : index.networks()) {
            map.putIfAbsent(n.name(), n);
        }
        return map;
    }
}
