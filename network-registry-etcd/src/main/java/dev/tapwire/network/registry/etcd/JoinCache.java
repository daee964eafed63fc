package dev.tapwire.network.registry.etcd;

import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.Ipv4Subnet;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What one registry client knows of each network's keys — the network's record, its hint and the address keys of a
 * window from the hint on — from its own reads and writes and from a watch of the registry's keys, so that a join
 * can choose its candidates and commit in one round trip, without reading first.
 *
 * <p>Nothing here is trusted. A join made from it sends the transaction a join read just before would send: it
 * compares the network's and the hint's revisions, the member's and the candidate address's absence and the marks,
 * so a stale entry only makes that transaction fail (its else branch then carries the reads the join goes on with).
 * Every fact carries the revision it is from and only a newer one replaces it, so a watch event that arrives after
 * this client's own write of a later revision changes nothing.
 */
final class JoinCache {

    private static final Logger LOG = LoggerFactory.getLogger(JoinCache.class);

    /**
     * The candidates of a join chosen from the cache, and the revisions its transaction must compare.
     *
     * @param networkKv the network's key as last seen
     * @param record the network it holds
     * @param hint the hint: every host below it is taken
     * @param hintRevision the hint key's revision (0: no hint key)
     * @param free free host offsets, lowest first
     */
    record Choice(KeyValue networkKv, NetworkRecord record, long hint, long hintRevision, List<Long> free) {
    }

    /** An address key's state at a revision. */
    private record Slot(boolean taken, long revision) {
    }

    /** One network's keys as known: the address keys with offsets in {@code [windowStart, windowEnd)} are known. */
    private static final class Entry {
        final long primedAt;
        final long windowStart;
        final long windowEnd;
        KeyValue networkKv;
        NetworkRecord record;
        long hint;
        long hintRevision;
        /** Offsets in the window taken at {@code primedAt} or changed since; any other offset there is free. */
        final Map<Long, Slot> slots = new HashMap<>();
        /** Joins still to be refused a choice since one made from this entry lost a race (see {@link #missed}). */
        int skip;
        /** Offsets offered to joins of this client still in flight: the next join is offered others. */
        final Map<Long, Integer> offered = new HashMap<>();

        Entry(long primedAt, long windowStart, long windowEnd) {
            this.primedAt = primedAt;
            this.windowStart = windowStart;
            this.windowEnd = windowEnd;
        }

        void address(long offset, boolean taken, long revision) {
            if (offset < windowStart || offset >= windowEnd || revision <= primedAt) {
                return;
            }
            Slot slot = slots.get(offset);
            if (slot == null || slot.revision() < revision) {
                slots.put(offset, new Slot(taken, revision));
            }
        }

        boolean taken(long offset) {
            Slot slot = slots.get(offset);
            return slot != null && slot.taken();
        }
    }

    private final Function<KeyValue, NetworkRecord> decode;
    // guarded by this
    private final Map<String, Entry> networks = new HashMap<>();

    /** A cache whose network keys are read by {@code decode}. */
    JoinCache(Function<KeyValue, NetworkRecord> decode) {
        this.decode = decode;
    }

    /** The first host offset past the subnet's hosts (the broadcast address is no host). */
    static long hostsEnd(Ipv4Subnet subnet) {
        return subnet.prefixLength() < 31 ? subnet.size() - 1 : subnet.size();
    }

    /**
     * Starts (or starts again) what is known of a network from one read at {@code revision}: its key, its hint and
     * a page of its address keys (keys only) from {@code windowStart} on.
     */
    synchronized void prime(long revision, KeyValue networkKv, NetworkRecord record, long hint, long hintRevision,
            long windowStart, GetResponse page) {
        Entry known = networks.get(record.name());
        if (known != null && known.primedAt > revision) {
            return; // a later read primed it already
        }
        List<KeyValue> keys = page.getKvs();
        long windowEnd = page.isMore() && !keys.isEmpty() ? offsetOf(keys.get(keys.size() - 1)) + 1
                : hostsEnd(record.subnet());
        Entry entry = new Entry(revision, windowStart, windowEnd);
        entry.networkKv = networkKv;
        entry.record = record;
        entry.hint = hint;
        entry.hintRevision = hintRevision;
        if (known != null) { // what this client's joins did with the entry before carries over
            entry.skip = known.skip;
            entry.offered.putAll(known.offered);
        }
        for (KeyValue taken : keys) {
            long offset = offsetOf(taken);
            if (offset >= windowStart && offset < windowEnd) {
                entry.slots.put(offset, new Slot(true, taken.getModRevision()));
            }
        }
        networks.put(record.name(), entry);
    }

