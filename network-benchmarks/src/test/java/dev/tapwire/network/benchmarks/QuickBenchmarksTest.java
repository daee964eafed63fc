package dev.tapwire.network.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.testkit.IsolatedNetnsExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The quick mode runs in CI as a smoke test, so the benchmarks never rot. It asserts output, not speed. */
class QuickBenchmarksTest {

    @TempDir
    Path out;

    @Test
    void theQuickRunMeasuresEveryFigureAndWritesBothReports() throws Exception {
        List<Report.Row> rows = Benchmarks.run(true, out);

        boolean tapsRequired = IsolatedNetnsExtension.privilegedTestsRequired() || Benchmarks.tapUnavailability().isEmpty();
        assertThat(Benchmarks.figures(rows)).contains("1", "2");
        if (tapsRequired) {
            assertThat(Benchmarks.figures(rows)).contains("1", "2", "3", "4", "5", "6", "7", "9", "10");
        }
        boolean etcdRequired = IsolatedNetnsExtension.privilegedTestsRequired()
                || Files.isExecutable(Path.of("/usr/bin/etcd"));
        if (etcdRequired) {
            assertThat(Benchmarks.figures(rows)).contains("8");
        }
        assertThat(rows).allSatisfy(r -> {
            assertThat(r.value()).isFinite();
            assertThat(r.referenceValue()).isPositive();
        });
        // figure 5 is a machine-wide memory delta and may be noise in a quick run; the others are times
        assertThat(rows).filteredOn(r -> r.figure() != 5).allSatisfy(r -> assertThat(r.value()).isPositive());
        assertThat(Files.readString(out.resolve("results.md"))).contains("| # | measured |").contains("registry join+leave");
        assertThat(Files.readAllLines(out.resolve("results.csv"))).hasSize(rows.size() + 1);
        assertThat(Files.readString(out.resolve("registry.svg"))).startsWith("<svg").contains("join+leave").endsWith("</svg>\n");
    }
}
