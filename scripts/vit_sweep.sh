#!/usr/bin/env bash
# The ViT continual-learning tables (docs/transformers.md, "Continual learning with the ViT"): every method
# × seeds 0–4 on one task-incremental benchmark with model=vit, as one `laftr-cl -m` multirun per method,
# LANES of them side by side.
#   scripts/vit_sweep.sh EXPERIMENT OUT_DIR [METHOD ...]
#   e.g. scripts/vit_sweep.sh split_mnist_5k logs/vit/split_mnist_5k laftr liftr
# Then: laftr-cl-compare OUT_DIR --out docs/transformers/...
set -euo pipefail
experiment=$1 out=$2; shift 2
# Strengths: chosen once per method on Split MNIST-5k's validation split (docs/transformers.md) and used on
# both benchmarks (laftr_diag_latest, LAFTR at about the coreset's bytes, takes LAFTR's; laftr_relu_lowrank and
# laftr_lowrank_fp16, LAFTR at the coreset's bytes, have their own). A variable set in the environment wins.
declare -A method=(
  [none]="regularizer=none"
  [ewc]="regularizer=ewc regularizer.plugin.ewc_lambda=${EWC_LAMBDA:-1000}"
  [si]="regularizer=si regularizer.plugin.si_lambda=${SI_LAMBDA:-100}"
  [lwf]="regularizer=lwf regularizer.plugin.alpha=${LWF_ALPHA:-4}"
  [replay]="regularizer=replay regularizer.plugin.mem_size=200"
  [coreset_fsd]="regularizer=coreset_fsd regularizer.plugin.coreset_size=40 regularizer.plugin.fsd_lambda=${CORESET_LAMBDA:-10}"
  [laftr]="regularizer=laftr regularizer.plugin.fsd_lambda=${LAFTR_LAMBDA:-10}"
  [laftr_diag_latest]="regularizer=laftr regularizer.plugin.fsd_lambda=${LAFTR_LAMBDA:-10} regularizer.plugin.inputs=diag regularizer.plugin.anchor=latest"
  [laftr_relu_lowrank]="regularizer=laftr regularizer.plugin.fsd_lambda=${LAFTR_RELU_LAMBDA:-1} regularizer.plugin.estimator=relu regularizer.plugin.inputs=lowrank regularizer.plugin.rates=none regularizer.plugin.anchor=latest"
  [laftr_lowrank_fp16]="regularizer=laftr regularizer.plugin.fsd_lambda=${LAFTR_FP16_LAMBDA:-10} regularizer.plugin.inputs=lowrank regularizer.plugin.rank=8 regularizer.plugin.storage_dtype=float16 regularizer.plugin.anchor=latest"
  [liftr]="regularizer=liftr regularizer.plugin.covariance=diag regularizer.plugin.fsd_lambda=${LIFTR_LAMBDA:-0.1}"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(laftr laftr_diag_latest laftr_relu_lowrank laftr_lowrank_fp16 liftr coreset_fsd ewc si lwf replay none)
source "$(dirname "$0")/sweep_methods.sh"
sweep_methods "$out" "experiment=$experiment model=vit" "${names[@]}"