    /**
     * Chooses up to {@code count} free hosts from the hint on that no other join of this client was offered and is
     * still trying, or returns null when the cache cannot: the network is not known, the hint lies below the known
     * window, no such free host is known, or {@code longRun} hosts from the hint on are taken (a join then raises the
     * hint, which it does from a read). Each choice is to be {@link #settled} when its join has its answer.
     */
    synchronized Choice choose(String network, int count, int longRun) {
        Entry entry = networks.get(network);
        if (entry == null || entry.hint < entry.windowStart) {
            return null;
        }
        if (entry.skip > 0) {
            entry.skip--;
            return null;
        }
        long gateway = entry.record.gateway().toLong() - entry.record.subnet().networkAddress().toLong();
        long end = Math.min(entry.windowEnd, hostsEnd(entry.record.subnet()));
        List<Long> free = new ArrayList<>(count);
        int run = 0;
        for (long o = Math.max(1, entry.hint); o < end && free.size() < count; o++) {
            if (entry.taken(o)) {
                if (free.isEmpty() && ++run >= longRun) {
                    return null;
                }
            } else if (o != gateway && !entry.offered.containsKey(o)) {
                free.add(o);
            }
        }
        if (free.isEmpty()) {
            return null;
        }
        for (long o : free) {
            entry.offered.merge(o, 1, Integer::sum);
        }
        return new Choice(entry.networkKv, entry.record, entry.hint, entry.hintRevision, List.copyOf(free));
    }

    /**
     * The join that {@code choice} was made for has its answer: its candidates may be offered again (to a join of
     * another workspace, if the one it took is freed).
     */
    synchronized void settled(String network, Choice choice) {
        Entry entry = networks.get(network);
        if (entry != null) {
            for (long o : choice.free()) {
                entry.offered.computeIfPresent(o, (k, n) -> n == 1 ? null : n - 1);
            }
        }
    }

    /**
     * A join chosen from this cache lost a race (its transaction failed): other clients are changing the network
     * faster than the watch tells, so the next {@code joins} joins read first — a failed transaction that writes goes
     * through etcd's log like a successful one, a read does not.
     */
    synchronized void missed(String network, int joins) {
        Entry entry = networks.get(network);
        if (entry != null) {
            entry.skip = joins;
        }
    }

    /** This client took {@code offset} in a transaction of {@code revision}. */
    synchronized void taken(String network, long offset, long revision) {
        Entry entry = networks.get(network);
        if (entry != null) {
            entry.address(offset, true, revision);
        }
    }

    /** This client freed {@code offset} and wrote the hint {@code hint} in a transaction of {@code revision}. */
    synchronized void freed(String network, long offset, long hint, long revision) {
        Entry entry = networks.get(network);
        if (entry != null) {
            entry.address(offset, false, revision);
            hint(network, entry, hint, revision);
        }
    }

    /** This client wrote the hint {@code hint} in a transaction of {@code revision}. */
    synchronized void hint(String network, long hint, long revision) {
        Entry entry = networks.get(network);
        if (entry != null) {
            hint(network, entry, hint, revision);
        }
    }

    private void hint(String network, Entry entry, long hint, long revision) {
        if (revision > entry.hintRevision) {
            entry.hint = hint;
            entry.hintRevision = revision;
            if (hint < entry.windowStart) {
                networks.remove(network); // below the window nothing is known: the next join reads
            }
        }
    }

    /**
     * Applies one event of the registry's watch ({@code rest} is the key below the registry's prefix): the network's
     * key, its hint and its address keys are followed; a network removed, an import applied or a key that cannot be
     * read forgets what was known.
     */
    synchronized void event(String rest, boolean put, KeyValue kv) {
        if (networks.isEmpty()) {
            return;
        }
        long revision = kv.getModRevision(); // of a deletion too: etcd gives the tombstone the deleting revision
        if (rest.startsWith("a/")) {
            int slash = rest.lastIndexOf('/');
            Entry entry = networks.get(rest.substring(2, slash));
            if (entry != null) {
                entry.address(Long.parseLong(rest.substring(slash + 1), 16), put, revision);
            }
        } else if (rest.startsWith("h/")) {
            String network = rest.substring(2);
            Entry entry = networks.get(network);
            if (entry != null && revision > entry.hintRevision) {
                if (!put) {
                    networks.remove(network);
                    return;
                }
                hint(network, entry, Long.parseLong(EtcdNetworkRegistry.text(kv.getValue())), revision);
            }
        } else if (rest.startsWith("n/")) {
            String network = rest.substring(2);
            Entry entry = networks.get(network);
            if (entry != null && revision > entry.networkKv.getModRevision()) {
                if (!put) {
                    networks.remove(network);
                    return;
                }
                try {
                    entry.record = decode.apply(kv);
                    entry.networkKv = kv;
                } catch (RuntimeException e) {
                    LOG.debug("join cache: network key {} unreadable ({}); its next join reads", rest, e.toString());
                    networks.remove(network);
                }
            }
        } else if (rest.equals("commit")) {
            networks.clear(); // an import replaces every network's keys
        }
    }

    /** Forgets everything: the watch missed events (compacted revisions). */
    synchronized void clear() {
        networks.clear();
    }

    private static long offsetOf(KeyValue addressKv) {
        String k = EtcdNetworkRegistry.text(addressKv.getKey());
        return Long.parseLong(k.substring(k.length() - 8), 16);
    }
}
