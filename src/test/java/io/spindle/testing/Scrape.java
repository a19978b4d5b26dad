package io.spindle.testing;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A parsed Prometheus text-format scrape: one value per series. */
public final class Scrape {
    private static final Pattern SERIES = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)})?\\s+(\\S+)");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");

    public record Series(String name, Map<String, String> labels, double value) {
    }

    private final String text;
    private final List<Series> series = new ArrayList<>();

    public Scrape(String text) {
        this.text = text;
        for (String line : text.split("\n")) {
            Matcher m = SERIES.matcher(line);
            if (line.startsWith("#") || !m.find()) {
                continue;
            }
            Map<String, String> labels = new LinkedHashMap<>();
            if (m.group(3) != null) {
                Matcher l = LABEL.matcher(m.group(3));
                while (l.find()) {
                    labels.put(l.group(1), l.group(2));
                }
            }
            series.add(new Series(m.group(1), labels, Double.parseDouble(m.group(4))));
        }
    }

    public String text() {
        return text;
    }

    /** Series of {@code name} whose labels include all of {@code labels} (alternating keys and values). */
    public List<Series> find(String name, String... labels) {
        List<Series> out = new ArrayList<>();
        for (Series s : series) {
            if (!s.name().equals(name)) {
                continue;
            }
            boolean match = true;
            for (int i = 0; i < labels.length; i += 2) {
                match &= labels[i + 1].equals(s.labels().get(labels[i]));
            }
            if (match) {
                out.add(s);
            }
        }
        return out;
    }

    /** The sum over the matching series; 0 when none match. */
    public double sum(String name, String... labels) {
        return find(name, labels).stream().mapToDouble(Series::value).sum();
    }

    public boolean has(String name) {
        return series.stream().anyMatch(s -> s.name().equals(name));
    }

    /** The TYPE line's type of a metric family, or null. */
    public String type(String family) {
        for (String line : text.split("\n")) {
            if (line.startsWith("# TYPE " + family + " ")) {
                return line.substring(("# TYPE " + family + " ").length()).trim();
            }
        }
        return null;
    }
}
