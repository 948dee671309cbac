#!/usr/bin/env bash
# Reproduce the studies in docs/findings.md and the figures under plots/ and docs/figures/.
# About 20 minutes on a 2-core CPU. Run from the repository root with greenbench installed:
#   bash docs/studies.sh
set -euo pipefail
STORE=${GREENBENCH_STUDY_STORE:-results/studies.sqlite}
FIG=docs/figures
mkdir -p "$FIG" plots
run() { greenbench run --store "$STORE" "$@"; }
plot() { greenbench plot latest --store "$STORE" "$@"; }
export -f run plot 2>/dev/null || true

# 1. the quick suite: the README's figures (trace, breakdown)
run --label quick
plot --kind trace --case attention -o plots --format png
plot --kind breakdown -o plots --format png
plot --kind bars -o plots --format png

# 2. attention scaling: time and energy per step against sequence length
run --suite attention-scaling --label attention-scaling
plot --kind scaling --x seq_len --metric energy -o "$FIG" --format png
plot --kind scaling --x seq_len --metric time -o "$FIG" --format png
cp "$FIG"/scaling-*energy*.png plots/ 2>/dev/null || true

# 3. sparse execution crossover on this CPU
run sparse-matmul -p density=0.01,0.02,0.05,0.1,0.2,0.3,0.5,1.0 -p execution=dense,sparse \
    --label sparse-crossover
plot --kind scaling --x density --metric energy -o "$FIG" --format png

# 4. generation: energy per token against batch size
run generate -p batch=1,2,4,8,16 --label generate-batch
plot --kind scaling --x batch --metric energy_per_unit -o "$FIG" --format png

# 5. few-shot adaptation: energy to adapt against accuracy
run finetune -p method=full,lora,head -p k=32,256 --label finetune
plot --kind pareto --against quality -o "$FIG" --format png

# 6. language parity: energy per sentence, byte- and character-level models
run multilingual -p language=en,es,de,ru,el,ar,he,hi,zh,ja,ko,th -p tokenizer=byte,char \
    --label multilingual
plot --kind bars --x language --metric energy_per_unit -o "$FIG" --format png
