"""Figures of bench/run.sh's `read` comparison from its rounds file.

Each line: records, omamori wall and CPU s (big pcap), omamori wall and CPU s
(1-replay pcap: its fixed start/stop), the same for decode only (big), nfacctd
wall and CPU s (big), nfacctd wall and CPU s (1-replay pcap). Prints each
round's net times and ratios, then medians and ranges, and whether the goals
of issue 2 hold on the median.
"""
import statistics
import sys


def net(a, b):
    return max(a - b, 1e-3)


def m(v):
    return f"{statistics.median(v):.2f} (range {min(v):.2f}-{max(v):.2f})"


rows = [[float(x) for x in line.split()] for line in open(sys.argv[1]) if line.strip()]
o_w, o_c, d_w, d_c, n_w, n_c, rw, rc = ([] for _ in range(8))
print("round: omamori wall/CPU s, net of its start/stop | decode only | nfacctd wall/CPU s, net | ratio wall, CPU")
for i, (recs, ow, oc, osw, osc, dw, dc, nw, nc, nsw, nsc) in enumerate(rows, 1):
    o_w.append(recs / net(ow, osw) / 1e6)
    o_c.append(recs / net(oc, osc) / 1e6)
    d_w.append(recs / net(dw, osw) / 1e6)
    d_c.append(recs / net(dc, osc) / 1e6)
    n_w.append(recs / net(nw, nsw) / 1e6)
    n_c.append(recs / net(nc, nsc) / 1e6)
    rw.append(o_w[-1] / n_w[-1])
    rc.append(o_c[-1] / n_c[-1])
    print(f"  {i}: {net(ow, osw):.2f}/{net(oc, osc):.2f} | {net(dw, osw):.2f}/{net(dc, osc):.2f} | "
          f"{net(nw, nsw):.2f}/{net(nc, nsc):.2f} | {rw[-1]:.1f}x, {rc[-1]:.1f}x")
print(f"omamori flows read, M records/s: wall {m(o_w)}; per CPU second {m(o_c)}")
print(f"omamori decode only (no aggregation, nothing output), M records/s: wall {m(d_w)}; per CPU second {m(d_c)}")
print(f"nfacctd, M records/s: wall {m(n_w)}; per CPU second {m(n_c)}")
print(f"ratio omamori/nfacctd: wall {m(rw)}x; per CPU second {m(rc)}x")
mw, mc = statistics.median(rw), statistics.median(o_c)
print(f"goals (medians): >= 10x nfacctd: {'met' if mw >= 10 else 'NOT met'} ({mw:.1f}x wall, "
      f"{sum(r >= 10 for r in rw)}/{len(rw)} rounds); >= 5 M records/s on one core: "
      f"{'met' if mc >= 5 else 'NOT met'} ({mc:.2f} M/s per CPU second, {sum(c >= 5 for c in o_c)}/{len(o_c)} rounds)")
