"""Summary of bench-quantize.sh's runs: python3 load-tests/quantize-summary.py OUT FORMATS (writes OUT/summary.md)."""
import json, os, statistics, sys
out, formats = sys.argv[1], sys.argv[2].split(',')
def client(path):
    return json.load(open(path))['levels'][0]['client']
def mib(path):
    return float(open(path).read().strip()) / 2**20
def scrape(path):
    v = {}
    for line in open(path):
        name, value = line.rsplit(' ', 1)
        key = name.split('{')[0]
        v[key] = v.get(key, 0.0) + float(value)
    return v
def steps(d, f):
    """The 32-stream run's engine steps, from the metrics scraped around it: (decode-only steps, their mean ms,
    steps with prompt chunks, their mean ms, mean rows per step); None where not scraped."""
    try:
        a, b = scrape(f"{d}/{f}-metrics-before-c32.txt"), scrape(f"{d}/{f}-metrics-after-c32.txt")
    except (OSError, ValueError):
        return None
    dd = lambda k: b.get(k, 0.0) - a.get(k, 0.0)
    n_dec, n_pre = dd('spindle_decode_step_duration_seconds_count'), dd('spindle_prefill_step_duration_seconds_count')
    mean = lambda s, n: 1000 * s / n if n else float('nan')
    return (n_dec, mean(dd('spindle_decode_step_duration_seconds_sum'), n_dec), n_pre,
            mean(dd('spindle_prefill_step_duration_seconds_sum'), n_pre),
            dd('spindle_batch_size_sum') / max(1.0, dd('spindle_batch_size_count')))
rounds = sorted(d for d in os.listdir(out) if d.startswith('r') and os.path.isdir(os.path.join(out, d)))
lines = ["| round | weights | batch-1 tok/s | batch-1 ITL p50 (ms) | 32 streams out tok/s | TTFT p50 960 tokens (ms) | RSS ready (MiB) | RSS after (MiB) | model's RSS when ready (MiB; minus no-model server) |",
         "|---|---|---|---|---|---|---|---|---|"]
agg = {}
step_lines = []
for r in rounds:
    for f in formats:
        d = f"{out}/{r}"
        c1, c32, t = client(f"{d}/{f}-c1/results.json"), client(f"{d}/{f}-c32/results.json"), client(f"{d}/{f}-ttft960/results.json")
        row = (c1['outputTokensPerSecond'], c1['itl']['p50'], c32['outputTokensPerSecond'], t['ttft']['p50'],
               mib(f"{d}/{f}-rss-ready.txt"), mib(f"{d}/{f}-rss-after.txt"),
               mib(f"{d}/{f}-rss-ready.txt") - mib(f"{d}/baseline-rss.txt"))
        agg.setdefault(f, []).append(row)
        lines.append(f"| {r} | {f} | {row[0]:.1f} | {row[1]:.1f} | {row[2]:.1f} | {row[3]:.0f} | {row[4]:.0f} | {row[5]:.0f} | {row[6]:.0f} |")
        st = steps(d, f)
        if st:
            step_lines.append(f"| {r} | {f} | {st[0]:.0f} | {st[1]:.1f} | {st[2]:.0f} | {st[3]:.1f} | {st[4]:.1f} |")
lines += ["", "Medians over rounds, and ratios to the first format:", ""]
med = {f: [statistics.median(x[i] for x in v) for i in range(7)] for f, v in agg.items()}
base = med[formats[0]]
for f in formats:
    m = med[f]
    lines.append(f"- {f}: batch-1 {m[0]:.1f} tok/s ({m[0] / base[0]:.2f}×), 32 streams {m[2]:.1f} tok/s ({m[2] / base[2]:.2f}×), "
                 f"TTFT 960 {m[3]:.0f} ms ({m[3] / base[3]:.2f}×), RSS ready {m[4]:.0f} MiB ({m[4] / base[4]:.2f}×), after {m[5]:.0f} MiB, "
                 f"model's share {m[6]:.0f} MiB ({m[6] / base[6]:.2f}×)")
if step_lines:
    lines += ["", "The 32-stream run's engine steps (metrics scraped before and after it):", "",
              "| round | weights | decode-only steps | mean ms | steps with prompt chunks | mean ms | mean rows per step |",
              "|---|---|---|---|---|---|---|"] + step_lines
open(f"{out}/summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
