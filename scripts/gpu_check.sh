#!/usr/bin/env bash
# The GPU check of laftr-cl: one command on a fresh GPU machine, under 8 minutes, that cannot hang.
#
#   bash scripts/gpu-wheels.sh                  # on a machine with PyPI: the missing wheels into .whl/
#   bash scripts/gpu_check.sh [OUT_DIR]         # on the GPU machine (carry .whl/): writes OUT_DIR/gpu_check.md
#   bash scripts/gpu_check.sh OUT_DIR --small --device cpu   # dry run of every step, tiny sizes, on a CPU
#
# Steps, each under its own `timeout` (a step that fails or times out is recorded and the next one runs):
#   1. install the wheels of .whl/ (avalanche-lib, hydra-core, wandb, ...) into a folder on PYTHONPATH,
#      unless they import already;
#   2. pytest -m cuda (the CUDA-only tests);
#   3. scripts/bench_regularizer.py, eager and compiled (CUDA graph) rows, at T = 9 earlier tasks;
#   4. scripts/bench_pipeline.py: plain PyTorch loop vs laftr-cl's pipeline (eager and CUDA graph);
#   5. the paper's Permuted MNIST with LAFTR (experiment=paper_permuted_mnist: 10 tasks x 15 epochs, S = 40)
#      end to end on synthetic images of MNIST's shape and count (60,000 a task), train.compile=cudagraph.
# The report is one Markdown file (a summary table, then each step's own table); without OUT_DIR it is
# printed. Exit status: 0 when every step passed.
set -uo pipefail

out="" device=cuda small=0
while [ $# -gt 0 ]; do
  case "$1" in
    --small) small=1 ;;
    --device) device=$2; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) out=$1 ;;
  esac
  shift
done
cd "$(dirname "$0")/.." || exit 2
py=${PYTHON:-python3}
work=$(mktemp -d /tmp/gpu_check.XXXXXX)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4} WANDB_MODE=offline WANDB_SILENT=true HYDRA_FULL_ERROR=1
rows=() details=() failed=0

step() {  # step NAME LIMIT_S COMMAND...: runs COMMAND under timeout, logs to $work/NAME.log, records a row
  local name=$1 limit=$2; shift 2
  local start=$SECONDS rc status
  timeout -k 3 "$limit" "$@" > "$work/$name.log" 2>&1  # timeout signals the whole process group: children too
  rc=$?
  case $rc in
    0) status=ok ;;
    124|137) status="TIMEOUT (${limit} s)"; failed=1 ;;
    *) status="FAILED (exit $rc)"; failed=1 ;;
  esac
  rows+=("| $name | $status | $((SECONDS - start)) | $(summary "$name") |")
  details+=("### $name" "" '```' "$*" '```' "" "$(tables "$name")" "")
}
summary() {  # one line of a step's log for the summary table
  case $1 in
    pytest) grep -E '[0-9]+ (passed|failed|skipped|error)' "$work/pytest.log" | tail -1 | tr -d '=' | xargs ;;
    paper) "$py" -c "import json,sys; r=json.load(open(sys.argv[1])); f=r['final']
print(f\"avg acc {f['average_accuracy']:.4f}, wall {r['wall_time_s']:.1f} s (in-run), {r['device']}\")" \
         "$work/paper/results.json" 2>/dev/null || echo "no results.json" ;;
    install) tail -1 "$work/install.log" ;;
    *) grep -m1 '^device' "$work/$1.log" ;;
  esac
}
tables() {  # a step's Markdown table lines, or the tail of its log when it has none
  if grep -q '^|' "$work/$1.log"; then grep '^|' "$work/$1.log"; else echo '```'; tail -15 "$work/$1.log"; echo '```'; fi
}

# 1. wheels (the GPU image has torch, torchvision, numpy, scipy, pytest; not avalanche, hydra, wandb)
found() {  # the project's imports are findable (without importing them: avalanche takes seconds)
  "$py" -c "import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in ('avalanche', 'hydra', 'omegaconf', 'wandb')))"
}
install_wheels() {  # run by `timeout bash -c`: a function of this shell must be exported to it
  if found; then echo "already installed"; return 0; fi
  compgen -G ".whl/*.whl" > /dev/null || { echo "no .whl/*.whl: run bash scripts/gpu-wheels.sh where PyPI is reachable and carry .whl/"; return 1; }
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$work/site" .whl/*.whl &&
    PYTHONPATH="$work/site" found && echo "installed $(ls .whl/*.whl | wc -l) wheels into $work/site"
}
export -f found install_wheels
export py work
step install 45 bash -c install_wheels
export PYTHONPATH="$work/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$py" -c "import torch; print('torch', torch.__version__, '|', torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA')" \
  > "$work/env.log" 2>&1

if [ $small = 1 ]; then
  reg=(--tasks 2 --steps 3 --rounds 1 --compile none compile)
  pipe=(--synthetic 20 --epochs 1 --compile none compile)
  paper=(benchmark.num_experiences=2 train.epochs=1 "data.synthetic={train_per_class: 20, test_per_class: 5}" train.compile=compile)
  limits=(300 300 200 300)
else
  # compiled rows are CUDA-graph ones here: Inductor's compile of each method (pytest covers it) would not fit
  reg=(--tasks 9 --steps 100 --rounds 3 --compile none cudagraph)
  pipe=(--synthetic 6000 --epochs 1 --compile none cudagraph)
  paper=("data.synthetic={train_per_class: 6000, test_per_class: 1000}" train.compile=cudagraph)
  limits=(145 90 40 130)  # with install's 45 s and 3 s grace per step: at most 465 s
fi

# 2.-5.
step pytest "${limits[0]}" "$py" -m pytest -m cuda -q -p no:cacheprovider -rs tests
step bench_regularizer "${limits[1]}" "$py" scripts/bench_regularizer.py --device "$device" "${reg[@]}"
step bench_pipeline "${limits[2]}" "$py" scripts/bench_pipeline.py --device "$device" "${pipe[@]}"
step paper "${limits[3]}" "$py" -m laftr_cl.cli experiment=paper_permuted_mnist device="$device" "${paper[@]}" \
  logger=csv checkpoint.enabled=false "hydra.run.dir=$work/paper"

report() {
  echo "## laftr-cl GPU check, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  local mode=""; [ $small = 1 ] && mode=" --small"
  echo "$(cat "$work/env.log"); \`bash scripts/gpu_check.sh OUT_DIR$mode --device $device\`"
  echo
  echo "| step | status | seconds | result |"
  echo "| --- | --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
  echo
  printf '%s\n' "${details[@]}"
}
if [ -n "$out" ]; then
  mkdir -p "$out" && report > "$out/gpu_check.md" && cp "$work"/*.log "$out/" && echo "wrote $out/gpu_check.md"
else
  report
fi
exit $failed
