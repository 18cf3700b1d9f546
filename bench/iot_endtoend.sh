#!/usr/bin/env bash
# Raw audio end to end on one node (issue 12 targets), with the real DCASE 2016 task 2 clips:
#   1. a file task (audio:DIR, logmel, budget 60 s) on `mliot up`; `mliot predict --data audio:TEST`
#      sends each test window's raw PCM over gRPC (featurization in the serving worker);
#   2. a streaming task on a local Mosquitto: the training clips streamed (as fast as possible)
#      with background between them, windowed and featurized on ingest, a cnn trained on them;
#      then the test clips streamed at real time to the infer topic: one answer per 0.96 s window
#      on the pred topic, latency and lost windows measured by the device.
# Split as `bench iot`: every fourth clip of a class (in name order) is a test clip.
# Usage: bench/iot_endtoend.sh [DATA_DIR (default ../shared/data)] [BUDGET_S (default 60)]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}/dcase2016-task2
BUDGET=${2:-60}
MLIOT=build/mliot
[[ -d "$DATA" ]] || { echo "iot_endtoend: $DATA not found" >&2; exit 2; }
W=$(mktemp -d /tmp/mliot-e2e-XXXX)
cleanup() { kill "${UP:-}" "${MQ:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
for c in "$DATA"/*/; do
  n=$(basename "$c"); mkdir -p "$W/train/$n" "$W/test/$n"; i=0
  for f in $(ls "$c" | sort); do
    if (( i % 4 == 3 )); then ln -s "$(realpath "$c/$f")" "$W/test/$n/"; else ln -s "$(realpath "$c/$f")" "$W/train/$n/"; fi
    i=$((i + 1))
  done
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
MQTT_PORT=$(free_port); COORD=127.0.0.1:$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\npersistence false\n' "$MQTT_PORT" > "$W/mosquitto.conf"
mosquitto -c "$W/mosquitto.conf" > "$W/mosquitto.log" 2>&1 & MQ=$!
$MLIOT up --listen "$COORD" --data-dir "$W/state" > "$W/up.log" 2>&1 & UP=$!
sleep 2
classes=$(ls "$W/train" | paste -sd, -)
printf 'name: dcase\ndata: audio:%s/train\nfeatures: {name: logmel}\nmodel: {budget_s: %s}\n' "$W" "$BUDGET" > "$W/dcase.yaml"
$MLIOT submit --coordinator "$COORD" "$W/dcase.yaml" --json >&2
$MLIOT wait --coordinator "$COORD" --task dcase --state serving --timeout-s 600 >&2
echo "grpc: $($MLIOT predict --coordinator "$COORD" --task dcase --data "audio:$W/test" --json | tail -1)"

URI=mqtt://127.0.0.1:$MQTT_PORT
printf 'name: live\ndata: %s/mliot/live/data\nfeatures: {name: logmel}\nstream:\n  classes: [background,%s]\n  epoch_samples: 300\n  epochs: 4\n  model: cnn\n' \
  "$URI" "$classes" > "$W/live.yaml"
$MLIOT submit --coordinator "$COORD" "$W/live.yaml" --json >&2
sleep 3
$MLIOT device simulate --data "audio:$W/train" --broker "$URI/mliot/live/data" --task live --rate max --device mic-train --json >&2
for _ in $(seq 1 300); do
  v=$($MLIOT tasks --coordinator "$COORD" --json | python3 -c 'import json,sys; print(max([t.get("version",0) for t in json.load(sys.stdin) if t["name"]=="live"] or [0]))')
  (( v >= 4 )) && break; sleep 1
done
echo "stream: $($MLIOT device simulate --data "audio:$W/test" --broker "$URI/mliot/live/infer" --task live --rate realtime --device mic-1 --json | tail -1)"
