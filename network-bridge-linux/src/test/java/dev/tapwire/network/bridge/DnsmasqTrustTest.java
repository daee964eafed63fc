package dev.tapwire.network.bridge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.Ipv4Subnet;
import dev.tapwire.network.NetworkRegistry;
import dev.tapwire.network.bridge.linux.Namespaces;
import dev.tapwire.network.bridge.linux.ProcessIdentity;
import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetns;
import dev.tapwire.network.testkit.TemporaryRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which process is a network's dnsmasq, with a real dnsmasq in a private namespace: never the one dnsmasq's own
 * (unprivileged-writable) pid file names, only the one tapwire's root-written record names and {@code /proc}
 * confirms — and a process that fails a check is never signalled.
 */
@IsolatedNetns
class DnsmasqTrustTest {

    private static final int NOBODY = 65534;

    @TempDir
    Path root;

    private NetworkRealizer realizer;
    private Dnsmasq dnsmasq;
    private final List<Process> decoys = new ArrayList<>();

    @BeforeEach
    void realize(@TemporaryRegistry NetworkRegistry registry) {
        HostRequirements.assume(NetworkRealizer.unavailabilityCause());
        HostRequirements.assume(BridgeNetworkProviderTest.onPath("setpriv"),
                "setpriv runs a process as nobody here (Debian package util-linux)");
        realizer = new NetworkRealizer(root, registry);
        registry.create("team", Ipv4Subnet.parse("10.77.0.0/24"));
        registry.join("team", "web");
        realizer.realize("team", false);
        dnsmasq = new Dnsmasq(NetworkRealizer.runtimeDir(root).resolve("team"), "team");
    }

    @AfterEach
    void cleanUp() {
        for (Process p : decoys) {
            p.destroyForcibly();
        }
        for (Realization r : realizer.list()) {
            realizer.unrealize(r.network());
        }
    }

    /**
     * Starts a process that the test kills at the end, and waits until it runs {@code program} (as argument 0) as
     * {@code uid}.
     */
    private Process decoy(String program, int uid, String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(
                ProcessBuilder.Redirect.DISCARD).start();
        decoys.add(p);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (ProcessIdentity.of((int) p.pid()).map(id -> !id.commandLine().get(0).equals(program) || id.effectiveUid() != uid).orElse(true)
                && System.nanoTime() < deadline) {
            Thread.sleep(10); // until it has exec'd what it runs for good
        }
        return p;
    }

    /** A shell running as nobody whose command line carries dnsmasq's name and this network's pid file. */
    private Process nobodyShellLookingLikeDnsmasq() throws Exception {
        return decoy("sh", NOBODY, "setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups", "sh", "-c",
                "sleep 60; :", "dnsmasq", "--pid-file=" + dnsmasq.pidFile());
    }

    /** What dnsmasq's user can do to the pid file dnsmasq hands it: write any pid into it. */
    private void rewritePidFileAsNobody(long pid) throws Exception {
        Process p = new ProcessBuilder("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups", "sh",
                "-c", "echo " + pid + " > " + dnsmasq.pidFile()).redirectErrorStream(true).start();
        assertThat(p.waitFor(5, TimeUnit.SECONDS)).isTrue();
        assertThat(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).isEmpty();
        assertThat(p.exitValue()).as("nobody owns dnsmasq's pid file and may rewrite it").isZero();
    }

    @Test
    void aPidFileRewrittenByDnsmasqsUserNeverMakesTapwireReportOrSignalAnotherProcess() throws Exception {
        int real = realizer.inspect("team").orElseThrow().dnsmasqPid().orElseThrow();
        Process decoy = nobodyShellLookingLikeDnsmasq();
        rewritePidFileAsNobody(decoy.pid());

        assertThat(realizer.inspect("team").orElseThrow().dnsmasqPid()).hasValue(real);
        realizer.unrealize("team");

        assertThat(decoy.isAlive()).as("the process the rewritten pid file names is never signalled").isTrue();
        assertThat(ProcessIdentity.of(real)).as("the real dnsmasq is the one stopped").isEmpty();
    }

