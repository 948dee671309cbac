"""greenbench's hf-generate beside optimum-benchmark (the Hugging Face benchmark, which measures
energy through CodeCarbon) on the same model config, batch and shapes, on this CPU.

optimum-benchmark is a comparison, not a dependency: give the Python of an environment that has
it and greenbench (``python -m venv ob && ob/bin/pip install torch==2.13.0 optimum-benchmark
-e .``); run the script with that Python too, so that both sides use the same transformers::

    ob/bin/python scripts/optimum_compare.py --optimum-python ob/bin/python --model gpt2-tiny

Both sides generate ``new_tokens`` tokens greedily after a ``prompt_len``-token prompt with
random weights from the same config.json. Printed per side: the time per generated token
(greenbench: a step's wall time over its tokens, the median over repeats; optimum-benchmark:
the p50 over its timed ``generate()`` calls, each from before the call to its return, over the
tokens), the decode latency per token (greenbench's inter-token p50; optimum-benchmark's
``per_token`` p50, the time between successive calls of its logits processor), time to first
token (greenbench's TTFT p50; optimum-benchmark's prefill p50, from the start of
``generate()`` to the first logits-processor call, so with ``generate()``'s own set-up), and
energy per token with how each was obtained. The two sides run alternately, twice each, on the
same random weights.

``--optimum-launcher inline`` runs optimum-benchmark in its own process instead of its
isolated one (whose parent busy-waits for it, holding a core), ``--optimum-threads N`` sets
torch's intra-op threads on its side; both change its time per token on a small machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

OPTIMUM = r"""
import json, sys
from optimum_benchmark import (Benchmark, BenchmarkConfig, InferenceConfig, InlineConfig,
                               ProcessConfig, PyTorchConfig)
model, out = sys.argv[1], sys.argv[5]
batch, prompt, new = (int(x) for x in sys.argv[2:5])
config = BenchmarkConfig(
    name="greenbench-compare",
    launcher=ProcessConfig() if sys.argv[6] == "process" else InlineConfig(),
    # optimum-benchmark 0.6.0 passes inter_op_num_threads to torch.set_num_threads (and
    # intra_op_num_threads to set_num_interop_threads), so the intra-op count goes here
    backend=PyTorchConfig(model=model, device="cpu", no_weights=False, task="text-generation",
                          inter_op_num_threads=int(sys.argv[7]) if sys.argv[7] else None),
    scenario=InferenceConfig(latency=True, energy=True, memory=False,
                             input_shapes={"batch_size": batch, "sequence_length": prompt},
                             generate_kwargs={"max_new_tokens": new, "min_new_tokens": new}),
)
report = Benchmark.launch(config)
json.dump(report.to_dict(), open(out, "w"), default=str)
"""


def greenbench_side(model: str, batch: int, prompt: int, new: int, tmp: Path) -> dict:
    out = tmp / "gb.json"
    subprocess.run([sys.executable, "-m", "greenbench", "-q", "run", "hf-generate", "-p",
                    f"model={model}", "-p", f"batch={batch}", "-p", f"prompt_len={prompt}",
                    "-p", f"new_tokens={new}", "--store", str(tmp / "gb.sqlite"), "-o",
                    str(out)], check=True, stdout=subprocess.DEVNULL)
    case = json.loads(out.read_text())["run"]["cases"][0]
    s = case["summary"]
    tokens = batch * new
    return {"s_per_token": s["time_s"]["median"] / tokens,
            "decode_s_per_token": s.get("metric:inter_token_p50_ms", {}).get("median", 0) / 1e3,
            "ttft_s": s.get("metric:ttft_p50_ms", {}).get("median", 0) / 1e3,
            "j_per_token": s["energy_per_unit_j"]["median"],
            "method": sorted({r["measurement"]["method"] for r in case["repeats"]})}


def optimum_side(python: str, folder: str, batch: int, prompt: int, new: int,
                 tmp: Path, launcher: str = "process", threads: int | None = None) -> dict:
    out = tmp / "ob.json"
    subprocess.run([python, "-c", OPTIMUM, folder, str(batch), str(prompt), str(new),
                    str(out), launcher, str(threads or "")], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, cwd=tmp)
    report = json.loads(out.read_text())
    tokens = batch * new
    generate = report["generate"]
    energy = generate.get("energy") or {}  # per generation, kWh (CodeCarbon's parts)
    kwh = 3.6e6 / tokens
    return {"s_per_token": generate["latency"]["p50"] / tokens,
            "decode_s_per_token": report["per_token"]["latency"]["p50"],
            "ttft_s": report["prefill"]["latency"]["p50"],
            "j_per_token": (energy.get("total") or 0.0) * kwh,
            "cpu_j_per_token": (energy.get("cpu") or 0.0) * kwh,
            "ram_j_per_token": (energy.get("ram") or 0.0) * kwh,
            "method": "CodeCarbon (CPU by machine load and TDP, RAM by its constant)"}


def weights(model: str, tmp: Path) -> str:
    """A folder with the config and random weights (seed 0): optimum-benchmark's no-weights
    mode reaches for the hub, so both sides load these same weights instead."""
    import torch
    import transformers

    from greenbench_workloads._hf import folder

    cfg = transformers.AutoConfig.from_pretrained(str(folder(model)), local_files_only=True)
    torch.manual_seed(0)
    where = tmp / "weights"
    transformers.AutoModelForCausalLM.from_config(cfg).save_pretrained(where)
    return str(where)


def main() -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--optimum-python", required=True)
    parser.add_argument("--model", default="gpt2-tiny")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--prompt-len", type=int, default=256)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--optimum-launcher", choices=("process", "inline"), default="process",
                        help="optimum-benchmark's launcher: its isolated process (its default; "
                             "the parent busy-waits for it) or inline, in its own process")
    parser.add_argument("--optimum-threads", type=int, default=None, metavar="N",
                        help="torch intra-op threads on optimum-benchmark's side (default: "
                             "torch's own, one per core)")
    args = parser.parse_args()
    gb, ob = [], []
    with tempfile.TemporaryDirectory() as tmp:
        where = weights(args.model, Path(tmp))
        for r in range(2):
            order = [0, 1] if r % 2 == 0 else [1, 0]
            for side in order:
                if side == 0:
                    gb.append(greenbench_side(where, args.batch, args.prompt_len,
                                              args.new_tokens, Path(tmp)))
                else:
                    ob.append(optimum_side(args.optimum_python, where, args.batch,
                                           args.prompt_len, args.new_tokens, Path(tmp),
                                           args.optimum_launcher, args.optimum_threads))
    print(f"{args.model}, batch {args.batch}, {args.prompt_len} prompt tokens, "
          f"{args.new_tokens} new tokens, optimum-benchmark's {args.optimum_launcher} launcher, "
          f"{args.optimum_threads or 'default'} torch threads")
    for key in ("s_per_token", "decode_s_per_token", "ttft_s", "j_per_token"):
        g = statistics.median(x[key] for x in gb)
        o_values = [x[key] for x in ob if x[key] is not None]
        o = statistics.median(o_values) if o_values else float("nan")
        print(f"  {key:<20} greenbench {g:.4g}  optimum-benchmark {o:.4g}  ratio {g / o:.3f}"
              if o else f"  {key:<20} greenbench {g:.4g}  optimum-benchmark -")
    for key in ("cpu_j_per_token", "ram_j_per_token"):
        print(f"  {key:<20} optimum-benchmark {statistics.median(x[key] for x in ob):.4g}")
    print(f"  methods: greenbench {gb[0]['method']} (RAM beside the total), "
          f"optimum-benchmark {ob[0]['method']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
