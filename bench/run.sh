#!/usr/bin/env bash
# Runs every omamori benchmark side by side with its peer on the same input,
# prints the figures and ratios, and keeps them in bench/results/ (gitignored).
#
#   bench/run.sh [read|collector|lpm|meter|dns|intel|cases|notify|privacy|attribution|pipeline|ddos|dga ...]
#   (default: all)
#
# read, collector and lpm are described in docs/benchmarks.md; meter, dns and
# intel run the other components' benchmarks (bench/meter_vs_nfpcapd.sh,
# bench/dns_vs_tshark.sh, bench/intel_bench) in the same run; pipeline, ddos
# and dga the detectors' (bench/pipeline_bench, bench/ddos_vs_fastnetmon.sh,
# bench/dga_bench).
#
# Environment:
#   BENCH_REPEAT   replays of the export captures in the big pcap (default 10000)
#   BENCH_SECONDS  seconds per collector trial (default 3)
#   BENCH_RATES    record rates the collector is tried at, lowest first
#                  (default "250000 500000 750000 1000000 1250000 1500000 2000000 3000000")
#   BENCH_FORMAT   v9, ipfix or v5 for the collector load (default v9)
#   BENCH_PIPELINE_HOSTS / BENCH_PIPELINE_FLOWS  pipeline load (default 1000000 hosts, 40000000 flows)
#   BENCH_NO_BUILD set: build nothing, run what build/ holds
#   BENCH_OMAMORI  the omamori binary to measure (default build/src/cli/omamori)
#   BENCH_ROUNDS   rounds of the flows read comparison, omamori and nfacctd alternately (default 5)
# Not a test: nothing here asserts a timing. Needs the packages of
# scripts/packages.txt (pmacct for nfacctd, libbenchmark-dev).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
work="$top/bench/work"
results="$top/bench/results"
mkdir -p "$work" "$results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$results/run-$stamp.txt"
what=("$@")
[ ${#what[@]} -eq 0 ] && what=(read collector lpm meter dns intel cases notify privacy attribution pipeline ddos dga)
want() { local w; for w in "${what[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1; }

exec > >(tee "$out") 2>&1

echo "== omamori benchmarks, $stamp"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB RAM, kernel $(uname -r)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"
echo "git: $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')"

if [ -n "${BENCH_NO_BUILD:-}" ]; then
  echo "== no build (BENCH_NO_BUILD): using what build/ holds"
else
  echo "== build (Release, OMAMORI_BENCH=ON)"
  cmake -S "$top" -B "$top/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOMAMORI_BENCH=ON >/dev/null
  targets=(omamori lpm_bench udp_sender make_export_pcap decode_bench)
  [ -f "$top/bench/intel_bench.cpp" ] && targets+=(intel_bench)
  [ -f "$top/bench/cases_bench.cpp" ] && targets+=(cases_bench)
  [ -f "$top/bench/notify_bench.cpp" ] && targets+=(notify_bench)
  [ -f "$top/bench/attribution_bench.cpp" ] && targets+=(attribution_bench)
  [ -f "$top/bench/pseudonym_bench.cpp" ] && targets+=(pseudonym_bench)
  targets+=(pipeline_bench ddos_replay dga_bench omamori)
  ninja -C "$top/build" -j"${NINJA_JOBS:-2}" "${targets[@]}" >/dev/null
fi
# BENCH_OMAMORI: another omamori binary (e.g. a copy of an earlier build, for before/after figures).
omamori="${BENCH_OMAMORI:-$top/build/src/cli/omamori}"
echo "omamori binary: $omamori"
bench="$top/build/bench"

# ---------------------------------------------------------------------------
# 1. omamori flows read vs nfacctd (pcap_savefile, print plugin), same pcap.
if want read; then
  echo
  echo "== 1. flows read vs pmacct nfacctd on the same export pcap"
  command -v nfacctd >/dev/null || { echo "nfacctd missing (apt-get install pmacct)"; exit 1; }
  P=${OMAMORI_SHARED_DATA:-$top/../shared/data}/flows
  [ -d "$P" ] || P=/work/shared/data/flows
  A=$P/akvorado/netflow
  M=$P/pmacct
  # Groups: files replayed in order under their own exporter addresses.
  groups=(
    "$M/100-IPFIXv10-CISCO/traffic-00.pcap"
    "$M/101-NFv9-CISCO-cust_primitives/traffic-00.pcap"
    "$M/104-IPFIXv10-IPv6-CISCO-sampling_option/traffic-00.pcap"
    "$M/110-IPFIXv10-NFv9-multiple-sources/traffic-00.pcap,$M/110-IPFIXv10-NFv9-multiple-sources/traffic-01.pcap,$M/110-IPFIXv10-NFv9-multiple-sources/traffic-02.pcap"
    "$M/111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources/traffic-00.pcap,$M/111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources/traffic-01.pcap"
    "$A/nfv5.pcap"
    "$A/data+templates.pcap"
    "$A/template.pcap,$A/data.pcap"
    "$A/datalink-template.pcap,$A/datalink-data.pcap"
    "$A/ethernet-over-mpls-with-control-word-template.pcap,$A/ethernet-over-mpls-with-control-word-data.pcap"
    "$A/icmp-template.pcap,$A/icmp-data.pcap"
    "$A/ipfix-srv6-template.pcap,$A/ipfix-srv6-data.pcap"
    "$A/ipfixprobe-templates.pcap,$A/ipfixprobe-data.pcap"
    "$A/juniper-cpid-template.pcap,$A/juniper-cpid-data.pcap"
    "$A/mpls.pcap"
    "$A/multiplesamplingrates-template.pcap,$A/multiplesamplingrates-options-template.pcap,$A/multiplesamplingrates-options-data.pcap,$A/multiplesamplingrates-data.pcap"
    "$A/nat.pcap"
    "$A/options-template.pcap,$A/options-data.pcap"
    "$A/physicalinterfaces.pcap"
    "$A/samplingrate-template.pcap,$A/samplingrate-data.pcap"
  )
  repeat=${BENCH_REPEAT:-10000}
  big="$work/export-x$repeat.pcap"
  small="$work/export-x1.pcap"
  [ -s "$big" ] || "$bench/make_export_pcap" "$big" "$repeat" "${groups[@]}" >/dev/null
  "$bench/make_export_pcap" "$small" 1 "${groups[@]}" >/dev/null

  nfacctd_run() {  # pcap, tag -> prints "wall cpu"; output in $work/nfacctd-$tag.csv
    local conf="$work/nfacctd-$2.conf"
    cat >"$conf" <<EOF
daemonize: false
pcap_savefile: $1
plugins: print[p]
aggregate[p]: src_host, dst_host, src_port, dst_port, proto
print_output[p]: csv
print_output_file[p]: $work/nfacctd-$2.csv
print_refresh_time[p]: 86400
plugin_pipe_size[p]: 102400000
plugin_buffer_size[p]: 1024000
EOF
    rm -f "$work/nfacctd-$2.csv"
    /usr/bin/time -f "%e %U %S" -o "$work/nfacctd-$2.time" nfacctd -f "$conf" >"$work/nfacctd-$2.log" 2>&1
    tail -1 "$work/nfacctd-$2.time" | awk '{print $1, $2 + $3}'
  }
  omamori_run() {  # pcap, tag [extra flags] -> prints "wall cpu records"
    local extra=("${@:3}")
    [ ${#extra[@]} -eq 0 ] && extra=(--aggregate src,dst,sport,dport,proto)
    /usr/bin/time -f "%e %U %S" -o "$work/omamori-$2.time" "$omamori" flows read "$1" --stats \
      "${extra[@]}" --format csv -o "$work/omamori-$2.csv" 2>"$work/omamori-$2.log" || true
    local recs
    recs=$(grep -o 'datagrams [0-9]* records [0-9]*' "$work/omamori-$2.log" | awk '{print $4}' | head -1)
    echo "$(tail -1 "$work/omamori-$2.time" | awk '{print $1, $2 + $3}') ${recs:-0}"
  }

  # The VM's speed drifts by up to 2x from minute to minute (other tenants),
  # so the two tools run alternately, round after round, and each round's
  # ratio compares runs made seconds apart. Both tools' fixed start/stop (a
  # 1-replay pcap) is subtracted from their times; records/s are of the
  # records omamori decoded.
  compare() {  # big pcap, small (1-replay) pcap, tag
    echo
    echo "input $3: $(basename "$1"), $(du -m "$1" | cut -f1) MB; ${BENCH_ROUNDS:-5} rounds"
    local big=$1 small=$2 rounds=${BENCH_ROUNDS:-5} r rows="$work/rounds-$3.txt"
    : >"$rows"
    for ((r = 1; r <= rounds; r++)); do
      read -r os_wall os_cpu _ <<<"$(omamori_run "$small" "$3-small")"
      read -r o_wall o_cpu recs <<<"$(omamori_run "$big" "$3-big")"
      # The same decoding without the 5-tuple aggregation: a filter no record matches (IP protocol 255).
      read -r d_wall d_cpu _ <<<"$(omamori_run "$big" "$3-decode" --filter 'proto 255' --aggregate proto)"
      read -r ns_wall ns_cpu <<<"$(nfacctd_run "$small" "$3-small")"
      read -r n_wall n_cpu <<<"$(nfacctd_run "$big" "$3-big")"
      echo "$recs $o_wall $o_cpu $os_wall $os_cpu $d_wall $d_cpu $n_wall $n_cpu $ns_wall $ns_cpu" >>"$rows"
    done
    echo "records decoded by omamori: $recs; decode errors/notes in $work/omamori-$3-big.log"
    sums() { awk -F, 'NR>1 {p+=$(NF-1); b+=$NF} END {printf "%d packets %d bytes", p, b}' "$1"; }
    # Cross-check (last round): the same traffic totals from both tools (last two CSV columns: packets, bytes).
    echo "totals: nfacctd $(sums "$work/nfacctd-$3-big.csv"), $(($(wc -l <"$work/nfacctd-$3-big.csv") - 1)) keys; omamori $(sums "$work/omamori-$3-big.csv"), $(($(wc -l <"$work/omamori-$3-big.csv") - 1)) keys"
    local missing n_pk o_pk
    missing=$(grep -c 'Missing data detected' "$work/nfacctd-$3-big.log" || true)
    n_pk=$(sums "$work/nfacctd-$3-big.csv" | cut -d' ' -f1)
    o_pk=$(sums "$work/omamori-$3-big.csv" | cut -d' ' -f1)
    [ "$missing" -gt 0 ] && echo "nfacctd warned $missing times 'Missing data detected' in the last round (its core outran its print plugin): it accounted $n_pk of $o_pk packets; the rates below still count every record for it"
    python3 "$top/bench/read_rounds.py" "$rows"
  }

  echo "A = the real captures of flows/pmacct and flows/akvorado/netflow (few records per datagram), replayed $repeat times"
  compare "$big" "$small" A

  # B: a real exporter's output at full datagrams: softflowd's NetFlow v9 export of the ddos SYN flood
  # (37k flows, ~30 records per datagram), captured on lo once, then replayed.
  sfcap="$work/softflowd-synflood-v9.pcapng"
  if [ ! -s "$sfcap" ]; then
    sfport=39155
    "$omamori" flows collect --listen 127.0.0.1:$sfport --duration 30 -a proto -o /dev/null 2>/dev/null &
    sink=$!
    dumpcap -q -i lo -f "udp dst port $sfport" -w "$sfcap" 2>/dev/null &
    dc=$!
    sleep 3
    softflowd -d -r "$P/../ddos/pkt.TCP.synflood.spoofed.pcap" -n 127.0.0.1:$sfport -v 9 -c none >/dev/null
    sleep 2
    kill "$dc" "$sink"; wait "$dc" "$sink" 2>/dev/null || true
  fi
  repeat_b=${BENCH_REPEAT_B:-$(( repeat / 20 + 1 ))}
  "$bench/make_export_pcap" "$work/softflowd-x$repeat_b.pcap" "$repeat_b" "$sfcap" >/dev/null
  "$bench/make_export_pcap" "$work/softflowd-x1.pcap" 1 "$sfcap" >/dev/null
  echo
  echo "B = softflowd's NetFlow v9 export of ddos/pkt.TCP.synflood.spoofed.pcap (full ~1400-byte datagrams), replayed $repeat_b times"
  compare "$work/softflowd-x$repeat_b.pcap" "$work/softflowd-x1.pcap" B

  # The decoders alone, datagrams from memory (hot cache; no file, no aggregation, no output).
  echo
  echo "decoders alone (bench/decode_bench, best of 7 rounds, thread CPU time):"
  for f in "$small" "$work/softflowd-x1.pcap"; do
    echo "  $(basename "$f"): $("$bench/decode_bench" "$f" | sed 's/^decode_bench: //')"
  done
fi

# ---------------------------------------------------------------------------
# 2. The UDP collector's drop-free rate on loopback, one worker.
if want collector; then
  echo
  echo "== 2. flows collect: highest drop-free record rate on loopback, 1 worker"
  secs=${BENCH_SECONDS:-3}
  fmt=${BENCH_FORMAT:-v9}
  rates=${BENCH_RATES:-"250000 500000 750000 1000000 1250000 1500000 2000000 3000000"}
  best=0
  for rate in $rates; do
    log="$work/collect-$rate.log"
    "$omamori" flows collect --listen 127.0.0.1:0 --workers 1 --duration $((secs + 2)) --stats-interval 3600 \
      --aggregate proto -o /dev/null 2>"$log" &
    cpid=$!
    port=""
    for _ in $(seq 100); do
      port=$(grep -o 'listening 127.0.0.1:0->[0-9]*' "$log" | sed 's/.*->//' || true)
      [ -n "$port" ] && break
      sleep 0.05
    done
    [ -n "$port" ] || { echo "collector did not start: $(cat "$log")"; kill "$cpid"; exit 1; }
    sent=$("$bench/udp_sender" --dst "127.0.0.1:$port" --format "$fmt" --rate "$rate" --seconds "$secs")
    wait "$cpid" || true
    final=$(grep 'collector: up=' "$log" | tail -1)
    get() { echo "$1" | grep -o "$2=[0-9]*" | head -1 | cut -d= -f2; }
    s_dg=$(get "$sent" datagrams); s_rec=$(get "$sent" records); s_rate=$(get "$sent" records_per_s)
    c_dg=$(get "$final" datagrams); c_rec=$(get "$final" records)
    kd=$(get "$final" kernel_drops); qd=$(get "$final" queue_full_drops); de=$(get "$final" decode_errors)
    ok=no
    if [ "$c_dg" = "$s_dg" ] && [ "$c_rec" = "$s_rec" ] && [ "$kd" = 0 ] && [ "$qd" = 0 ] && [ "$de" = 0 ]; then ok=yes; fi
    printf "target %8d rec/s: sent %9d records (%8d rec/s achieved) received %9d, kernel drops %d, queue drops %d, decode errors %d: %s\n" \
      "$rate" "$s_rec" "$s_rate" "$c_rec" "$kd" "$qd" "$de" "$( [ $ok = yes ] && echo drop-free || echo LOSS)"
    if [ $ok = yes ]; then [ "$s_rate" -gt "$best" ] && best=$s_rate; else break; fi
  done
  echo "highest drop-free rate: $best records/s ($fmt, ~1400-byte datagrams, one worker; goal 1000000: $( [ "$best" -ge 1000000 ] && echo met || echo 'NOT met'))"
fi

# ---------------------------------------------------------------------------
# 3. LPM table with the full ASN tables.
if want lpm; then
  echo
  echo "== 3. LPM table: full ../shared/data/asn tables (IPv4 2014, IPv6 2015)"
  "$bench/lpm_bench" --benchmark_min_time=1 --benchmark_out="$results/lpm-$stamp.json" --benchmark_out_format=json \
    2>&1 | grep -v '^\*\*\*WARNING'
fi

# ---------------------------------------------------------------------------
# 4-6. The other components' benchmarks, in the same run.
if want meter && [ -f "$top/bench/meter_vs_nfpcapd.sh" ]; then
  echo
  echo "== 4. flows meter vs nfdump's nfpcapd (bench/meter_vs_nfpcapd.sh)"
  bash "$top/bench/meter_vs_nfpcapd.sh" "${BENCH_METER_COPIES:-40}" "$omamori" || echo "meter benchmark failed"
fi
if want dns && [ -f "$top/bench/dns_vs_tshark.sh" ]; then
  echo
  echo "== 5. dns read vs tshark (bench/dns_vs_tshark.sh)"
  OMAMORI="$omamori" bash "$top/bench/dns_vs_tshark.sh" || echo "dns benchmark failed"
fi
if want intel && [ -x "$bench/intel_bench" ]; then
  echo
  echo "== 6. intel matching (bench/intel_bench)"
  "$bench/intel_bench" --benchmark_min_time=0.5 2>&1 | grep -v '^\*\*\*WARNING' || echo "intel benchmark failed"
fi
if want cases && [ -x "$bench/cases_bench" ]; then
  echo
  echo "== 7. cases ingest on SQLite and PostgreSQL (bench/cases_bench)"
  "$bench/cases_bench" || echo "cases benchmark failed"
fi
if want notify && [ -x "$bench/notify_bench" ]; then
  echo
  echo "== 8. notify: render rate, e-mails/s to a local aiosmtpd (bench/notify_bench)"
  "$bench/notify_bench" "$top/src/notify/testdata/smtp_sink.py" 500 || echo "notify benchmark failed"
  # Peer: Python smtplib sending a message of the same size to the same kind of server.
  nb_dir=$(mktemp -d)
  /usr/bin/python3 - "$top/src/notify/testdata/smtp_sink.py" "$nb_dir" <<'PY' || echo "smtplib peer failed"
import subprocess, smtplib, sys, time
from email.message import EmailMessage
p = subprocess.Popen(["/usr/bin/python3", sys.argv[1], sys.argv[2]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
port = int(p.stdout.readline())
m = EmailMessage(); m["From"] = "abuse@isp.example"; m["To"] = "taro@example.jp"; m["Subject"] = "お知らせ"
m.set_content("本文" * 1500, charset="utf-8", cte="base64")
n = 500; t0 = time.monotonic()
for i in range(n):
    with smtplib.SMTP("127.0.0.1", port) as s:
        s.send_message(m)
el = time.monotonic() - t0
print("peer python smtplib to local aiosmtpd: %d e-mails in %.2f s = %.0f e-mails/s (one connection each)" % (n, el, n / el))
p.stdin.close(); p.wait()
PY
  rm -rf "$nb_dir"
fi
if want attribution && [ -x "$bench/attribution_bench" ]; then
  echo
  echo "== 9. attribution: session index, 10 million sessions (bench/attribution_bench)"
  "$bench/attribution_bench" --sessions "${BENCH_SESSIONS:-10000000}" --store "$work/attribution" || echo "attribution benchmark failed"
fi
if want privacy && [ -x "$bench/pseudonym_bench" ]; then
  echo
  echo "== 10. pseudonymisation: Crypto-PAn addresses/s and subscriber pseudonyms/s (bench/pseudonym_bench)"
  "$bench/pseudonym_bench" --benchmark_min_time=0.5 2>&1 | grep -v '^\*\*\*WARNING' || echo "pseudonym benchmark failed"
fi
if want pipeline; then
  echo
  echo "== 11. the whole detector pipeline: flows/s per core and state per active host (bench/pipeline_bench)"
  "$bench/pipeline_bench" --hosts "${BENCH_PIPELINE_HOSTS:-1000000}" --flows "${BENCH_PIPELINE_FLOWS:-40000000}" ||
    echo "pipeline benchmark failed"
fi
if want ddos; then
  echo
  echo "== 12. DDoS detection vs FastNetMon on the same NetFlow v9 replay (bench/ddos_vs_fastnetmon.sh)"
  bash "$top/bench/ddos_vs_fastnetmon.sh" "$top/build" || echo "ddos benchmark failed"
fi
if want dga; then
  echo
  echo "== 13. DGA scorer (bench/dga_bench)"
  "$bench/dga_bench" --seconds 5 || echo "dga benchmark failed"
fi
echo
echo "results: $out"
