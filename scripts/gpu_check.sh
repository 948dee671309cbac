#!/usr/bin/env bash
# One short check of greenbench's GPU path on a machine with an NVIDIA GPU (about 3-4 minutes
# on an H200), unattended: `bash scripts/gpu_check.sh` from the repository root. Results and
# logs go to ${OUT:-gpu-check}/; a summary is printed at the end.
#
#  1. sensors: what NVML reports (counter or polled power, module scope, MIG);
#  2. measure: a matmul loop under `greenbench measure`, counter beside integrated polled power;
#  3. run on the counter: two attention cases, counter/polled ratio per repeat;
#  4. run on polled power (GREENBENCH_NVML_METHOD=power): the part-time mitigations applied;
#  5. a shared GPU: a second process runs matmuls while a case is measured: the run names it
#     and offers the case's share by utilisation; NVML's process list, per-process samples and
#     accounting as NVML reports them;
#  6. power limits: a two-point sweep with -p power_limit_w=LOW,DEFAULT; the limit in force
#     read back per case and the original limit checked after the run (skipped, with the
#     reason, where greenbench has no limit support or the user may not set limits; set
#     GPU_CHECK_NO_LIMITS=1 to skip it).
set -uo pipefail
out=${OUT:-gpu-check}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 GREENBENCH_STORE="$out/gpu.sqlite"
log() { echo; echo "== $*"; }
short=(--repeats 6 --min-duration 2 --warmup 2)
case_p=(-p seq_len=4096 -p batch=8 -p precision=bf16)

log "1. sensors"
nvidia-smi -L || true
greenbench sensors | tee "$out/sensors.txt"
greenbench sensors --json > "$out/sensors.json"

log "2. measure: a 15 s matmul loop, counter vs polled power"
greenbench measure --idle 3 -o "$out/measure.json" -- python3 -c "
import time, torch
a = torch.randn(8192, 8192, device='cuda', dtype=torch.bfloat16)
t = time.time()
while time.time() - t < 15:
    a @ a
torch.cuda.synchronize()"

log "3. run on the counter: attention softmax and sdpa"
greenbench run attention --device cuda:0 -p mechanism=softmax,sdpa "${case_p[@]}" \
    "${short[@]}" --label counter

log "4. run on polled power (GREENBENCH_NVML_METHOD=power): the part-time mitigations"
GREENBENCH_NVML_METHOD=power greenbench run attention --device cuda:0 -p mechanism=sdpa \
    "${case_p[@]}" --repeats 3 --min-duration 2 --warmup 2 --label polled

log "5. a shared GPU: another process runs matmuls meanwhile"
python3 -c "
import time, torch
a = torch.randn(4096, 4096, device='cuda', dtype=torch.float16)
t = time.time()
while time.time() - t < 60:
    a @ a
    torch.cuda.synchronize()
    time.sleep(0.002)" &
other=$!
sleep 8  # its CUDA context and first kernels
python3 - "$other" > "$out/processes.txt" <<'PY'
import sys, time, pynvml
pynvml.nvmlInit()
h = pynvml.nvmlDeviceGetHandleByIndex(0)
print("compute processes:", [(p.pid, p.usedGpuMemory) for p in
                             pynvml.nvmlDeviceGetComputeRunningProcesses(h)])
try:
    samples = pynvml.nvmlDeviceGetProcessUtilization(h, int((time.time() - 5) * 1e6))
    print("per-process SM use, last 5 s:", sorted({(s.pid, s.smUtil) for s in samples}))
except pynvml.NVMLError as err:
    print("per-process utilisation:", err)
try:
    mode = pynvml.nvmlDeviceGetAccountingMode(h)
    print("accounting mode:", "on" if mode else "off (nvidia-smi -am 1 turns it on, as root)")
    if mode:
        stats = pynvml.nvmlDeviceGetAccountingStats(h, int(sys.argv[1]))
        print("accounting of the other process: gpuUtilization", stats.gpuUtilization, "%")
except pynvml.NVMLError as err:
    print("accounting:", err)
PY
cat "$out/processes.txt"
greenbench run attention --device cuda:0 -p mechanism=sdpa "${case_p[@]}" --repeats 3 \
    --min-duration 2 --warmup 2 --label shared
kill "$other" 2>/dev/null; wait "$other" 2>/dev/null

log "6. power limits: a two-point sweep, set and put back"
skip=""
if [ -n "${GPU_CHECK_NO_LIMITS:-}" ]; then
    skip="GPU_CHECK_NO_LIMITS is set"
elif ! python3 -c "import greenbench.gpu.limits" 2>/dev/null; then
    skip="this greenbench has no power-limit support (greenbench.gpu.limits)"
