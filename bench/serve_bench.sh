#!/usr/bin/env bash
# Load test of `mnistnn serve` against nginx serving a static 2 KB file (the ceiling of HTTP on
# this machine), in the same run: wrk with 16 keep-alive connections, rounds interleaved
# (nginx, JSON prediction, PNG prediction, repeated), medians reported.
#   bench/serve_bench.sh [--rounds R] [--duration S] [--threads N] [--model FILE]
# Needs: build/mnistnn, wrk, nginx (scripts/bootstrap.sh installs both), python3, data/test.csv.
# Without --model it trains one (the README's 98 % recipe, 2 epochs). Loopback only.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rounds=3 duration=10 threads=2 model=""
while (($#)); do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    *) echo "usage: $0 [--rounds R] [--duration S] [--threads N] [--model FILE]" >&2; exit 2 ;;
  esac
done
bin=$root/build/mnistnn
for tool in wrk nginx python3 curl; do
  command -v "$tool" >/dev/null || { echo "serve_bench: $tool is missing (scripts/bootstrap.sh)" >&2; exit 1; }
done
[[ -x $bin ]] || { echo "serve_bench: build/mnistnn is missing" >&2; exit 1; }
[[ -f data/test.csv ]] || { echo "serve_bench: data/test.csv is missing (scripts/fetch-mnist.sh)" >&2; exit 1; }

tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

if [[ -z $model ]]; then
  model=$tmp/model.safetensors
  "$bin" train --data data/train.csv --model "$model" --hidden 256 --init he --batch-size 128 --optimizer adam \
    --alpha 0.002 --epochs 2 --log-every 1000 -q >/dev/null
fi

# Request bodies: test row 0 as JSON, and as a 300x300 PNG (dark ink on white, scaled 9x).
python3 - "$tmp" <<'PY'
import json, struct, sys, zlib
tmp = sys.argv[1]
with open("data/test.csv") as f:
    f.readline()
    row = [int(v) for v in f.readline().split(",")[1:]]
json.dump({"pixels": row}, open(f"{tmp}/digit.json", "w"))
W = H = 300
img = bytearray([255]) * (W * H)
for y in range(28 * 9):
    for x in range(28 * 9):
        img[(y + 24) * W + x + 24] = 255 - row[(y // 9) * 28 + x // 9]
raw = b"".join(b"\0" + bytes(img[y * W:(y + 1) * W]) for y in range(H))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 0, 0, 0, 0)) + \
      chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
open(f"{tmp}/digit.png", "wb").write(png)
open(f"{tmp}/static.html", "w").write("<!doctype html><title>static</title>" + "x" * (2048 - 35))
PY
for kind in json png; do
  type=application/json; [[ $kind == png ]] && type=image/png
  cat >"$tmp/$kind.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "$type"
local f = io.open("$tmp/digit.$kind", "rb")
wrk.body = f:read("*a")
f:close()
LUA
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# nginx as our own process: temp config, 127.0.0.1 only, no access log, as many workers as threads.
nginx_port=$(free_port)
user_line=""; [[ $(id -u) -eq 0 ]] && user_line="user root;"
cat >"$tmp/nginx.conf" <<CONF
$user_line
worker_processes $threads;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx-body;
  proxy_temp_path $tmp/nginx-proxy;
  fastcgi_temp_path $tmp/nginx-fastcgi;
  uwsgi_temp_path $tmp/nginx-uwsgi;
  scgi_temp_path $tmp/nginx-scgi;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$nginx_port; root $tmp; }
}
CONF
nginx -c "$tmp/nginx.conf" -p "$tmp" -g "daemon off;" 2>"$tmp/nginx-start.log" &
pids+=($!)

"$bin" serve --model "$model" --host 127.0.0.1 --port 0 --threads "$threads" -q >"$tmp/serve.out" &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$tmp/serve.out" 2>/dev/null && break; sleep 0.1; done
serve_url=$(grep -o 'http://127.0.0.1:[0-9]*/' "$tmp/serve.out")
nginx_url=http://127.0.0.1:$nginx_port/static.html
for _ in $(seq 50); do curl -sf -o /dev/null "$nginx_url" && break; sleep 0.1; done

# Each endpoint answers 200 before it is measured.
curl -sf -o /dev/null "$nginx_url" || { echo "serve_bench: nginx does not answer" >&2; cat "$tmp"/nginx*.log >&2; exit 1; }
curl -sf -o /dev/null -H 'Content-Type: application/json' --data-binary @"$tmp/digit.json" "${serve_url}v1/predict"
curl -sf -o /dev/null -H 'Content-Type: image/png' --data-binary @"$tmp/digit.png" "${serve_url}v1/predict"

# One wrk run: prints "requests/s p50_ms p99_ms".
measure() {
  local out
  out=$(wrk -t2 -c16 -d"${duration}s" --latency "$@")
  if grep -q "Non-2xx" <<<"$out"; then echo "serve_bench: non-2xx answers: $out" >&2; exit 1; fi
  awk '/Requests\/sec/ {r=$2}
       function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
       $1=="50%" {p50=ms($2)} $1=="99%" {p99=ms($2)}
       END {printf "%.0f %.3f %.3f\n", r, p50, p99}' <<<"$out"
}

declare -A results
echo "serve_bench: $rounds rounds of ${duration}s, wrk -t2 -c16, $threads server threads; load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for r in $(seq "$rounds"); do
  results[nginx]+="$(measure "$nginx_url")"$'\n'
  results[json]+="$(measure -s "$tmp/json.lua" "${serve_url}v1/predict")"$'\n'
  results[png]+="$(measure -s "$tmp/png.lua" "${serve_url}v1/predict")"$'\n'
  echo "serve_bench: round $r done" >&2
done

median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
column_of() { awk -v c="$2" 'NF {print $c}' <<<"${results[$1]}"; }
nginx_rps=$(column_of nginx 1 | median)
echo
echo "| server | request | runs | requests/s (median) | % of nginx | p50 ms | p99 ms | requests/s per run |"
echo "|---|---|---:|---:|---:|---:|---:|---|"
for k in nginx json png; do
  case $k in
    nginx) what="GET static 2 KB file (nginx)" ;;
    json) what="POST /v1/predict JSON pixels" ;;
    png) what="POST /v1/predict 300x300 PNG" ;;
  esac
  rps=$(column_of $k 1 | median)
  printf "| %s | %s | %d | %.0f | %.1f%% | %.3f | %.3f | %s |\n" "$([[ $k == nginx ]] && echo nginx || echo mnistnn)" \
    "$what" "$rounds" "$rps" "$(awk -v a="$rps" -v b="$nginx_rps" 'BEGIN {print 100*a/b}')" \
    "$(column_of $k 2 | median)" "$(column_of $k 3 | median)" "$(column_of $k 1 | paste -sd' ')"
done
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; nginx $(nginx -v 2>&1 | sed 's/.*\///'), wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}')"