    @Test
    void tapwiresRecordIsRootsFileOfMode0644AndNamesTheRunningDnsmasq() throws Exception {
        Path record = dnsmasq.recordFile();
        assertThat((Integer) Files.getAttribute(record, "unix:uid", LinkOption.NOFOLLOW_LINKS)).isZero();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(record, LinkOption.NOFOLLOW_LINKS)))
                .isEqualTo("rw-r--r--");
        ProcessIdentity p = ProcessIdentity.of(dnsmasq.pid().orElseThrow()).orElseThrow();
        assertThat(Files.readString(record)).isEqualTo("pid=" + p.pid() + "\nstart=" + p.startTime() + "\nnetns="
                + p.netns() + "\n");
        assertThat(p.executable().getFileName().toString()).isEqualTo("dnsmasq");
        assertThat(p.effectiveUid()).isEqualTo(NOBODY);
        assertThat(p.netns()).isEqualTo(ProcessIdentity.currentThreadNetns());
    }

    @Test
    void aDnsmasqThatAnInterruptedStartLeftWithoutARecordIsRecognisedAndRecordedNotStartedTwice() throws Exception {
        int pid = dnsmasq.pid().orElseThrow();
        Files.delete(dnsmasq.recordFile()); // a SIGKILL between dnsmasq's start and tapwire's record leaves this

        assertThat(dnsmasq.pid()).as("its pid file, checked as the record is, and CAP_NET_ADMIN").hasValue(pid);
        assertThat(dnsmasq.ensureRunning(realizer.list().get(0))).as("not started twice").isFalse();
        assertThat(Files.readString(dnsmasq.recordFile())).startsWith("pid=" + pid + "\n");

        // the same process named by nobody, but one nobody started: no capability, never trusted
        Process decoy = decoy(Dnsmasq.binary().orElseThrow().toString(), NOBODY, "setpriv", "--reuid=" + NOBODY,
                "--regid=" + NOBODY, "--clear-groups", Dnsmasq.binary().orElseThrow().toString(),
                "--keep-in-foreground", "--port=0", "--conf-file=/dev/null", "--pid-file=" + dnsmasq.pidFile());
        ProcessIdentity real = ProcessIdentity.of(pid).orElseThrow();
        Files.delete(dnsmasq.recordFile());
        rewritePidFileAsNobody(decoy.pid());
        assertThat(dnsmasq.pid()).isEmpty();
        assertThat(dnsmasq.problem().orElseThrow()).contains("lacks CAP_NET_ADMIN");
        dnsmasq.writeRecord(real);
    }

    @Test
    void aProcessFailingAnyCheckIsNeitherReportedNorSignalledAndTheReasonSaysWhich() throws Exception {
        ProcessIdentity real = ProcessIdentity.of(dnsmasq.pid().orElseThrow()).orElseThrow();
        Process shell = nobodyShellLookingLikeDnsmasq();
        refused(shell, "runs /usr/bin/", false);

        // a real dnsmasq as root with this network's pid file (it writes that file itself, as root), and one as
        // nobody without it; neither serves anything
        String binary = Dnsmasq.binary().orElseThrow().toString();
        Process asRoot = decoy(binary, 0, binary, "--keep-in-foreground", "--port=0", "--conf-file=/dev/null",
                "--user=root", "--pid-file=" + dnsmasq.pidFile());
        refused(asRoot, "runs as uid 0/0, not as dnsmasq's user (uid " + NOBODY + ")", true);
        Process foreignArgs = decoy(binary, NOBODY, binary, "--keep-in-foreground", "--port=0", "--conf-file=/dev/null",
                "--pid-file=" + root.resolve("other.pid"));
        refused(foreignArgs, "its command line does not carry --pid-file=" + dnsmasq.pidFile(), true);

        // the record names the real dnsmasq, but with another start time: a pid since reused, never signalled
        write(new ProcessIdentity(real.pid(), real.startTime() + 1, real.realUid(), real.effectiveUid(),
                real.netns(), real.executable(), real.commandLine(), real.permittedCapabilities()));
        Files.deleteIfExists(dnsmasq.pidFile());
        assertThat(dnsmasq.pid()).isEmpty();
        assertThat(dnsmasq.problem().orElseThrow()).contains("is now another process");
        dnsmasq.stop();
        assertThat(ProcessIdentity.of(real.pid())).as("never signalled").isPresent();

        // a record that is not root's own is not read at all
        write(real);
        Files.setAttribute(dnsmasq.recordFile(), "unix:uid", NOBODY);
        assertThat(dnsmasq.pid()).isEmpty();
        assertThat(dnsmasq.problem().orElseThrow()).contains("is not tapwire's (owner uid " + NOBODY);
        write(real);
        assertThat(dnsmasq.pid()).hasValue(real.pid());
    }

    /**
     * Records {@code process} as the network's dnsmasq (as a tampered record, or a pid since reused, would) and has
     * nobody point the pid file at it too: neither makes it the network's dnsmasq, and stopping leaves it alive.
     */
    private void refused(Process process, String reason, boolean recordOnly) throws Exception {
        ProcessIdentity p = ProcessIdentity.of((int) process.pid()).orElseThrow();
        write(p);
        if (!recordOnly) {
            rewritePidFileAsNobody(process.pid());
        }
        assertThat(dnsmasq.pid()).as(reason).isEmpty();
        assertThat(dnsmasq.problem()).as(reason).hasValueSatisfying(why -> assertThat(why).contains(reason)
                .contains("not signalled"));
        dnsmasq.stop();
        assertThat(process.isAlive()).as("not signalled: " + reason).isTrue();
    }

    private void write(ProcessIdentity p) {
        dnsmasq.writeRecord(p);
    }

    @Test
    void aSecondNamespaceUsingTheSameStateDirectoryNeitherReportsNorStopsTheFirstsDnsmasq() throws Exception {
        int pid = dnsmasq.pid().orElseThrow();
        Realization team = realizer.list().get(0);
        Optional<String> problem = Namespaces.callInNewNetworkNamespace(() -> {
            NetworkRealizer second = new NetworkRealizer(root, realizer.registry());
            assertThat(second.inspect("team")).as("the first namespace's realization is not this one's").isEmpty();
            Dnsmasq there = new Dnsmasq(NetworkRealizer.runtimeDir(root).resolve("team"), "team");
            assertThat(there.pid()).isEmpty();
            assertThat(there.otherNamespace()).hasValueSatisfying(why -> assertThat(why).contains("(pid " + pid + ")"));
            there.stop(); // what network down does
            assertThatThrownBy(() -> there.ensureRunning(team))
                    .isInstanceOf(RealizationException.class).hasMessageContaining("network namespace");
            return there.problem();
        });
        assertThat(problem.orElseThrow()).contains("runs in network namespace net:[").contains("not in this thread's");
        assertThat(dnsmasq.pid()).as("still the first namespace's dnsmasq, still recorded").hasValue(pid);
        assertThat(dnsmasq.otherNamespace()).isEmpty();
        assertThat(Dns.queryA("10.77.0.1", "web")).containsExactly("10.77.0.2");
    }
}
