package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.InvalidNetworkSpecException;
import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.bridge.PortSecurity.Entry;
import dev.tapwire.network.bridge.PortSecurity.Mode;
import dev.tapwire.network.bridge.linux.Nftables;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The port-security table as the kernel holds it: elements per port, repairs, owners, bad input, scale. */
@IsolatedNetns
class PortSecurityTest {

    private static final MacAddress MAC_A = MacAddress.parse("02:00:00:00:00:0a");
    private static final MacAddress MAC_B = MacAddress.parse("02:00:00:00:00:0b");
    private static final Ipv4Address IP_A = Ipv4Address.parse("10.44.1.10");
    private static final Ipv4Address IP_B = Ipv4Address.parse("10.44.1.11");

    private PortSecurity security;

    @BeforeEach
    void nftables() {
        HostRequirements.assume(Nftables.unavailabilityCause());
        security = new PortSecurity("t1");
    }

    @Test
    void aPortIsAdmittedWithItsElementsAndTheTableReadsBackAsCreated() {
        assertThat(security.admit("bt0000000a-0", Entry.strict(MAC_A, IP_A))).containsExactly(
                "nftables table bridge tapwire_portsec_t1 created");

        String listing = Nftables.run("list table " + security.table());
        assertThat(listing).contains("\"bt0000000a-0\" . 02:00:00:00:00:0a").contains("\"bt0000000a-0\" . 10.44.1.10");
        assertThat(security.admitted()).containsExactly(Map.entry("bt0000000a-0", Entry.strict(MAC_A, IP_A)));
        // the kernel lists the rules exactly as created: nothing to repair, nothing wrong
        assertThat(security.verify(Map.of("bt0000000a-0", Entry.strict(MAC_A, IP_A)), true)).isEmpty();
        assertThat(security.reconcile(Map.of("bt0000000a-0", Entry.strict(MAC_A, IP_A)))).isEmpty();
    }

    @Test
    void admitIsIdempotentAndReplacesAPortsPreviousEntry() {
        security.admit("p0", Entry.strict(MAC_A, IP_A));
        assertThat(security.admit("p0", Entry.strict(MAC_A, IP_A))).isEmpty();

        assertThat(security.admit("p0", Entry.strict(MAC_B, IP_B))).containsExactly(
                "port p0 had elements other than its MAC 02:00:00:00:00:0b and address 10.44.1.11: replaced");
        assertThat(security.admitted()).containsExactly(Map.entry("p0", Entry.strict(MAC_B, IP_B)));

        security.admit("p0", Entry.macOnly(MAC_A));
        assertThat(security.admitted()).containsExactly(Map.entry("p0", Entry.macOnly(MAC_A)));
        security.admit("p0", Entry.open());
        assertThat(security.admitted()).containsExactly(Map.entry("p0", Entry.open()));
        assertThat(Nftables.run("list table " + security.table())).doesNotContain("02:00:00:00:00:0a");
    }

    @Test
    void revokeRemovesOnlyTheNamedPorts() {
        security.admit(Map.of("p0", Entry.strict(MAC_A, IP_A), "p1", Entry.macOnly(MAC_B), "p2", Entry.open()),
                Map::of);

        security.revoke(List.of("p0", "p2", "never-admitted"));

        assertThat(security.admitted()).containsExactly(Map.entry("p1", Entry.macOnly(MAC_B)));
        assertThat(security.revoke(List.of("p0"))).isEmpty();
    }

