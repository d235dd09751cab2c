#!/usr/bin/env bash
# DNS pcap parsing rate, side by side on the same file: `omamori dns read` against
# `tshark -T fields` (query name, response flag, rcode per DNS message).
#
# The input is built from the shared DNS captures (the classic-pcap, Ethernet ones:
# UDP, TCP, IPv4/IPv6 fragments, PPPoE, malformed, a dnscat2 tunnel) concatenated
# and repeated with increasing timestamps until it holds about PACKETS packets.
#
# Usage: bench/dns_vs_tshark.sh [PACKETS]   (default 1000000)
#   OMAMORI=path/to/omamori overrides the binary (default build/src/cli/omamori).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
omamori=${OMAMORI:-$top/build/src/cli/omamori}
want=${1:-1000000}
data=${OMAMORI_SHARED_DATA:-$top/../shared/data}/dns/pcap
[ -x "$omamori" ] || { echo "build omamori first (scripts/build.sh): $omamori" >&2; exit 2; }
command -v tshark >/dev/null || { echo "tshark is not installed" >&2; exit 2; }

tmp=$(mktemp -d /tmp/omamori-dnsbench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
big=$tmp/dns-big.pcap

packets=$(python3 - "$want" "$big" "$data"/bad-dns-traffic.pcap "$data"/dns_ambiguous_names.pcap "$data"/dns.pcap \
  "$data"/dns_fragmented.pcap "$data"/malformed_dns.pcap "$data"/dns-invalid-chars.pcap <<'EOF'
import struct, sys
want, out, files = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
pkts = []  # (relative ts in us, bytes)
t0 = None
base = 0
for f in files:
    b = open(f, "rb").read()
    if struct.unpack("<I", b[:4])[0] != 0xa1b2c3d4 or struct.unpack("<I", b[20:24])[0] != 1:
        continue
    off, prev, rel = 24, None, 0
    while off + 16 <= len(b):
        s, us, cl, ol = struct.unpack("<IIII", b[off:off + 16])
        t = s * 1000000 + us
        # Keep the order and the short gaps; long pauses (dns.pcap spans years) become 1 s.
        if prev is not None:
            rel += min(max(t - prev, 0), 1000000)
        prev = t
        pkts.append((base + rel, struct.pack("<II", cl, ol) + b[off + 16:off + 16 + cl]))
        off += 16 + cl
    base += rel + 1000000
with open(out, "wb") as o:
    o.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    n, rep = 0, 0
    while n < want:
        shift = rep * (base + 60000000)  # a minute between copies: fragments and TCP streams expire
        for t, rest in pkts:
            t += shift + 1500000000 * 1000000
            o.write(struct.pack("<II", t // 1000000, t % 1000000) + rest)
            n += 1
        rep += 1
print(n)
EOF
)
size=$(du -h "$big" | cut -f1)
echo "input: $packets packets, $size ($big)"

# Wall seconds and max RSS (KB) of a command; its exit status is not the point here
# (omamori exits 3 because the input holds malformed DNS on purpose).
secs() { /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" || true; tail -1 "$tmp/time"; }

read -r o_s o_u o_sy o_kb < <(secs "$omamori" dns read "$big" -f jsonl -o "$tmp/omamori.jsonl" --stats)
o_events=$(wc -l < "$tmp/omamori.jsonl")
read -r t_s t_u t_sy t_kb < <(secs sh -c "tshark -r '$big' -Y 'dns && (udp.port==53 || tcp.port==53)' -T fields \
  -e frame.number -e dns.flags.response -e dns.qry.name -e dns.flags.rcode > '$tmp/tshark.tsv' 2>/dev/null")
t_frames=$(wc -l < "$tmp/tshark.tsv")

rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
cpu() { awk -v u="$1" -v s="$2" 'BEGIN { printf "%.2f", u + s }'; }
o_cpu=$(cpu "$o_u" "$o_sy")
t_cpu=$(cpu "$t_u" "$t_sy")
printf "%-8s %9s %9s %16s %14s %12s %10s\n" tool wall-s cpu-s packets/cpu-s packets/wall-s dns-output rss-MB
printf "%-8s %9s %9s %16s %14s %12s %10s\n" omamori "$o_s" "$o_cpu" "$(rate "$packets" "$o_cpu")" \
  "$(rate "$packets" "$o_s")" "$o_events" "$((o_kb / 1024))"
printf "%-8s %9s %9s %16s %14s %12s %10s\n" tshark "$t_s" "$t_cpu" "$(rate "$packets" "$t_cpu")" \
  "$(rate "$packets" "$t_s")" "$t_frames" "$((t_kb / 1024))"
awk -v a="$o_cpu" -v b="$t_cpu" 'BEGIN { if (a > 0) printf "ratio (tshark cpu / omamori cpu): %.1fx\n", b / a }'
awk -v a="$o_s" -v b="$t_s" 'BEGIN { if (a > 0) printf "ratio (wall clock): %.1fx\n", b / a }'
echo "(omamori writes one JSON line per DNS message; tshark one line per frame with DNS, so TCP frames"
echo " carrying several messages count once; both run single-threaded, cpu-s is the fairer figure on a busy host)"
