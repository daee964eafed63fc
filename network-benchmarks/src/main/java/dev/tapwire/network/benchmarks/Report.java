package dev.tapwire.network.benchmarks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The figures of one run, written as a Markdown table and a CSV. */
final class Report {

    /**
     * One figure.
     *
     * @param figure which of the figures (1-6)
     * @param name what was measured
     * @param value the measured value
     * @param unit its unit
     * @param reference what it is compared with
     * @param referenceValue the reference's value, same unit
     * @param ratio value / reference (or reference / value where "faster" is the point; said in the name)
     * @param target the target, as text
     */
    record Row(int figure, String name, double value, String unit, String reference, double referenceValue,
            double ratio, String target) {
    }

    private final List<Row> rows = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();

    void add(Row row) {
        rows.add(row);
        System.out.printf(Locale.ROOT, "[%d] %-58s %12.3f %-6s | %-44s %12.3f | ratio %8.2f  (target %s)%n",
                row.figure, row.name, row.value, row.unit, row.reference, row.referenceValue, row.ratio, row.target);
    }

    void note(String note) {
        notes.add(note);
        System.out.println("note: " + note);
    }

    List<Row> rows() {
        return rows;
    }

    void write(Path dir, String header) throws IOException {
        Files.createDirectories(dir);
        StringBuilder md = new StringBuilder(header).append("\n\n");
        md.append("| # | measured | value | reference | reference value | ratio | target |\n");
        md.append("|---|---|---:|---|---:|---:|---|\n");
        StringBuilder csv = new StringBuilder("figure,name,value,unit,reference,reference_value,ratio,target\n");
        for (Row r : rows) {
            md.append(String.format(Locale.ROOT, "| %d | %s | %.3f %s | %s | %.3f %s | %.2f | %s |%n", r.figure, r.name,
                    r.value, r.unit, r.reference, r.referenceValue, r.unit, r.ratio, r.target));
            csv.append(String.format(Locale.ROOT, "%d,\"%s\",%.6f,%s,\"%s\",%.6f,%.4f,\"%s\"%n", r.figure, r.name,
                    r.value, r.unit, r.reference, r.referenceValue, r.ratio, r.target));
        }
        if (!notes.isEmpty()) {
            md.append('\n');
            notes.forEach(n -> md.append("- ").append(n).append('\n'));
        }
        Files.writeString(dir.resolve("results.md"), md);
        Files.writeString(dir.resolve("results.csv"), csv);
    }
}