    @Test
    void revokeWithTheRecordedEntriesDeletesThemAndFallsBackToTheTableWhenTheRecordIsWrong() {
        security.admit(Map.of("p0", Entry.strict(MAC_A, IP_A), "p1", Entry.macOnly(MAC_B), "p2", Entry.open()),
                Map::of);

        assertThat(security.revoke(Map.of("p0", Entry.strict(MAC_A, IP_A)))).containsExactly("port p0: revoked");
        assertThat(security.admitted()).containsOnlyKeys("p1", "p2");
        // the record says another MAC than the kernel holds: the table is read, and every element of p1 goes
        assertThat(security.revoke(Map.of("p1", Entry.macOnly(MAC_A)))).isNotEmpty();
        assertThat(security.admitted()).containsOnlyKeys("p2");
        Nftables.run("flush ruleset");
        assertThat(security.revoke(Map.of("p2", Entry.open()))).as("nothing left to revoke").isEmpty();
    }

    @Test
    void reconcileRestoresAFlushedRulesetAndAlteredRulesAndRemovesStrays() {
        Map<String, Entry> expected = Map.of("p0", Entry.strict(MAC_A, IP_A), "p1", Entry.macOnly(MAC_B));
        security.admit(expected, Map::of);

        Nftables.run("flush ruleset");
        assertThat(security.verify(expected, true)).containsExactly(
                "nftables table " + security.table()
                        + " was missing (was the ruleset flushed, or the host restarted?): recreated");
        assertThat(security.reconcile(expected)).hasSize(1);
        assertThat(security.admitted()).isEqualTo(expected);

        Nftables.run("flush chain " + security.table() + " guard"); // someone empties the rules, elements stay
        assertThat(security.verify(expected, true)).containsExactly(
                "nftables table " + security.table() + "'s rules were changed by someone else: recreated");
        security.reconcile(expected);
        assertThat(security.verify(expected, true)).isEmpty();
        assertThat(Nftables.run("list chain " + security.table() + " guard"))
                .contains("iifname . ip saddr != @addrs drop");

        Nftables.run("add element " + security.table() + " macs { \"stray0\" . 02:00:00:00:00:66 }\n"
                + "add element " + security.table() + " ports { \"stray0\" }\n"
                + "delete element " + security.table() + " addrs { \"p0\" . 10.44.1.10 }");
        assertThat(security.reconcile(expected)).containsExactlyInAnyOrder(
                "port stray0 was admitted but is not expected: revoked",
                "port p0 lacked its MAC 02:00:00:00:00:0a and address 10.44.1.10: added");
        assertThat(security.admitted()).isEqualTo(expected);
    }

    @Test
    void admitAfterAFlushRecreatesTheTableWithEveryoneItIsGiven() {
        Map<String, Entry> everyone = Map.of("p0", Entry.strict(MAC_A, IP_A), "p1", Entry.macOnly(MAC_B));
        security.admit(everyone, Map::of);
        Nftables.run("flush ruleset");

        assertThat(security.admit(Map.of("p1", Entry.strict(MAC_B, IP_B), "p2", Entry.open()), () -> everyone))
                .containsExactly("nftables table " + security.table()
                        + " was missing (was the ruleset flushed, or the host restarted?): recreated");
        assertThat(security.admitted()).isEqualTo(Map.of("p0", Entry.strict(MAC_A, IP_A), "p1",
                Entry.strict(MAC_B, IP_B), "p2", Entry.open()));

        // without a flush, everyone is not even asked for
        assertThat(security.admit(Map.of("p3", Entry.open()), () -> {
            throw new AssertionError("asked for everyone although the table is there");
        })).containsExactly("port p3 lacked its open (unfiltered) entry: added");
        security.admit(Map.of("p3", Entry.macOnly(MAC_A)), () -> {
            throw new AssertionError("asked for everyone although the table is there");
        });
    }

    @Test
    void verifyOfSomePortsLooksAtThoseOnly() {
        security.admit(Map.of("p0", Entry.strict(MAC_A, IP_A), "p1", Entry.macOnly(MAC_B)), Map::of);

        assertThat(security.verify(Map.of("p0", Entry.strict(MAC_A, IP_A)), false)).isEmpty();
        assertThat(security.verify(Map.of("p0", Entry.strict(MAC_A, IP_A)), true)).containsExactly(
                "port p1 was admitted but is not expected: revoked");
        assertThat(security.verify(Map.of("p0", Entry.strict(MAC_B, IP_A)), false)).containsExactly(
                "port p0 had elements other than its MAC 02:00:00:00:00:0b and address 10.44.1.10: replaced");
        assertThat(security.admitted()).containsOnlyKeys("p0", "p1"); // verify changed nothing
    }

