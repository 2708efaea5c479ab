#!/usr/bin/env bash
# Every README figure that depends on the bundled model, re-measured on this machine in one go.
# Usage: scripts/measure_release.sh [MODEL_DIR]   (default models/default; results in docs/results/)
# Takes about 80 minutes on 2 CPU cores; run it with nothing else busy, timings depend on it.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-models/default}
out=docs/results
mkdir -p "$out" /tmp/poetry-measure

# Held-out benchmark: valid, test and the fixed Tang test set, beside the Kneser-Ney n-gram (order chosen on valid).
python -m poetry_lm evaluate --model "$model" --format json > "$out/benchmark.json"

# Fine-tuning the bundled model on one poet for 3 epochs: wall time, and held-out perplexity before/after.
for poet in 李白 杜甫; do
  rm -rf "/tmp/poetry-measure/$poet" "/tmp/poetry-measure/.runs/$poet"
  start=$(date +%s.%N)
  python -m poetry_lm train --init-from "$model" --corpus corpus --poets "$poet" --epochs 3 \
      --out "/tmp/poetry-measure/$poet" > /dev/null
  python - "$poet" "$start" <<'PY' > "$out/finetune_$poet.json"
import json, sys, time
poet, start = sys.argv[1], float(sys.argv[2])
metrics = json.load(open(f"/tmp/poetry-measure/{poet}/metrics.json"))
print(json.dumps({"poet": poet, "wall_s": round(time.time() - start, 1), **metrics}, ensure_ascii=False, indent=2))
PY
done

# Decoder speed, training speed (padded vs length-grouped, float32 vs bfloat16) and bf16's quality cost.
python -m poetry_lm bench --model "$model" --json "$out/bench_cpu.json"

# Rhyme / tones / copying / diversity of 200 generated quatrains per prosody setting.
python -m poetry_lm evaluate --model "$model" --generated 200 --seed 0 > "$out/generated_200.json"

# Realism: 400 real test poems (100 per form) beside the poems each setting writes for their heads.
python -m poetry_lm evaluate --model "$model" --realism 400 --split test \
    --settings default,previous,search_1,temperature_1.0 --json "$out/realism_test_400.json"
python -m poetry_lm evaluate --model "$model" --realism 400 --split test --settings style_稳妥,style_奇崛 --no-neural \
    --json "$out/realism_test_400_styles.json"

# Many sessions at once through one cached generator.
python scripts/load_test.py engine --model "$model" | tail -1 > "$out/load_engine.json"

# 对联: the product's weight chosen on valid couplets, then 200 test 上联 answered beside the real and the
# non-parallel couplets; and the writer's speed against the classic loop.
python -m poetry_lm evaluate --model "$model" --couplet 200 --calibrate --json "$out/couplet_test.json" > /dev/null
python -m poetry_lm bench --model "$model" --couplet --json "$out/couplet_bench.json" > /dev/null

# 词: the held-out 词 and the Tang set by the bundled model (and a 诗+词 model, when given as CI_MODEL) beside the
# Kneser-Ney n-gram.
python -m poetry_lm evaluate --ci ${CI_MODEL:+--model "$CI_MODEL"} --json "$out/ci_benchmark.json" > /dev/null

# 词 by tune: 240 held-out 词 over their tunes, names hidden at the clause starts: format, heads, 词林正韵 rhyme, tones
# soft and strict, beside the real 词; the realism discriminators; 8 candidates of 浣溪沙.
python -m poetry_lm evaluate --model "$model" --ci-writing 240 --json "$out/ci_writing.json" > /dev/null
