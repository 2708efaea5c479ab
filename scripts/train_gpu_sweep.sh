#!/bin/bash
# How the first bundled model (Tang only) was chosen and trained: run on a lent H100 (Keras 3 on JAX, wheels in .whl/).
# Usage there: scripts/train_gpu_sweep.sh smoke | scripts/train_gpu_sweep.sh full EPOCHS SECONDS
# (SECONDS: when to touch STOP for a clean, budgeted stop). Today's bundled model: scripts/measure_release.sh.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 -c "import keras, jax; print('keras', keras.__version__, 'jax', jax.__version__, jax.devices())"
mkdir -p $OUT/runs
if [ "$1" = smoke ]; then
  python3 -m poetry_lm train --corpus corpus --out /tmp/models/smoke --epochs 1 --units 64 --max-poems 2000 --batch-size 128 2>&1 | tail -5
  tail -3 /tmp/models/.runs/smoke/progress.jsonl
  exit
fi
run() { name=$1; shift; python3 -m poetry_lm train --corpus corpus --out /tmp/models/$name "$@" > $OUT/runs/$name.log 2>&1; }
run seed --units 128 --layers 2 --embedding-dim 128 --epochs 2 --batch-size 64 --dropout 0 --learning-rate 1e-3 &
run big2 --units 512 --layers 2 --embedding-dim 256 --dropout 0.3 --epochs $2 --batch-size 128 &
run big3 --units 512 --layers 3 --embedding-dim 256 --dropout 0.3 --epochs $2 --batch-size 128 &
(sleep $3; touch /tmp/models/.runs/big2/STOP /tmp/models/.runs/big3/STOP) &
watchdog=$!
wait %1 %2 %3
kill $watchdog 2>/dev/null
for n in seed big2 big3; do echo "== $n"; tail -2 $OUT/runs/$n.log; grep '"epoch"' /tmp/models/.runs/$n/progress.jsonl | tail -4 | cut -c1-220; done
cat $OUT/runs/*.log > $OUT/train_logs.txt; rm -r $OUT/runs
best=$(python3 -c "
import json
m={n: json.load(open(f'/tmp/models/{n}/metrics.json')) for n in ('big2','big3')}
print(min(m, key=lambda n: m[n]['best_val_loss']))")
echo "best: $best"
cd /tmp/models && tar cf - $best | gzip -1 > /tmp/best.tgz && tar czf $OUT/seed.tgz seed
for n in seed big2 big3; do echo "$n $(cat $n/metrics.json | tr -d '\n ')"; done > $OUT/all_metrics.txt
split -b 15m /tmp/best.tgz $OUT/best.tgz.part-; ls -la $OUT
