package dev.tapwire.network.bridge;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.bridge.PortSecurity.Entry;
import java.util.ArrayList;
import java.util.List;

/** A second manager process for the concurrency test: admits, re-admits and revokes its own ports of one owner. */
public final class PortSecurityMain {

    private PortSecurityMain() {
    }

    /**
     * Admits {@code count} ports named {@code <prefix><i>}, one call each, then re-admits each with another MAC
     * (the listing path) and revokes every other one; prints {@code done}.
     *
     * @param args the owner tag, the port prefix (one letter), the count
     */
    public static void main(String[] args) {
        PortSecurity security = new PortSecurity(args[0]);
        String prefix = args[1];
        int count = Integer.parseInt(args[2]);
        List<String> revoked = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            security.admit(prefix + i, entry(prefix, i, 1));
        }
        for (int i = 0; i < count; i++) {
            security.admit(prefix + i, entry(prefix, i, 2));
            if (i % 2 == 1) {
                revoked.add(prefix + i);
            }
        }
        security.revoke(revoked);
        System.out.println("done");
    }

    /** The entry the port {@code <prefix><i>} ends with in round {@code round}. */
    static Entry entry(String prefix, int i, int round) {
        return Entry.strict(MacAddress.of(new byte[] {2, (byte) prefix.charAt(0), 0, (byte) round, 0, (byte) i}),
                Ipv4Address.of(10, prefix.charAt(0), round, i));
    }
}
