package dev.tapwire.network.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.testkit.IsolatedNetnsExtension;
import dev.tapwire.network.testkit.NetworkNamespace;
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
            assertThat(demo.out()).contains("frame crossed: web-1 (10.44.1.2").contains("the kernel answered")
                    .contains("btweb-1-0  tun     twdemo0  up").contains("removed 3 TAPs in one batch");
        } else {
            assertThat(demo.out()).contains("Linux realization: skipped");
        }
    }
}
