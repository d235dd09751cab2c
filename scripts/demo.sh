#!/usr/bin/env bash
# The main job on bundled data: installs what is missing, builds (release),
# runs `omamori demo` on the bundled ISP and omamori over the sample captures.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/build.sh" release >/dev/null
bin="$top/build/src/cli/omamori"
s="$top/data/samples"
# The whole pipeline on the bundled small ISP (data/demo): sessions, traffic,
# DNS, feed -> findings -> cases -> rendered warnings; then the sample flow
# exports and the real DDoS capture.
"$bin" demo --data "$top/data/demo" --out "${OMAMORI_DEMO_OUT:-$(mktemp -d /tmp/omamori-demo-XXXXXX)}"
echo
echo "== flow exports in pcaps (NetFlow v5, v9, IPFIX, sFlow): top talkers"
"$bin" flows read "$s/netflow-v5.pcap" "$s/nfv9-ipfix-multiple-sources.pcap" "$s/sflow-vxlan.pcap" \
  --aggregate src,dst --top 10 --stats || true
echo
echo "== the same, as JSON lines (first 3 records)"
"$bin" flows read "$s/nfv9-ipfix-multiple-sources.pcap" --format jsonl | head -3
echo
echo "== analyse a real SYN-ACK reflection attack (raw capture -> flow meter -> detectors)"
"$bin" analyze --pcap "$s/ddos-synack-reflection.pcap" --protect 10.10.10.0/24 --ddos-pps 1000 \
  --attack-report /tmp/omamori-attack-report.jsonl || true
echo "attack report (for the operators of the sending networks): /tmp/omamori-attack-report.jsonl"
head -c 600 /tmp/omamori-attack-report.jsonl; echo ...
