#!/bin/sh
# How testdata/unbound-*.log were produced (Unbound 1.17.1, Debian 12): one
# Unbound on loopback answering from local data only, log-queries and
# log-replies on, queried with dig. Run from this directory; needs unbound, dig.
set -e
dir=$(mktemp -d)
port=15399
for variant in plain tagged; do
  extra=""
  [ $variant = tagged ] && extra="  log-tag-queryreply: yes
  log-time-ascii: yes"
  cat > $dir/unbound.conf <<CONF
server:
  interface: 127.0.0.1
  interface: ::1
  port: $port
  do-daemonize: no
  use-syslog: no
  logfile: "$dir/unbound.log"
  username: ""
  chroot: ""
  directory: "$dir"
  pidfile: ""
  log-queries: yes
  log-replies: yes
$extra
  access-control: 127.0.0.0/8 allow
  access-control: ::1 allow
  module-config: "iterator"
  local-zone: "." static
  local-data: "example.test. 60 IN A 192.0.2.10"
  local-data: "example.test. 60 IN AAAA 2001:db8::10"
  local-data: "www.example.test. 60 IN CNAME example.test."
remote-control:
  control-enable: no
CONF
  rm -f $dir/unbound.log
  unbound -d -c $dir/unbound.conf & pid=$!
  sleep 1
  dig @127.0.0.1 -p $port example.test A +short
  dig @127.0.0.1 -p $port www.example.test A +short
  dig @::1 -p $port nx.example.test AAAA +short
  dig @127.0.0.1 -p $port +tcp Example.Test TXT +short
  dig @127.0.0.1 -p $port 'we\032ird\.label.example.test' A +short
  dig @127.0.0.1 -p $port -x 192.0.2.1 +short
  kill $pid; wait $pid || true
  cp $dir/unbound.log unbound-$variant.log
done
rm -rf $dir