elif ! limits=$(python3 - 2>&1 <<'PY'
import pynvml
pynvml.nvmlInit()
h = pynvml.nvmlDeviceGetHandleByIndex(0)
low, high = pynvml.nvmlDeviceGetPowerManagementLimitConstraints(h)
default = pynvml.nvmlDeviceGetPowerManagementDefaultLimit(h)
print(max(low, round(0.6 * default / 1000) * 1000) // 1000, default // 1000)
PY
); then
    skip="NVML gives no power-limit range here: ${limits##*$'\n'}"
fi
if [ -n "$skip" ]; then
    echo "skipped: $skip"
else
    read -r low default <<< "$limits"
    python3 -c "
import pynvml; pynvml.nvmlInit()
print(pynvml.nvmlDeviceGetEnforcedPowerLimit(pynvml.nvmlDeviceGetHandleByIndex(0)))" \
        > "$out/limit_before.txt"
    greenbench run attention --device cuda:0 -p "power_limit_w=$low,$default" \
        -p mechanism=sdpa "${case_p[@]}" --repeats 3 --min-duration 2 --warmup 2 \
        --label limits 2>&1 | tee "$out/limits.txt"
    python3 -c "
import pynvml; pynvml.nvmlInit()
print(pynvml.nvmlDeviceGetEnforcedPowerLimit(pynvml.nvmlDeviceGetHandleByIndex(0)))" \
        > "$out/limit_after.txt"
fi

log "summary"
python3 - "$out" <<'PY'
import json, sys
from pathlib import Path
from greenbench.store import Store

out = Path(sys.argv[1])
sensors = json.loads((out / "sensors.json").read_text())
print("sensors:", sensors["summary"])
doc = json.loads((out / "measure.json").read_text())
for d in doc["domains"]:
    if d["name"].startswith("gpu") and d.get("cross_check_energy_j"):
        print(f"measure: {d['name']} counter/polled {d['energy_j'] / d['cross_check_energy_j']:.4f}"
              f" over {doc['duration_s']:.1f} s")

def epu(case):
    s = case.summary.get("energy_per_unit_j")
    t = case.summary.get("time_s")
    return (s.median if s else float("nan")), (t.median if t else float("nan"))

with Store(str(out / "gpu.sqlite")) as store:
    runs = {r.label: store.get_run(r.id) for r in store.list_runs() if r.label}
per_unit = {}
for label, run in runs.items():
    for case in run.cases:
        name = f"{label}: {case.label[:50]}"
        if case.status != "ok":
            print(name, case.status, case.error)
            continue
        per_unit[(label, case.params.get("mechanism"), case.params.get("power_limit_w"))] = \
            epu(case)
        ratios = [d.energy_j / d.cross_check_energy_j
                  for r in case.repeats for d in r.measurement.domains
                  if d.domain == "gpu:0" and d.energy_j and d.cross_check_energy_j]
        if ratios:
            print(f"{name}: counter/polled per repeat {min(ratios):.4f}-{max(ratios):.4f} "
                  f"({len(ratios)} repeats)")
        for flag in case.flags:
            if flag.startswith(("polled power", "gpu:0 shared", "power limit", "gpu:0: the "
                                "energy counter")):
                print(f"{name}: {flag}")
        methods = {d.method for r in case.repeats for d in r.measurement.domains
                   if d.domain == "gpu:0"}
        print(f"{name}: gpu:0 by {', '.join(sorted(methods))}; energy/unit "
              f"{epu(case)[0]:.4g} J, step {epu(case)[1] * 1e3:.2f} ms")
counter = per_unit.get(("counter", "sdpa", None))
polled = per_unit.get(("polled", "sdpa", None))
if counter and polled:
    print(f"sdpa energy/unit, polled power over counter: {polled[0] / counter[0]:.4f}")
if (out / "limits.txt").exists() and "limits" not in runs:
    said = (out / "limits.txt").read_text().strip().splitlines()
    print("power limits: no run stored:", said[-1] if said else "no output")
elif (out / "limit_before.txt").exists():
    before = (out / "limit_before.txt").read_text().strip()
    after = (out / "limit_after.txt").read_text().strip() \
        if (out / "limit_after.txt").exists() else "?"
    print(f"power limit before {int(before) / 1000:g} W, after {int(after) / 1000:g} W:",
          "put back" if before == after else "NOT PUT BACK")
    swept = sorted((k[2], v) for k, v in per_unit.items() if k[0] == "limits")
    for limit, (e, t) in swept:
        print(f"limit {limit} W: energy/unit {e:.4g} J, step {t * 1e3:.2f} ms")
    if len(swept) == 2:
        (_, (e0, t0)), (_, (e1, t1)) = swept
        print(f"low limit vs default: energy x{e0 / e1:.3f}, time x{t0 / t1:.3f}")
PY
