"""Summary of bench-kv-inplace.sh's runs: python3 load-tests/kv-inplace-summary.py OUT (writes OUT/summary.md)."""
import json, os, sys, statistics
out = sys.argv[1]
rows = []
def lv(path):
    return json.load(open(path))['levels'][0]['client']
rounds = sorted(d for d in os.listdir(out) if d.startswith('r'))
lines = ["| round | model | ITL p50 in16 c8 (ms) | ITL p50 in960 c8 (ms) | 960/16 | ITL p90 in960 c8 | TTFT p50 in960 (ms) | c8 in960 out tok/s | batch-1 tok/s | batch-1 ITL p50 (ms) |",
         "|---|---|---|---|---|---|---|---|---|---|"]
agg = {}
for r in rounds:
    for m in ['demo-gpt2', 'demo-gpt2-in-place-kv']:
        a = lv(f"{out}/{r}/{m}-c8-in16/results.json"); b = lv(f"{out}/{r}/{m}-c8-in960/results.json"); c = lv(f"{out}/{r}/{m}-c1-in16/results.json")
        ratio = b['itl']['p50'] / a['itl']['p50']
        agg.setdefault(m, []).append((a['itl']['p50'], b['itl']['p50'], ratio, c['outputTokensPerSecond']))
        lines.append(f"| {r} | {m} | {a['itl']['p50']:.1f} | {b['itl']['p50']:.1f} | {ratio:.2f}× | {b['itl']['p90']:.1f} | {b['ttft']['p50']:.0f} | {b['outputTokensPerSecond']:.1f} | {c['outputTokensPerSecond']:.1f} | {c['itl']['p50']:.1f} |")
lines.append("")
lines.append("Medians over rounds:")
lines.append("")
for m, v in agg.items():
    lines.append(f"- {m}: ITL p50 in16 {statistics.median(x[0] for x in v):.1f} ms, in960 {statistics.median(x[1] for x in v):.1f} ms, "
                 f"960/16 {statistics.median(x[2] for x in v):.2f}×, batch-1 {statistics.median(x[3] for x in v):.1f} tokens/s")
if len(agg) == 2:
    p, q = agg['demo-gpt2'], agg['demo-gpt2-in-place-kv']
    lines.append(f"- in-place / plain: ITL p50 in960 {statistics.median(x[1] for x in q) / statistics.median(x[1] for x in p):.2f}×, "
                 f"batch-1 tokens/s {statistics.median(x[3] for x in q) / statistics.median(x[3] for x in p):.2f}×")
open(f"{out}/summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