    @Test
    void twoOwnersInOneNamespaceNeverTouchEachOthersElements() {
        PortSecurity other = new PortSecurity("t2");
        security.admit("p0", Entry.strict(MAC_A, IP_A));
        other.admit("q0", Entry.strict(MAC_B, IP_B));

        assertThat(security.reconcile(Map.of())).containsExactly("port p0 was admitted but is not expected: revoked");
        assertThat(other.admitted()).containsOnlyKeys("q0");
        security.admit("q0", Entry.macOnly(MAC_A)); // the same port name in another owner's table
        security.drop();
        assertThat(other.admitted()).containsExactly(Map.entry("q0", Entry.strict(MAC_B, IP_B)));
        assertThat(Nftables.run("list tables")).doesNotContain(security.table()).contains(other.table());
        security.drop(); // a missing table is fine
    }

    @Test
    void managersInTwoProcessesAdmittingAndRevokingAtOnceLoseNothing() throws Exception {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<Process> managers = new ArrayList<>();
        for (String prefix : List.of("a", "b")) {
            // started from this thread, so each child lives in this test's network namespace
            managers.add(new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"),
                    PortSecurityMain.class.getName(), "t1", prefix, "40").redirectErrorStream(true).start());
        }
        for (Process manager : managers) {
            String out = new String(manager.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(manager.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(manager.exitValue()).as(out).isZero();
        }
        Map<String, Entry> expected = new TreeMap<>();
        for (String prefix : List.of("a", "b")) {
            for (int i = 0; i < 40; i += 2) {
                expected.put(prefix + i, PortSecurityMain.entry(prefix, i, 2));
            }
        }
        assertThat(security.admitted()).isEqualTo(expected);
        assertThat(security.verify(expected, true)).isEmpty();
    }

    @Test
    void badInputIsRefusedSayingWhatIsAcceptedAndChangesNothing() {
        security.admit("p0", Entry.strict(MAC_A, IP_A));
        String before = Nftables.run("list table " + security.table());

        assertThatThrownBy(() -> security.admit(Map.of("p1", Entry.macOnly(MAC_B), "x\" }\nflush ruleset\n",
                Entry.open()), Map::of)).isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("1-15 characters of A-Z, a-z, 0-9, '_', '.' and '-'");
        assertThatThrownBy(() -> security.revoke(List.of("p0", "a-very-long-port-name"))).isInstanceOf(
                InvalidNetworkSpecException.class).hasMessageContaining("a-very-long-port-name");
        assertThatThrownBy(() -> security.reconcile(Map.of("", Entry.open()))).isInstanceOf(
                InvalidNetworkSpecException.class);
        assertThatThrownBy(() -> new PortSecurity("../Other")).isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("1-32 characters of a-z and 0-9");
        assertThatThrownBy(() -> Entry.strict(MacAddress.parse("01:00:5e:00:00:01"), IP_A)).isInstanceOf(
                InvalidNetworkSpecException.class).hasMessageContaining("must be unicast");
        assertThatThrownBy(() -> new Entry(Mode.OPEN, Optional.of(MAC_A), Optional.empty())).isInstanceOf(
                InvalidNetworkSpecException.class).hasMessageContaining("takes no MAC and no address");
        assertThatThrownBy(() -> new Entry(Mode.STRICT, Optional.of(MAC_A), Optional.empty())).isInstanceOf(
                InvalidNetworkSpecException.class).hasMessageContaining("takes a MAC and an address");

        assertThatThrownBy(() -> new Entry(null, Optional.empty(), Optional.empty())).isInstanceOf(
                InvalidNetworkSpecException.class).hasMessageContaining("needs a mode");
        Map<String, Entry> noEntry = new java.util.HashMap<>();
        noEntry.put("p1", null);
        assertThatThrownBy(() -> security.reconcile(noEntry)).isInstanceOf(InvalidNetworkSpecException.class)
                .hasMessageContaining("port p1 has no port-security entry");

        assertThat(Nftables.run("list table " + security.table())).isEqualTo(before);
    }

    @Test
    void aThousandPortsAreAdmittedInOneTransactionAndTheRulesDoNotGrow() {
        security.admit("p0", Entry.strict(MAC_A, IP_A));
        int rulesForOne = rules(Nftables.run("list table " + security.table()));

        Map<String, Entry> many = new LinkedHashMap<>();
        for (int i = 0; i < 1000; i++) {
            many.put("bt" + String.format("%08x", i) + "-0", Entry.strict(MacAddress.of(new byte[] {2, 0, 0, 0,
                    (byte) (i >> 8), (byte) i}), Ipv4Address.of(10, 44, 100 + (i >> 8), i & 0xff)));
        }
        long t0 = System.nanoTime();
        security.admit(many, Map::of);
        long admit = System.nanoTime() - t0;
        many.put("p0", Entry.strict(MAC_A, IP_A));
        t0 = System.nanoTime();
        assertThat(security.reconcile(many)).isEmpty();
        long reconcile = System.nanoTime() - t0;
        t0 = System.nanoTime();
        security.admit("bt00000001-0", Entry.strict(MAC_B, IP_B)); // one TAP reconfigured among 1,000
        long one = System.nanoTime() - t0;
        t0 = System.nanoTime();
        for (int i = 0; i < 200; i++) { // 200 new TAPs among 1,000, one configure each
            String port = "bt0001" + String.format("%04x", i) + "-0";
            Entry entry = Entry.strict(MacAddress.of(new byte[] {2, 1, 0, 0, (byte) (i >> 8), (byte) i}),
                    Ipv4Address.of(10, 45, i >> 8, i & 0xff));
            security.admit(port, entry);
            many.put(port, entry);
        }
        long fresh = (System.nanoTime() - t0) / 200;
        t0 = System.nanoTime();
        for (int i = 0; i < 200; i++) { // the reference: the cheapest libnftables transaction, a no-op
            Nftables.run("add table " + security.table());
        }
        long noop = (System.nanoTime() - t0) / 200;
        String listing = Nftables.run("list table " + security.table());
        t0 = System.nanoTime();
        security.revoke(many.keySet());
        long revoke = System.nanoTime() - t0;

        assertThat(rules(listing)).isEqualTo(rulesForOne);
        assertThat(listing.split("\"bt", -1)).hasSize(1 + 4 * 1200); // ports, strict, macs and addrs elements of each
        assertThat(security.admitted()).isEmpty();
        System.out.printf("port security at 1,000 ports: %d rules (%d with 1 port); admit 1,000 in one transaction "
                + "%.1f ms, no-op reconcile %.1f ms, re-admit one with another MAC %.1f ms, admit one new (mean of 200) %.2f ms "
                + "against %.2f ms for a no-op libnftables transaction, revoke 1,000 %.1f ms%n", rules(listing),
                rulesForOne, admit / 1e6, reconcile / 1e6, one / 1e6, fresh / 1e6, noop / 1e6, revoke / 1e6);
    }

    /** Counts rules: the lines of chains that are neither the chain's header, its hook line nor its end. */
    private static int rules(String listing) {
        int rules = 0;
        boolean inChain = false;
        for (String line : listing.lines().map(String::strip).toList()) {
            if (line.startsWith("chain ")) {
                inChain = true;
            } else if (line.equals("}")) {
                inChain = false;
            } else if (inChain && !line.isEmpty() && !line.startsWith("type ")) {
                rules++;
            }
        }
        return rules;
    }
}
