#!/usr/bin/env bash
# One short check of greenbench's GPU path on a machine with an NVIDIA GPU (about 5 minutes):
# what NVML reports, a CUDA workload under the meter, and the total-energy counter against
# integrated polled power over the same windows. Run from the repository root; results and
# the log go to ${OUT:-gpu-check}/.
set -uo pipefail
out=${OUT:-gpu-check}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 GREENBENCH_STORE="$out/gpu.sqlite"
log() { echo; echo "== $*"; }

log "sensors"
greenbench sensors --json > "$out/sensors.json"
python3 - "$out/sensors.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
print(doc["summary"])
for s in doc["sensors"]:
    print(s["domain"], s["source"], s["kind"], "ok" if s["available"] else s["reason"],
          {k: s.get("info", {}).get(k) for k in ("name", "driver_version", "power_limit_w")})
PY

log "measure: a 20 s matmul loop, counter vs polled power"
greenbench measure --idle 3 -o "$out/measure.json" -- python3 -c "
import time, torch
a = torch.randn(8192, 8192, device='cuda', dtype=torch.bfloat16)
t = time.time()
while time.time() - t < 20:
    a @ a
torch.cuda.synchronize()"
python3 - "$out/measure.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
for d in doc["domains"]:
    print(d["name"], d["method"], d["energy_j"], "J, mean", d["mean_power_w"], "W", d["warnings"])
PY

log "run: attention on cuda, fp32/bf16/fp16 and the four mechanisms"
greenbench run attention --device cuda -p mechanism=softmax,sdpa,linformer,performer \
    -p seq_len=4096 -p batch=8 -p precision=fp32,bf16,fp16 --repeats 6 --min-duration 2 \
    -o "$out/run.json"
greenbench run transformer --device cuda -p size=small -p sparsity=none,2:4 \
    -p precision=fp16 -p mode=infer --repeats 6 --min-duration 2

log "counter against integrated polled power, per repeat"
python3 - "$out/gpu.sqlite" <<'PY'
import sys
from greenbench.store import Store
for summary in Store(sys.argv[1]).list_runs():
    run = Store(sys.argv[1]).get_run(summary.id)
    for case in run.cases:
        for r in case.repeats:
            for d in r.measurement["domains"]:
                if d["domain"].startswith("gpu") and d["cross_check_energy_j"]:
                    ratio = d["energy_j"] / d["cross_check_energy_j"]
                    print(case.label[:60], d["domain"], f"counter/polled = {ratio:.4f}",
                          f"{r.measurement['duration_s']:.2f} s")
PY
