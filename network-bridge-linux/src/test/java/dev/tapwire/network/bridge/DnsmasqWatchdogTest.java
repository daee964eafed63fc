package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.Ipv4Address;
import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.RegistryWatch;
import dev.tapwire.network.bridge.linux.Interfaces;
import dev.tapwire.network.bridge.linux.ProcessIdentity;
import dev.tapwire.network.bridge.linux.Rtnetlink;
import dev.tapwire.network.bridge.linux.TapQueue;
import dev.tapwire.network.bridge.linux.Tun;
import dev.tapwire.network.bridge.linux.raw.LibC;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.TemporaryRegistry;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The watchdog with a real dnsmasq in a private namespace: a dead one comes back, one that cannot is not spun on. */
@IsolatedNetns
class DnsmasqWatchdogTest {

    private static final int SIGKILL = 9;
    private static final String GATEWAY = "10.77.0.1";

    @TempDir
    Path root;

    private NetworkRealizer realizer;
    private Dnsmasq dnsmasq;
    private final List<AutoCloseable> closing = new ArrayList<>();

    @BeforeEach
    void realize(@TemporaryRegistry NetworkRegistry registry) {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        realizer = new NetworkRealizer(root, registry);
        registry.create("team", Ipv4Subnet.parse("10.77.0.0/24"));
        registry.join("team", "web");
        realizer.realize("team", false);
        dnsmasq = new Dnsmasq(NetworkRealizer.runtimeDir(root).resolve("team"), "team");
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
        for (Realization r : realizer.list()) {
            realizer.unrealize(r.network());
        }
    }

    private DnsmasqWatchdog watchdog(Consumer<Realization> restart, Duration healthy, long logCap) {
        DnsmasqWatchdog w = new DnsmasqWatchdog(NetworkRealizer.runtimeDir(root), realizer::list, restart, healthy,
                logCap);
        closing.add(0, w); // stopped before the network goes
        w.start();
        return w;
    }

    private void startRestarting() {
        watchdog(r -> dnsmasq.ensureRunning(r), DnsmasqWatchdog.HEALTHY, Dnsmasq.LOG_CAP);
    }

    /** SIGKILLs the network's dnsmasq and waits until it has exited. */
    private int kill() throws Exception {
        int pid = dnsmasq.pid().orElseThrow();
        LibC.kill(pid, SIGKILL);
        await(() -> ProcessIdentity.of(pid).isEmpty(), 2000, "dnsmasq " + pid + " to exit");
        return pid;
    }

    private static boolean answers() {
        try {
            return Dns.queryOnce(GATEWAY, "web", 100).equals(List.of("10.77.0.2"));
        } catch (Exception e) {
            return false;
        }
    }

    /** The milliseconds until dnsmasq answers for {@code web} again, failing after {@code boundMillis}. */
    private static long millisUntilItAnswers(long boundMillis) throws Exception {
        long start = System.nanoTime();
        await(DnsmasqWatchdogTest::answers, boundMillis, "dnsmasq to answer again");
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    }

