#!/usr/bin/env bash
# Downloads into ./.whl (ignored by git) the wheels that the GPU machine lacks for this project:
# avalanche-lib, hydra-core, wandb and the dependencies of theirs that its image does not hold.
# The GPU image has Python 3.12 with torch, torchvision, numpy, scipy, matplotlib, tensorboard,
# torchmetrics, tqdm, requests, protobuf and more.
# Usage, from the project root:   bash scripts/gpu-wheels.sh   (then: bash scripts/gpu_check.sh on the GPU machine)
# Pinned to what pip resolves for laftr-cl (hydra-core 1.3.8, platformdirs 4.14.9, soupsieve 4.1.4); it also
# handles a git worktree's exclude file.
# Then in each device command (carry: [".whl"]), before anything else:
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
#     --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit
set -euo pipefail
dest=${1:-.whl}
mkdir -p "$dest"
exclude=$(git rev-parse --git-path info/exclude)  # a worktree's .git is a file: ask git where
mkdir -p "$(dirname "$exclude")"
grep -qx '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >> "$exclude"
pkgs=(
  avalanche-lib==0.6.0 dill==0.4.1 gdown==6.5.1 beautifulsoup4==4.15.0 soupsieve==4.1.4 PySocks==1.7.1
  pytorchcv==0.0.74 qpsolvers==4.13.0
  hydra-core==1.3.8 omegaconf==2.3.1 antlr4-python3-runtime==4.9.3
  wandb==0.31.0 cwevals==0.0.1b1 pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0
  typing-inspection==0.4.5 platformdirs==4.14.9 googleapis-common-protos==1.76.0 protobuf==7.36.2
  opentelemetry-api==1.45.2 opentelemetry-sdk==1.45.2 opentelemetry-proto==1.45.2
  opentelemetry-exporter-otlp-proto-http==1.45.2 opentelemetry-exporter-otlp-proto-common==1.45.2
  opentelemetry-exporter-http-transport==0.66b2 opentelemetry-exporter-otlp-common==0.66b2
  opentelemetry-semantic-conventions==0.66b2 GPUtil==1.4.0
)
plat=()
for n in 28 27 17; do plat+=(--platform "manylinux_2_${n}_x86_64"); done
plat+=(--platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any)
for p in "${pkgs[@]}"; do
  # a wheel for the GPU's Python where one exists; else build one here (pure-Python source archives)
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${plat[@]}" -d "$dest" "$p" 2>/dev/null || python3 -m pip wheel -q --no-deps -w "$dest" "$p" 2>/dev/null
done
du -sh "$dest"
