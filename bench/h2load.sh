#!/usr/bin/env bash
# TLS and HTTP/2 cost, measured with h2load (Debian nghttp2-client): one gonicorn serves the
# shared harness's app on a plain and a TLS port (2 workers, pinned to core 0; h2load on core
# 1), and h2load loads it as plain HTTP/1.1, HTTPS HTTP/1.1, h2 over TLS and h2c, one after
# the other in one run. Only ratios within one run mean anything on a noisy machine.
#
#   bench/h2load.sh                 # hello
#   SCENARIO=django-json bench/h2load.sh
#   DURATION=5 CONNS=64 STREAMS=100 bench/h2load.sh
#   GONICORN=/tmp/a bench/h2load.sh    # a built binary instead of this tree
#
# HTTP/1.1 runs use CONNS keep-alive connections, one request in flight each; h2 runs use
# H2CONNS connections with STREAMS concurrent streams each (h2's point: fewer connections).
# Each row also gives the server's CPU time per request (master and workers, from /proc):
# h2load's TLS and h2 work costs its core too, so req/s can be client-bound where the
# server's CPU per request shows what the protocol costs the server.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
harness=${HARNESS:-$root/../shared/bench}
scenario=${SCENARIO:-hello}
duration=${DURATION:-10}
conns=${CONNS:-64}
h2conns=${H2CONNS:-4}
streams=${STREAMS:-100}
case $scenario in
  hello) dir=$harness/apps; app=hello:app; path=/ ;;
  django-json) dir=$harness/apps/djsite; app=djsite.wsgi:application; path=/json ;;
  *) echo "SCENARIO must be hello or django-json" >&2; exit 2 ;;
esac

tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
if [ -n "${GONICORN:-}" ]; then # a given binary, for A/B runs
  cp "$GONICORN" "$tmp/gonicorn"
else
  (cd "$root" && CGO_ENABLED=0 go build -o "$tmp/gonicorn" ./cmd/gonicorn)
fi
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tls_port=$(free_port); plain_port=$(free_port)
PATH=/usr/bin:$PATH taskset -c 0 "$tmp/gonicorn" --workers 2 --python /usr/bin/python3 --chdir "$dir" \
  --bind "127.0.0.1:$tls_port" --bind "http://127.0.0.1:$plain_port" \
  --certfile "$tmp/cert.pem" --keyfile "$tmp/key.pem" --http-protocols h1,h2 --http2-cleartext \
  --error-logfile "$tmp/error.log" "$app" &
pid=$!
for _ in $(seq 100); do curl -fsk "https://127.0.0.1:$tls_port$path" >/dev/null 2>&1 && break; sleep 0.1; done

# cpu_ticks prints the CPU time (utime + stime, in clock ticks) of the master and its workers.
cpu_ticks() {
  local pids="$pid" t total=0
  for t in /proc/"$pid"/task/*/children; do pids="$pids $(cat "$t")"; done
  for p in $pids; do
    total=$((total + $(awk '{sub(/.*\) /, ""); print $12 + $13}' /proc/"$p"/stat)))
  done
  echo "$total"
}
hz=$(getconf CLK_TCK)

run() { # label, h2load arguments...
  local label=$1; shift
  taskset -c 1 h2load "$@" -D 2 >/dev/null 2>&1 || true # warm-up
  local out before after
  before=$(cpu_ticks)
  out=$(taskset -c 1 h2load "$@" -D "$duration" 2>&1)
  after=$(cpu_ticks)
  local rps p
  rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
  p=$(awk '/^time for request:/ {print $3 " mean, " $4 " sd, max " $5}' <<<"$out" | head -1)
  local failed
  failed=$(sed -n 's/^requests: .* \([0-9]*\) failed.*/\1/p' <<<"$out")
  local done cpu
  done=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$out")
  cpu=$(awk -v t=$((after - before)) -v n="${done:-0}" -v hz="$hz" 'BEGIN { if (n > 0) printf "%.1f", t / hz / n * 1e6; else print "?" }')
  printf '| %-28s | %10s | %8s | %-40s | %s |\n' "$label" "$rps" "$cpu" "$p" "${failed:-?}"
}
echo "gonicorn $scenario, $duration s per cell, $(date -u +%Y-%m-%dT%H:%M)Z"
echo
echo "| protocol | req/s | server CPU µs/request | time per request | failed |"
echo "|---|---|---|---|---|"
run "HTTP/1.1 plain (c=$conns)" --h1 -c "$conns" -m 1 "http://127.0.0.1:$plain_port$path"
run "HTTP/1.1 TLS (c=$conns)" --h1 -c "$conns" -m 1 "https://127.0.0.1:$tls_port$path"
run "h2 TLS (c=$h2conns, m=$streams)" -c "$h2conns" -m "$streams" "https://127.0.0.1:$tls_port$path"
run "h2c (c=$h2conns, m=$streams)" -c "$h2conns" -m "$streams" "http://127.0.0.1:$plain_port$path"
run "h2 TLS (c=$conns, m=1)" -c "$conns" -m 1 "https://127.0.0.1:$tls_port$path"
