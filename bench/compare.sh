#!/usr/bin/env bash
# Benchmarks gonicorn against gunicorn-sync, uWSGI, the nginx + gunicorn/uWSGI stacks it
# replaces and the ceilings with the shared harness (../shared/bench, see its README), one
# server at a time, pinned to CPUs, and prints the comparison. Only ratios from one run mean
# anything on a noisy machine.
#
#   bench/compare.sh                      # hello bytes64k echo64k django-json sleep50 (~15 min)
#   SCENARIOS="hello" bench/compare.sh    # a subset; also: static static1m stream django-db ...
#   DURATION=5 bench/compare.sh           # shorter cells
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
harness=${HARNESS:-$root/../shared/bench}
[ -x "$harness/run" ] || { echo "shared harness not found at $harness (set HARNESS=...)"; exit 2; }

out=$(mktemp -d)
export BENCH_RESULTS=$out/results.jsonl
bin=$out/gonicorn
(cd "$root" && CGO_ENABLED=0 go build -o "$bin" ./cmd/gonicorn)
export GONICORN=$bin
since=$(date -u +%Y-%m-%dT%H:%M:%S)
duration=${DURATION:-10}
scenarios=${SCENARIOS:-"hello bytes64k echo64k django-json sleep50"}

run() { "$harness/run" "$@" --duration "$duration" | tail -n 1; }
for sc in $scenarios; do
  case $sc in
    sleep50)
      run gonicorn-threads sleep50
      run uwsgi-threads sleep50
      run gunicorn-gthread sleep50 ;;
    static|static1m)
      # Files: gonicorn --static against WhiteNoise, uWSGI's static-map and nginx itself.
      for srv in gonicorn gunicorn-whitenoise uwsgi nginx-gunicorn go-ceiling; do run "$srv" "$sc"; done ;;
    *)
      for srv in gonicorn gunicorn-sync uwsgi nginx-gunicorn nginx-uwsgi; do run "$srv" "$sc"; done
      case $sc in hello|bytes64k) run go-ceiling "$sc" ;; esac ;;
  esac
done

echo
"$harness/compare" --baseline gunicorn-sync --since "$since"
if [[ " $scenarios " == *" django-json "* ]]; then
  echo
  echo "django-json in-process ceiling (calls/s, one core):"
  (cd "$harness" && taskset -c 0 /usr/bin/python3 ceiling/inproc.py apps/djsite djsite.wsgi:application /json) || true
fi
echo
echo "results: $BENCH_RESULTS"
