#!/usr/bin/env bash
# Creates and starts a private Postfix instance (DESIGN.md "Testing"): its own etc/,
# queue and data directories under DIR, smtpd on 127.0.0.1:PORT, deliveries relayed to
# a closed loopback port so every message defers. Root only (as the Debian package is).
#   bench/postfix_instance.sh start DIR PORT [MAXPROC]
#   bench/postfix_instance.sh stop DIR
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?DIR}
case "$cmd" in
start)
  port=${3:?PORT}; maxproc=${4:-100}
  name="hr$(basename "$dir" | tr -cd 'a-zA-Z0-9' | tail -c 12)"
  mkdir -p "$dir/etc" "$dir/queue" "$dir/data"
  chown postfix "$dir/data"
  cp /etc/postfix/main.cf /etc/postfix/master.cf "$dir/etc/"
  postconf -c "$dir/etc" -e \
    "queue_directory=$dir/queue" "data_directory=$dir/data" \
    inet_interfaces=127.0.0.1 inet_protocols=ipv4 mydestination= \
    "multi_instance_name=$name" "syslog_name=postfix-$name" \
    "maillog_file=$dir/maillog" "maillog_file_prefixes=$dir" \
    "relayhost=[127.0.0.1]:9" default_transport=smtp relay_transport=smtp smtp_connect_timeout=1s
  postconf -c "$dir/etc" -M# smtp/inet
  echo "127.0.0.1:$port inet n - n - $maxproc smtpd" >> "$dir/etc/master.cf"
  if ! postfix -c "$dir/etc" start >/dev/null 2>&1; then
    echo "postfix -c $dir/etc start failed:" >&2; tail -20 "$dir/maillog" >&2 || true; exit 1
  fi ;;
stop)
  postfix -c "$dir/etc" stop >/dev/null 2>&1 || true ;;
esac
