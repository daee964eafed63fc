package dev.tapwire.network.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.testkit.IsolatedNetnsExtension;
import dev.tapwire.network.testkit.NetworkNamespace;
import dev.tapwire.network.testkit.QemuGuest;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoCommandTest {

    @TempDir
    Path state;

    @Test
    void theDemoShowsNetworksAndWhenPrivilegedAFrameCrossingATap() {
        CliRunner.Result demo = new CliRunner(state).run("demo");
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
    }
}
