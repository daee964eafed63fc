package dev.tapwire.network.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.testkit.HostRequirements;
import dev.tapwire.network.testkit.IsolatedNetnsExtension;
import dev.tapwire.network.testkit.NetworkNamespace;
import dev.tapwire.network.testkit.QemuGuest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoCommandTest {

    /** The guest image cache the demo finds through $XDG_CACHE_HOME, shared by the runs of this module. */
    private static final Path CACHE = Path.of("target/cache").toAbsolutePath();

    @TempDir
    Path state;

    @Test
    void theDemoShowsNetworksAndWhenPrivilegedAFrameCrossingATap() {
        CliRunner.Result demo = new CliRunner(state).env("XDG_CACHE_HOME", CACHE.toString()).run("demo");
        assertThat(demo.status()).as(demo.err()).isZero();
        assertThat(demo.out()).contains("frontend  10.44.1.0/24  10.44.1.1  web-1      10.44.1.2")
                .contains("backend   10.44.2.0/24  10.44.2.1  db-1       10.44.2.3");
        if (NetworkNamespace.isSupported() || IsolatedNetnsExtension.privilegedTestsRequired()) {
            assertThat(demo.out()).contains("== network frontend realized in a private network namespace")
                    .contains("10.44.1.2 web-1.frontend web-1")
                    .contains("btweb-1-0    tun     tw-frontend  up")
                    .contains("removed 3 TAPs in one batch, then the network's dnsmasq, bridge and rules");
            if (QemuGuest.unavailabilityCause().isEmpty() || IsolatedNetnsExtension.privilegedTestsRequired()) {
                assertThat(demo.out()).contains("guest web-1 booted under QEMU and leased: TAPWIRE-LEASE ip=10.44.1.2/24")
                        .contains("web-1$ nslookup web-2.frontend").contains("Address: 10.44.1.3")
                        .contains("web-1$ ping -c 2 web-2").contains("PING web-2 (10.44.1.3)")
                        .contains("2 packets transmitted, 2 packets received");
            } else {
                assertThat(demo.out()).contains("frame crossed: web-1 (10.44.1.2").contains("the kernel answered");
            }
        } else {
            assertThat(demo.out()).contains("Linux realization: skipped");
        }
        assertThat(stateDirOf(demo)).doesNotExist();
    }

    @Test
    void underJsonTheDemoPrintsItsFactsAsOneObject() throws Exception {
        CliRunner.Result demo = new CliRunner(state).run("--json", "demo", "--no-guests");
        assertThat(demo.status()).as(demo.err()).isZero();
        assertThat(demo.out().lines()).as("one JSON value, no tour text").hasSize(1);
        com.fasterxml.jackson.databind.JsonNode tour = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(demo.out());
        assertThat(tour.get("networks")).extracting(n -> n.get("name").asText()).containsExactly("backend", "frontend");
        assertThat(Path.of(tour.get("state_dir").asText())).doesNotExist();
        if (NetworkNamespace.isSupported() || IsolatedNetnsExtension.privilegedTestsRequired()) {
            com.fasterxml.jackson.databind.JsonNode realized = tour.get("realized");
            assertThat(realized.get("bridge").asText()).isEqualTo("tw-frontend");
            assertThat(realized.get("dnsmasq_pid").asInt()).isPositive();
            assertThat(realized.get("hosts")).extracting(com.fasterxml.jackson.databind.JsonNode::asText)
                    .contains("10.44.1.2 web-1.frontend web-1");
            assertThat(realized.get("vms").get("web-1").get("bridge_dev").asText()).isEqualTo("tw-frontend");
            assertThat(realized.get("frame_crossed").asText()).startsWith("web-1 (10.44.1.2");
            assertThat(realized.get("guests_skipped").asText()).contains("--no-guests");
            assertThat(realized.get("links")).anySatisfy(l -> assertThat(l.get("master").asText()).isEqualTo("tw-frontend"));
        } else {
            assertThat(tour.get("skipped").asText()).isNotBlank();
        }
    }

    @Test
    void aGuestThatFailsIsReportedInOneLineAndTheDemoFinishesItsTourAndRemovesWhatItMade() throws Exception {
        HostRequirements.assume(NetworkNamespace.unavailabilityCause());
        HostRequirements.assume(QemuGuest.unavailabilityCause());
        // a current image (its key matches, so the demo uses it) whose kernel is broken
        Path good = QemuGuest.image(CACHE.resolve("tapwire/guest"));
        Path broken = Files.createDirectories(state.resolve("broken-image"));
        for (String file : List.of("initrd.img", "image.key")) {
            Files.copy(good.resolve(file), broken.resolve(file));
        }
        Files.writeString(broken.resolve("vmlinuz"), "not a kernel");

        long start = System.nanoTime();
        CliRunner.Result demo = new CliRunner(state).run("demo", "--guest-image", broken.toString());

        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("no 2-minute wait for a lease: " + demo.out()
                + demo.err())
                .isLessThan(Duration.ofSeconds(60));
        assertThat(demo.status()).as(demo.out() + demo.err()).isEqualTo(1);
        assertThat(demo.err().lines().toList()).as(demo.err()).singleElement().asString()
                .startsWith("tapwire: error: guest web-1 exited (QEMU exit status 1) without printing a line matching")
                .doesNotContain("console:").doesNotContain("Exception");
        assertThat(demo.out()).as("the rest of the tour").contains("LINK", "btweb-1-0")
                .contains("removed 3 TAPs in one batch, then the network's dnsmasq, bridge and rules");
        Path tempState = stateDirOf(demo);
        assertThat(tempState).as("the demo's temporary directory").doesNotExist();
        // QEMU is a child of this JVM; dnsmasq detaches, but its command line names its files in the state directory
        assertThat(ProcessHandle.current().descendants().map(p -> p.pid() + " " + p.info().commandLine().orElse(""))
                .toList()).as("the demo's guests").noneMatch(p -> p.contains("qemu"));
        assertThat(ProcessHandle.allProcesses().map(p -> p.pid() + " " + p.info().commandLine().orElse(""))
                .filter(p -> p.contains(tempState.toString())).toList()).as("the demo's dnsmasq").isEmpty();
    }

    private static Path stateDirOf(CliRunner.Result demo) {
        Matcher m = Pattern.compile("== named networks \\(state: (\\S+)\\)").matcher(demo.out());
        assertThat(m.find()).as(demo.out()).isTrue();
        return Path.of(m.group(1));
    }
}
