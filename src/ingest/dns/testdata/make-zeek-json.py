#!/usr/bin/env python3
"""How zeek-dns-sample.json was produced: selected rows of the shared Zeek
dns.log (TSV, ../shared/data/dns/zeek-dns.log.gz) written the way Zeek's JSON
writer (LogAscii::use_json=T) writes them: unset fields omitted, bools as
true/false, counts and ports as numbers, intervals as floats, vectors as arrays.
zeek-dns-sample.tsv holds the same rows in the original TSV form with its header.
Usage: make-zeek-json.py ZEEK_DNS_LOG_GZ"""
import gzip, json, sys

rows, header = [], []
with gzip.open(sys.argv[1], "rt") as f:
    for line in f:
        line = line.rstrip("\n")
        if line.startswith("#"):
            if not line.startswith("#close") and not line.startswith("#open"):
                header.append(line)
            if line.startswith("#fields"):
                fields = line.split("\t")[1:]
            if line.startswith("#types"):
                types = line.split("\t")[1:]
            continue
        rows.append(line)

def pick(rows):
    out, seen = [], set()
    want = [lambda v: True] * 6 + [
        lambda v: v["rcode_name"] == "NXDOMAIN", lambda v: v["rcode"] == "-",
        lambda v: v["query"] == "-", lambda v: "RRSIG" in v["answers"], lambda v: "TXT" in v["answers"],
        lambda v: ":" in v["id.orig_h"], lambda v: v["proto"] == "tcp", lambda v: v["qtype_name"] == "PTR",
        lambda v: v["qtype_name"] == "AAAA" and v["answers"] != "-", lambda v: v["answers"] == "(empty)",
    ]
    for pred in want:
        for i, r in enumerate(rows):
            v = dict(zip(fields, r.split("\t")))
            if i not in seen and pred(v):
                seen.add(i)
                out.append(r)
                break
    return out

def convert(r):
    obj = {}
    for name, typ, val in zip(fields, types, r.split("\t")):
        if val == "-":
            continue
        if typ.startswith("vector") or typ.startswith("set"):
            items = [] if val == "(empty)" else val.split(",")
            obj[name] = [float(x) for x in items] if "interval" in typ else items
        elif typ in ("count", "port"):
            obj[name] = int(val)
        elif typ in ("time", "interval", "double"):
            obj[name] = float(val)
        elif typ == "bool":
            obj[name] = val == "T"
        else:
            obj[name] = val
    return json.dumps(obj, separators=(",", ":"))

sel = pick(rows)
with open("zeek-dns-sample.tsv", "w") as f:
    f.write("\n".join(header) + "\n" + "\n".join(sel) + "\n#close\t2024-04-12-19-34-07\n")
with open("zeek-dns-sample.json", "w") as f:
    f.write("\n".join(convert(r) for r in sel) + "\n")
