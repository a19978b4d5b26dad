package io.spindle.load;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Small line charts as inline SVG, so a report page needs no script or network. */
final class Svg {
    private static final String[] COLORS = {"#1f6feb", "#d97706", "#b91c1c", "#15803d"};
    private static final int W = 460;
    private static final int H = 280;
    private static final int L = 60;
    private static final int R = 20;
    private static final int T = 30;
    private static final int B = 50;

    private Svg() {
    }

    static String lineChart(String title, List<String> x, Map<String, double[]> series, String unit) {
        double max = 0;
        for (double[] s : series.values()) {
            for (double v : s) {
                if (!Double.isNaN(v)) {
                    max = Math.max(max, v);
                }
            }
        }
        max = max <= 0 ? 1 : niceCeil(max);
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "role=\"img\" aria-label=\"%s\">", W, H, title));
        sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"18\" font-weight=\"bold\">%s (%s)</text>", L, title, unit));
        int plotW = W - L - R;
        int plotH = H - T - B;
        for (int g = 0; g <= 4; g++) {
            double v = max * g / 4;
            double y = T + plotH - plotH * g / 4.0;
            sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                    + "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>", L, W - R, y, y, L - 6,
                    y + 4, Report.f(v)));
        }
        for (int k = 0; k < x.size(); k++) {
            sb.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s</text>",
                    xPos(k, x.size(), plotW), H - B + 16, x.get(k)));
        }
        int c = 0;
        for (Map.Entry<String, double[]> s : series.entrySet()) {
            String color = COLORS[c % COLORS.length];
            StringBuilder pts = new StringBuilder();
            double[] v = s.getValue();
            for (int k = 0; k < v.length; k++) {
                if (Double.isNaN(v[k])) {
                    continue;
                }
                double px = xPos(k, v.length, plotW);
                double py = T + plotH - plotH * v[k] / max;
                pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", px, py));
                sb.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", px, py, color));
            }
            sb.append(String.format(Locale.ROOT, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"/>",
                    color, pts.toString().strip()));
            sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"%s\">%s</text>",
                    L + c * 110, H - 12, color, s.getKey()));
            c++;
        }
        return sb.append("</svg>").toString();
    }

    private static double xPos(int k, int n, int plotW) {
        return L + (n == 1 ? plotW / 2.0 : plotW * k / (double) (n - 1));
    }

    private static double niceCeil(double v) {
        double mag = Math.pow(10, Math.floor(Math.log10(v)));
        for (double step : new double[] {1, 2, 2.5, 5, 10}) {
            if (step * mag >= v) {
                return step * mag;
            }
        }
        return 10 * mag;
    }
}
