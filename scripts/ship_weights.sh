#!/usr/bin/env bash
# Ship trained Ladon rate points: copy <src>/<model>_b*.safetensors into ladon_ros/weights/ and
# rewrite every bundle derived from the shipped checkpoints (the camera's ONNX bundles in
# weights/onnx/, the edge's in weights/edge/). Then rerun the measurements that depend on the
# weights (docs/TRAINING.md, "Shipping new weights").
#   scripts/ship_weights.sh runs/joint/weights [ladon_small]
set -euo pipefail
src=${1:?usage: scripts/ship_weights.sh <folder of trained checkpoints> [model id]}
model=${2:-ladon_small}
here=$(cd "$(dirname "$0")/.." && pwd)
weights="$here/ladon_ros/weights"
shopt -s nullglob
files=("$src"/"$model"_b*.safetensors)
if [ ${#files[@]} -eq 0 ]; then
  echo "no $model rate points (${model}_b*.safetensors) in $src" >&2
  exit 2
fi
for f in "${files[@]}"; do
  cp "$f" "$weights/"
  stem=$(basename "$f" .safetensors)
  rm -rf "$weights/onnx/$stem"
  ladon-ros export --checkpoint "$weights/$stem.safetensors" --out "$weights/onnx/$stem"
done
ladon-ros export --edge --shipped --int8
