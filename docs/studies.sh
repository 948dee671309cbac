#!/usr/bin/env bash
# Reproduce the studies in docs/findings.md and the figures under plots/ and docs/figures/.
# The runs measured for the docs are committed in docs/runs/ (export format), so the figures
# can be drawn again from them anywhere with --figures-only.
# About 12 minutes on a 2-core CPU; run it on an otherwise idle machine. From the repository
# root, with greenbench installed:
#   bash docs/studies.sh                 # measure, then draw
#   bash docs/studies.sh --runs-only     # measure only
#   bash docs/studies.sh --figures-only  # draw again from the runs already stored
#   STUDIES=attention-scaling,efficiency bash docs/studies.sh
#                                        # measure only these; the others come from docs/runs
# torch's thread count follows OMP_NUM_THREADS, e.g. OMP_NUM_THREADS=1 on a shared machine.
set -euo pipefail
STORE=${GREENBENCH_STUDY_STORE:-results/studies.sqlite}
FIG=docs/figures
RUNS=docs/runs
MODE=${1:-}
STUDIES=${STUDIES:-}
mkdir -p "$FIG" plots "$RUNS"

# measured LABEL: whether this invocation measures the study LABEL
measured() {
  [ "$MODE" != "--figures-only" ] && { [ -z "$STUDIES" ] || [[ ",$STUDIES," == *",$1,"* ]]; }
}

for file in "$RUNS"/*.json; do
  if ! measured "$(basename "$file" .json)"; then
    greenbench results import "$file" --store "$STORE" --skip-existing
  fi
done

# run LABEL ARGS...: measure (if selected); REF becomes the newest run labelled LABEL
run() {
  local label=$1
  shift
  if measured "$label"; then
    greenbench run --store "$STORE" --label "$label" "$@"
  fi
  REF=$(greenbench results list --store "$STORE" --json --limit 0 | python3 -c \
    "import json,sys; print(next(r['id'] for r in json.load(sys.stdin) if r['label']=='$label'))")
  if measured "$label"; then
    greenbench results export "$REF" --store "$STORE" -o "$RUNS/$label.json"
  fi
}

# fig DEST NAME ARGS...: plot run REF into DEST/NAME.png (and .pdf beside it)
fig() {
  local dest=$1 name=$2 tmp
  shift 2
  [ "$MODE" = "--runs-only" ] && return 0
  tmp=$(mktemp -d)
  for format in png pdf; do
    greenbench plot "$REF" --store "$STORE" "$@" --out-dir "$tmp" --format "$format"
    mv "$tmp"/*."$format" "$dest/$name.$format"
  done
  rmdir "$tmp"
}

# 1. the quick suite: the README's figures
run quick
fig plots trace --kind trace --case attention
fig plots breakdown --kind breakdown
fig plots bars --kind bars

# 2. attention scaling: time and energy per step against sequence length
run attention-scaling --suite attention-scaling
fig "$FIG" attention-energy --kind scaling --x seq_len --metric energy
fig "$FIG" attention-time --kind scaling --x seq_len --metric time
[ "$MODE" = "--runs-only" ] || cp "$FIG/attention-energy.png" plots/scaling.png

# 3. sparse execution crossover on this CPU
run sparse-crossover sparse-matmul -p density=0.01,0.02,0.05,0.1,0.2,0.3,0.5,1.0 \
    -p execution=dense,sparse
fig "$FIG" sparse-crossover --kind scaling --x density --metric energy

# 4. generation: energy per token against batch size
run generate-batch generate -p batch=1,2,4,8,16
fig "$FIG" generate-batch --kind scaling --x batch --metric energy_per_unit

# 5. few-shot adaptation: energy to adapt against accuracy
run finetune finetune -p method=full,lora,head -p k=32,256
fig "$FIG" finetune-pareto --kind pareto --against quality

# 6. language parity: energy per sentence, byte- and character-level models
# (a 4-layer, 256-wide model, so that compute, not per-call overhead, sets the cost)
run multilingual multilingual -p language=en,es,de,ru,el,ar,he,hi,zh,ja,ko,th \
    -p tokenizer=byte,char -p d_model=256 -p layers=4
fig "$FIG" multilingual --kind bars --x language --metric energy_per_unit

# 7. precision, compile and sparsity of the transformer (inference and training)
run efficiency --suite efficiency
fig "$FIG" efficiency-precision --kind bars --case mode=infer,sparsity=none
