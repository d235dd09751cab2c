#!/usr/bin/env bash
# Flow meter throughput: `omamori flows meter` against nfdump's `nfpcapd` on the
# same big capture, side by side, in one run. Not a test.
#
# The input is the three DDoS captures of shared/data/ddos replayed COPIES
# times one after the other (packet times shifted so the timeline continues;
# in each copy the IPv4 source addresses are changed so that every copy brings
# new flows, as a spoofed flood does). Both meters use 300 s / 60 s timeouts
# and write every flow to a file: omamori as CSV, nfpcapd its nfcapd file.
#
# usage: bench/meter_vs_nfpcapd.sh [COPIES] [OMAMORI_BINARY]
set -euo pipefail

COPIES=${1:-40}
HERE=$(cd "$(dirname "$0")" && pwd)
OMAMORI=${2:-$HERE/../build/src/cli/omamori}
DATA=${OMAMORI_SHARED_DATA:-$HERE/../../shared/data}
WORK=${TMPDIR:-/tmp}/omamori-meter-bench
mkdir -p "$WORK"
BIG=$WORK/ddos-x$COPIES.pcap

for t in nfpcapd nfdump python3 "$OMAMORI"; do
  command -v "$t" >/dev/null || { echo "missing: $t (scripts/setup.sh installs the packages)" >&2; exit 1; }
done

if [ ! -s "$BIG" ]; then
  echo "building $BIG ($COPIES copies of the ddos captures)..." >&2
  python3 - "$BIG" "$COPIES" "$DATA"/ddos/pkt.TCP.synflood.spoofed.pcap "$DATA"/ddos/amp.TCP.reflection.SYNACK.pcap \
    "$DATA"/ddos/amp.dns.RRSIG.fragmented.pcap <<'EOF'
import struct, sys
out, copies, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def read(fn):
    b = open(fn, 'rb').read()
    magic = struct.unpack('<I', b[:4])[0]
    assert magic == 0xa1b2c3d4, fn + ': expected a little-endian microsecond pcap'
    assert struct.unpack('<I', b[20:24])[0] == 1, fn + ': expected Ethernet'
    pkts, off = [], 24
    while off + 16 <= len(b):
        s, us, cap, ln = struct.unpack('<IIII', b[off:off + 16])
        pkts.append((s * 1000000 + us, ln, b[off + 16:off + 16 + cap]))
        off += 16 + cap
    return pkts
# One timeline: the files back to back, then the whole sequence COPIES times.
seq, t = [], 0
for fn in files:
    p = read(fn)
    base = p[0][0]
    seq += [(t + ts - base, ln, d) for ts, ln, d in p]
    t = seq[-1][0] + 1000000
span = t
start = 1700000000 * 1000000
with open(out, 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for c in range(copies):
        for ts, ln, d in seq:
            if c and len(d) >= 34 and d[12:14] == b'\x08\x00':
                d = bytearray(d)
                d[27] ^= c & 0xff          # second octet of the IPv4 source
                d[28] ^= (c >> 8) & 0xff   # third octet
                d = bytes(d)
            u = start + c * span + ts
            f.write(struct.pack('<IIII', u // 1000000, u % 1000000, len(d), ln))
            f.write(d)
EOF
fi
PACKETS=$(capinfos -M -c "$BIG" 2>/dev/null | awk -F: '/Number of packets/ {gsub(/ /, "", $2); print $2}')
echo "input: $BIG, $PACKETS packets, $(du -m "$BIG" | cut -f1) MB" >&2
cat "$BIG" >/dev/null  # warm the page cache for both

TIMEFORMAT='%R %U %S'
best() {  # best wall time of 3 runs of "$@"; prints "wall user sys"
  local b="" line
  for _ in 1 2 3; do
    line=$( { time "$@" >/dev/null 2>&1; } 2>&1 )
    if [ -z "$b" ] || awk -v a="${line%% *}" -v b="${b%% *}" 'BEGIN{exit !(a<b)}'; then b=$line; fi
  done
  echo "$b"
}

OM_CSV=$WORK/omamori.csv
om_run() { "$OMAMORI" flows meter -f csv -o "$OM_CSV" --active 300 --inactive 60 "$BIG"; }
om_agg() { "$OMAMORI" flows meter --aggregate proto -o /dev/null --active 300 --inactive 60 "$BIG"; }
NF_DIR=$WORK/nfpcapd
nf_run() { rm -rf "$NF_DIR"; mkdir -p "$NF_DIR"; nfpcapd -r "$BIG" -w "$NF_DIR" -e 300,60; }

read -r om_wall om_user om_sys < <(best om_run)
read -r oa_wall oa_user oa_sys < <(best om_agg)
read -r nf_wall nf_user nf_sys < <(best nf_run)

om_flows=$(($(wc -l <"$OM_CSV") - 1))
nf_flows=$(nfdump -R "$NF_DIR" -I 2>/dev/null | awk '/^Flows:/ {print $2}')

awk -v p="$PACKETS" -v ow="$om_wall" -v ou="$om_user" -v os="$om_sys" -v aw="$oa_wall" -v au="$oa_user" -v as="$oa_sys" \
    -v nw="$nf_wall" -v nu="$nf_user" -v ns="$nf_sys" -v of="$om_flows" -v nf="$nf_flows" 'BEGIN {
  printf "%-34s %10s %10s %14s %14s %10s\n", "", "wall s", "cpu s", "packets/s", "pkts/cpu-s", "flows"
  printf "%-34s %10.2f %10.2f %14.0f %14.0f %10d\n", "omamori flows meter (CSV file)", ow, ou+os, p/ow, p/(ou+os), of
  printf "%-34s %10.2f %10.2f %14.0f %14.0f %10s\n", "omamori flows meter (no output)", aw, au+as, p/aw, p/(au+as), "-"
  printf "%-34s %10.2f %10.2f %14.0f %14.0f %10d\n", "nfpcapd -r (nfcapd file)", nw, nu+ns, p/nw, p/(nu+ns), nf
  printf "ratio omamori/nfpcapd: %.1fx packets/s (wall), %.1fx packets per CPU second\n", nw/ow, (nu+ns)/(ou+os)
}'
