#!/usr/bin/env bash
# DDoS detection side by side with FastNetMon (Debian's fastnetmon package) on
# the same NetFlow v9 replay. Not a test: nothing asserts a timing.
#
# For each capture of shared/data/ddos (attack traffic to 10.10.10.10):
#  1. bench/ddos_replay meters it with omamori's flow meter (1 s active and
#     inactive timeouts: a router tuned for DDoS detection) into NetFlow v9
#     datagrams stamped with their export time, and writes them as an export
#     capture;
#  2. FastNetMon (its own temp config, netflow on 127.0.0.1:<port>, networks
#     10.10.10.0/24, ban on pps, a notify script that records the wall time of
#     the ban) and `omamori ddos watch` (omamori's UDP collector feeding the
#     DDoS detector) listen on two loopback ports;
#  3. ddos_replay sends every datagram to both at once, at the capture's pace
#     (REPLAY_SPEED=1; relative timing kept when faster), the wall clock of the
#     capture's first packet being the attack onset;
#  4. time to detect = detection wall time - onset; CPU = utime+stime of each
#     daemon over the replay (from /proc/<pid>/stat); RSS = VmHWM.
#  5. `omamori analyze --flows` on the export capture: the same detection in
#     batch, latency in traffic time (detected - first attack packet), CPU.
#
# usage: bench/ddos_vs_fastnetmon.sh [BUILD_DIR]
# Environment: DDOS_PPS (threshold for both, packets/s per host; default 100:
# the captures are small, 150 to 54,000 packets/s), FNM_AVERAGE (FastNetMon's
# average_calculation_time, default 1 s: its fastest), REPLAY_SPEED (default 1).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
bench=$build/bench
omamori=$build/src/cli/omamori
data=${OMAMORI_SHARED_DATA:-$top/../shared/data}
[ -d "$data/ddos" ] || data=/work/shared/data
PPS=${DDOS_PPS:-100}
AVG=${FNM_AVERAGE:-1}
SPEED=${REPLAY_SPEED:-1}
FNM=${FASTNETMON:-/usr/sbin/fastnetmon}
for t in "$FNM" "$bench/ddos_replay" "$omamori" python3; do
  command -v "$t" >/dev/null || { echo "missing: $t (apt-get install fastnetmon; build with -DOMAMORI_BENCH=ON)" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/omamori-ddos-fnm.XXXXXX")
pids=()
cleanup() { local p; for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)

echo "threshold: $PPS packets/s per host for both; FastNetMon average_calculation_time=$AVG s, check every 1 s; replay speed x$SPEED"
echo "FastNetMon: $("$FNM" --version 2>&1 | head -1)"
results=$work/results.tsv
: >"$results"

for cap in pkt.TCP.synflood.spoofed amp.dns.RRSIG.fragmented amp.TCP.reflection.SYNACK; do
  in=$data/ddos/$cap.pcap
  d=$work/$cap
  mkdir -p "$d/fnm"
  "$bench/ddos_replay" --pcap-out "$d/export.pcap" "$in" >"$d/make.out"
  first_ms=$(grep -o 'first_packet_ms=[0-9]*' "$d/make.out" | cut -d= -f2)

  # FastNetMon, foreground, everything in its own temp dir.
  pf=$(free_port)
  echo "10.10.10.0/24" >"$d/fnm/networks_list"
  : >"$d/fnm/networks_whitelist"
  cat >"$d/fnm/notify.sh" <<EOF
#!/bin/sh
echo "\$(date +%s%3N) \$@" >> $d/fnm/notify.log
cat > /dev/null
EOF
  chmod +x "$d/fnm/notify.sh"
  cat >"$d/fnm/fastnetmon.conf" <<EOF
logging_level = info
logging_local_syslog_logging = off
logging_remote_syslog_logging = off
disable_usage_report = on
enable_ban = on
enable_ban_ipv6 = off
process_incoming_traffic = on
process_outgoing_traffic = off
ban_time = 1900
unban_only_if_attack_finished = on
networks_list_path = $d/fnm/networks_list
white_list_path = $d/fnm/networks_whitelist
check_period = 1
enable_connection_tracking = off
ban_for_pps = on
ban_for_bandwidth = off
ban_for_flows = off
threshold_pps = $PPS
threshold_mbps = 100000
threshold_flows = 100000000
ban_details_records_count = 20
mirror_afpacket = off
mirror_afxdp = off
mirror_netmap = off
pcap = off
sflow = off
netflow = on
netflow_port = $pf
netflow_host = 127.0.0.1
netflow_sampling_ratio = 1
average_calculation_time = $AVG
speed_calculation_delay = 1
notify_script_path = $d/fnm/notify.sh
notify_script_enabled = on
collect_attack_pcap_dumps = off
redis_enabled = off
mongodb_enabled = off
exabgp = off
gobgp = off
influxdb = off
graphite = off
monitor_local_ip_addresses = off
pid_path = $d/fnm/fastnetmon.pid
cli_stats_file_path = $d/fnm/fastnetmon.dat
cli_stats_ipv6_file_path = $d/fnm/fastnetmon_ipv6.dat
enable_api = off
prometheus = off
kafka_traffic_export = off
EOF
  "$FNM" --configuration_file "$d/fnm/fastnetmon.conf" --log_file "$d/fnm/fastnetmon.log" --disable_pid_logic \
    >"$d/fnm/stdout" 2>&1 &
  fnm=$!
  pids+=("$fnm")

  "$omamori" ddos watch --listen 127.0.0.1:0 --protect 10.10.10.0/24 --ddos-pps "$PPS" --ddos-end-after 10 -f jsonl \
    >"$d/live.out" 2>"$d/live.err" &
  live=$!
  pids+=("$live")
  po=""
  for _ in $(seq 200); do
    po=$(grep -o 'listening 127.0.0.1:0->[0-9]*' "$d/live.err" 2>/dev/null | sed 's/.*->//' || true)
    fnm_up=$(ss -lun 2>/dev/null | grep -c "127.0.0.1:$pf " || true)
    [ -n "$po" ] && [ "$fnm_up" -gt 0 ] && break
    sleep 0.1
  done
  [ -n "$po" ] || { echo "omamori ddos watch did not start: $(cat "$d/live.err")"; exit 1; }
  [ "$fnm_up" -gt 0 ] || { echo "fastnetmon did not listen on 127.0.0.1:$pf: $(tail -5 "$d/fnm/fastnetmon.log" "$d/fnm/stdout")"; exit 1; }
  sleep 2  # both idle and settled
  f0=$(cpu_ticks "$fnm"); o0=$(cpu_ticks "$live")
  "$bench/ddos_replay" --send "127.0.0.1:$pf" --send "127.0.0.1:$po" --speed "$SPEED" --lead 1 "$in" >"$d/replay.out"
  sleep $((AVG + 4))  # room for the last checks
  f1=$(cpu_ticks "$fnm"); o1=$(cpu_ticks "$live")
  frss=$(hwm_kb "$fnm"); orss=$(hwm_kb "$live")
  kill "$fnm" "$live" 2>/dev/null || true
  wait "$fnm" "$live" 2>/dev/null || true
  pids=()
  onset=$(grep -o 'onset_wall_ms=[0-9]*' "$d/replay.out" | cut -d= -f2)
  fban=$(awk '$0 ~ /ban/ {print $1; exit}' "$d/fnm/notify.log" 2>/dev/null || true)
  # The first attack_start event's wall clock, in ms since the epoch.
  oban=$(python3 -c 'import json,sys,datetime
for l in open(sys.argv[1]):
    e=json.loads(l)
    if e["event"]=="attack_start":
        t=datetime.datetime.strptime(e["wall"],"%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
        print(round(t.timestamp()*1000)); break' "$d/live.out" 2>/dev/null || true)

  # Batch: omamori analyze on the export capture (traffic time).
  /usr/bin/time -f "%e %U %S %M" -o "$d/analyze.time" "$omamori" analyze --flows "$d/export.pcap" \
    --protect 10.10.10.0/24 --ddos-pps "$PPS" --ddos-bps 100000000000 --ddos-fps 100000000 \
    --attack-report "$d/report.jsonl" --no-summary >"$d/analyze.out" 2>&1 || true
  adet=$(python3 - "$d/report.jsonl" <<'PY'
import json, sys, datetime
try:
    line = open(sys.argv[1]).readline()
    j = json.loads(line)
    t = datetime.datetime.fromisoformat(j["detected"].replace("Z", "+00:00"))
    print(int(t.timestamp() * 1000))
except Exception:
    print("")
PY
)
  read -r a_wall a_user a_sys a_rss <"$d/analyze.time"
  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$cap" "$(grep -o 'records=[0-9]*' "$d/make.out" | cut -d= -f2)" \
    "${fban:-}" "${oban:-}" "$onset" "$(( f1 - f0 ))" "$(( o1 - o0 ))" "$frss" "$orss" "${adet:-}" "$first_ms" \
    "$a_user" "$a_sys" "$a_rss" >>"$results"
done

python3 - "$results" "$hz" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
hz = float(sys.argv[2])
def lat(det, onset):
    return (int(det) - int(onset)) / 1000.0 if det else None
def f(x, unit="s"):
    return "not detected" if x is None else f"{x:.2f} {unit}"
print()
print(f"{'capture':<28} {'records':>7} | {'time to detect':^33} | {'CPU during replay':^27} | {'peak RSS':^21} | omamori analyze (batch)")
print(f"{'':<28} {'':>7} | {'FastNetMon':>11} {'omamori':>9} {'ratio':>11} | {'FastNetMon':>10} {'omamori':>8} {'ratio':>7} | {'FNM':>9} {'omamori':>9} | latency (traffic time), CPU, RSS")
for cap, recs, fban, oban, onset, fcpu, ocpu, frss, orss, adet, first, au, asys, arss in rows:
    lf, lo = lat(fban, onset), lat(oban, onset)
    ratio = f"{lf / lo:.1f}x" if lf is not None and lo not in (None, 0) else "-"
    fc, oc = int(fcpu) / hz, int(ocpu) / hz
    cr = f"{fc / oc:.1f}x" if oc > 0 else ("-" if fc == 0 else "inf")
    al = (int(adet) - int(first)) / 1000.0 if adet else None
    print(f"{cap:<28} {recs:>7} | {f(lf):>11} {f(lo):>9} {ratio:>11} | {fc:>9.2f}s {oc:>7.2f}s {cr:>7} | "
          f"{int(frss)/1024:>6.1f} MB {int(orss)/1024:>6.1f} MB | {f(al)}, {float(au)+float(asys):.2f} s CPU, {int(arss)/1024:.1f} MB")
print("time to detect: wall clock from the capture's first packet (the attack onset) to FastNetMon's ban (notify script)")
print("and to omamori's attack start (omamori ddos watch: the collector + DDoS detector); both include the exporter's 1 s timeouts.")
print("ratio = FastNetMon / omamori (above 1: omamori faster / cheaper). CPU is utime+stime of each daemon (all threads) from")
print("2 s before the replay to 4 s + averaging time after it: idle work counts too. CPU ticks are 1/100 s.")
PY
echo "work files: $work"