    private static void await(BooleanSupplier condition, long millis, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime() - deadline).as("waited " + millis + " ms for " + what).isNegative();
            Thread.sleep(10);
        }
    }

    @Test
    void aKilledDnsmasqIsReplacedAndServesAgainWithinASecond() throws Exception {
        startRestarting();
        assertThat(answers()).isTrue();
        int killed = kill();

        long millis = millisUntilItAnswers(1500);

        assertThat(dnsmasq.pid()).isPresent().isNotEqualTo(OptionalInt.of(killed));
        System.out.println("dnsmasq answered again " + millis + " ms after it was SIGKILLed"); // the figure reported
    }

    @Test
    void aRealizerThatFollowsTheRegistryRestartsAKilledDnsmasqAndStopsDoingSoOnceClosed() throws Exception {
        int first;
        try (RegistryWatch following = realizer.follow()) { // as a provider opened with a registry does
            first = kill();
            millisUntilItAnswers(1500);
            assertThat(dnsmasq.pid()).isPresent().isNotEqualTo(OptionalInt.of(first));
            assertThat(realizer.verify("team").problems()).noneMatch(p -> p.contains("dnsmasq"));
        }
        kill();
        Thread.sleep(1000); // the watchdog's first retry would come after 0.1 s
        assertThat(answers()).as("no watchdog once the realizer stopped following").isFalse();
    }

    @Test
    void aDnsmasqThatCannotStartIsRetriedWithGrowingDelaysAndTheBackoffResetsAfterAHealthyRun() throws Exception {
        List<Long> attempts = new CopyOnWriteArrayList<>();
        List<String> failures = new CopyOnWriteArrayList<>();
        kill();
        ServerSocket squatter = new ServerSocket(); // the DNS port, taken: dnsmasq cannot bind it
        squatter.setReuseAddress(false);
        closing.add(squatter);
        await(() -> { // once the killed dnsmasq has let go of it
            try {
                squatter.bind(new InetSocketAddress(InetAddress.getByName(GATEWAY), 53));
                return true;
            } catch (Exception e) {
                return false;
            }
        }, 2000, "the DNS port to be free");
        watchdog(r -> {
            attempts.add(System.nanoTime());
            try {
                dnsmasq.ensureRunning(r);
            } catch (RuntimeException e) {
                failures.add(e.getMessage());
                throw e;
            }
        }, Duration.ofMillis(300), Dnsmasq.LOG_CAP);

        Thread.sleep(3300); // at 0.1 s, then 0.2, 0.4, 0.8 and 1.6 s after each failure: 5 attempts by 3.1 s
        List<Long> seen = List.copyOf(attempts);
        assertThat(seen).as("retried, never spun on").hasSizeBetween(4, 6);
        assertThat(failures).allSatisfy(f -> assertThat(f).contains("Address already in use"));
        for (int i = 2; i < seen.size(); i++) {
            long before = seen.get(i - 1) - seen.get(i - 2);
            long gap = seen.get(i) - seen.get(i - 1);
            assertThat(gap).as("delay %d grows (%d ms after %d ms)", i, gap / 1_000_000, before / 1_000_000)
                    .isGreaterThan(before * 3 / 2);
        }

        squatter.close();
        millisUntilItAnswers(7000); // the attempt after the next delay (3.2 s) succeeds
        Thread.sleep(500); // a healthy run (300 ms here) resets the backoff to 0.1 s
        kill();
        assertThat(millisUntilItAnswers(1500)).as("served again after the first delay, not after 6.4 s")
                .isLessThan(1500);
    }

    @Test
    void tenThousandDiscoversFromUnknownMacsLeaveTheLogBelowTheCap() throws Exception {
        long cap = 64 * 1024;
        watchdog(r -> dnsmasq.ensureRunning(r), DnsmasqWatchdog.HEALTHY, cap);
        String tap = "twdq0";
        Tun.createPersistentTap(tap, false, OptionalInt.empty(), OptionalInt.empty());
        try (Rtnetlink netlink = Rtnetlink.open(); Interfaces interfaces = Interfaces.open()) {
            netlink.execute(List.of(Rtnetlink.bringUpOnBridge(interfaces.index(tap), tap, 0,
                    interfaces.index(NetworkRealizer.bridgeName("team")))));
        }
        TapQueue guest = Tun.attach(tap, false);
        closing.add(guest);
        Ipv4Address any = Ipv4Address.parse("0.0.0.0");
        Ipv4Address all = Ipv4Address.parse("255.255.255.255");
        for (int i = 0; i < 10_000; i++) {
            MacAddress mac = MacAddress.parse(String.format("02:dd:00:%02x:%02x:%02x", i >> 16, (i >> 8) & 0xff,
                    i & 0xff));
            guest.writeFrame(Frames.udp4(Frames.BROADCAST, mac, any, all, 68, 67, discover(i, mac)));
            if (i % 200 == 199) {
                Thread.sleep(2); // as fast as dnsmasq takes them, so its socket's buffer does not drop many
            }
        }
        MacAddress last = MacAddress.parse("02:dd:ff:ff:ff:ff");
        Path log = dnsmasq.logFile();
        Path previous = log.resolveSibling("dnsmasq.log.1");
        // dnsmasq handles requests in order: once the last is logged, all were; then the watchdog's next round
        await(() -> {
            guest.writeFrame(Frames.udp4(Frames.BROADCAST, last, any, all, 68, 67, discover(-1, last)));
            return read(log).contains(last.toString()) || read(previous).contains(last.toString());
        }, 20_000, "dnsmasq to log the last DISCOVER");
        await(() -> size(log) <= cap, 2000, "the log to be rotated");

        assertThat(read(previous)).as("what was rotated: the DISCOVERs from unknown MACs")
                .contains("DHCPDISCOVER(" + NetworkRealizer.bridgeName("team") + ")");
        System.out.println("rotated log " + size(previous) + " bytes, current " + size(log) + " (cap " + cap + ")");
        assertThat(size(previous)).as("rotated as soon as it passed the cap").isLessThan(2 * cap);
        assertThat(size(log)).isLessThanOrEqualTo(cap);
        assertThat(dnsmasq.pid()).as("still the one dnsmasq, writing to the fresh log").isPresent();
    }

    /** A DHCPDISCOVER (BOOTREQUEST, broadcast flag) from {@code mac}. */
    private static byte[] discover(int xid, MacAddress mac) {
        ByteBuffer b = ByteBuffer.allocate(300);
        b.put((byte) 1).put((byte) 1).put((byte) 6).put((byte) 0).putInt(xid).putShort((short) 0)
                .putShort((short) 0x8000).put(new byte[16]).put(mac.toBytes()).put(new byte[10 + 64 + 128])
                .putInt(0x63825363);
        b.put((byte) 53).put((byte) 1).put((byte) 1).put((byte) 255);
        return b.array();
    }

    private static long size(Path file) {
        try {
            return Files.size(file);
        } catch (Exception e) {
            return 0;
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (Exception e) {
            return "";
        }
    }
}
