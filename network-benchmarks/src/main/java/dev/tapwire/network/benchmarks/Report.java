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
        String chart = registryChart();
        if (chart != null) {
            Files.writeString(dir.resolve("registry.svg"), chart);
        }
    }

    /**
     * Draws figure 1 as an SVG line chart: cost per join+leave and per two durable writes against members
     * (log scale), with the Go reference's quoted cost of two joins. Returns null without figure 1 rows.
     */
    String registryChart() {
        List<double[]> points = new ArrayList<>(); // members, join+leave ms, floor ms
        for (Row r : rows) {
            if (r.figure == 1 && r.name.startsWith("registry join+leave at ")) {
                double members = Double.parseDouble(r.name.replaceAll("\\D+", ""));
                points.add(new double[] {members, r.value, r.referenceValue});
            }
        }
        if (points.size() < 2) {
            return null;
        }
        double w = 640;
        double h = 400;
        double left = 60;
        double bottom = 50;
        double top = 30;
        double right = 40;
        double minX = Math.log10(points.get(0)[0]);
        double maxX = Math.log10(points.get(points.size() - 1)[0]);
        double maxY = 0;
        for (double[] p : points) {
            maxY = Math.max(maxY, Math.max(p[1], p[2]));
        }
        maxY = Math.ceil(maxY * 1.1);
        boolean go = points.stream().anyMatch(p -> p[0] == 10000);
        if (go) {
            maxY = Math.max(maxY, 20);
        }
        double plotW = w - left - right;
        double plotH = h - top - bottom;
        double finalMaxY = maxY;
        java.util.function.DoubleUnaryOperator x = m -> left + (Math.log10(m) - minX) / (maxX - minX) * plotW;
        java.util.function.DoubleUnaryOperator y = v -> top + plotH - v / finalMaxY * plotH;
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                + "font-family=\"sans-serif\" font-size=\"12\">%n", w, h));
        svg.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        svg.append(String.format(Locale.ROOT, "<text x=\"%.0f\" y=\"18\" font-size=\"14\">tapwire registry: ms per "
                + "join+leave vs members</text>%n", left));
        for (int i = 0; i <= 4; i++) {
            double v = maxY * i / 4;
            svg.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                    + "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>%n", left, y.applyAsDouble(v),
                    w - right, y.applyAsDouble(v), left - 6, y.applyAsDouble(v) + 4, v));
        }
        for (double[] p : points) {
            svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>%n",
                    x.applyAsDouble(p[0]), h - bottom + 18, p[0]));
        }
        svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">members (log scale)"
                + "</text>%n", left + plotW / 2, h - 12));
        series(svg, points, 1, x, y, "#1f77b4");
        series(svg, points, 2, x, y, "#2ca02c");
        double legendY = top + 10;
        svg.append(legend(left + 10, legendY, "#1f77b4", "tapwire join+leave (2 locked, durable writes)"));
        svg.append(legend(left + 10, legendY + 18, "#2ca02c", "floor: 2 durable writes of the same bytes"));
        if (go) {
            double[] goPoints = {2500, 4.2, 10000, 19.4}; // the Go reference: 2 joins, quoted, no fsync or lock
            for (int i = 0; i < goPoints.length; i += 2) {
                svg.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#d62728\"/>%n",
                        x.applyAsDouble(goPoints[i]), y.applyAsDouble(goPoints[i + 1])));
            }
            svg.append(legend(left + 10, legendY + 36, "#d62728", "Go reference, 2 joins (quoted; no fsync, no lock)"));
        }
        svg.append("</svg>\n");
        return svg.toString();
    }

    private static void series(StringBuilder svg, List<double[]> points, int column,
            java.util.function.DoubleUnaryOperator x, java.util.function.DoubleUnaryOperator y, String color) {
        StringBuilder path = new StringBuilder();
        for (double[] p : points) {
            path.append(path.length() == 0 ? "M" : " L").append(String.format(Locale.ROOT, "%.1f %.1f",
                    x.applyAsDouble(p[0]), y.applyAsDouble(p[column])));
            svg.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>%n",
                    x.applyAsDouble(p[0]), y.applyAsDouble(p[column]), color));
        }
        svg.append("<path d=\"").append(path).append("\" fill=\"none\" stroke=\"").append(color)
                .append("\" stroke-width=\"2\"/>\n");
    }

    private static String legend(double x, double y, String color, String text) {
        return String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                + "<text x=\"%.1f\" y=\"%.1f\">%s</text>%n", x, y, color, x + 18, y + 10, text);
    }
}
