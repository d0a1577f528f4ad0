#!/usr/bin/env bash
# Ship trained Ladon rate points: copy <src>/<model>_b*.safetensors into ladon_ros/weights/ and
# rewrite the bundles derived from them (the camera's ONNX bundle in weights/onnx/<stem>/, the
# edge's with its int8 body in weights/edge/<stem>/); other shipped checkpoints' bundles are left
# as they are. Then rerun the measurements that depend on the weights (docs/TRAINING.md,
# "Shipping new weights").
#   scripts/ship_weights.sh runs/wide/weights [ladon_small_wide]
set -euo pipefail
src=${1:?usage: scripts/ship_weights.sh <folder of trained checkpoints> [model id]}
model=${2:-ladon_small_wide}
here=$(cd "$(dirname "$0")/.." && pwd)
weights="$here/ladon_ros/weights"
shopt -s nullglob
files=("$src"/"$model"_b*.safetensors)
if [ ${#files[@]} -eq 0 ]; then
  echo "no $model rate points (${model}_b*.safetensors) in $src" >&2
  exit 2
fi
for f in "${files[@]}"; do
  # The training configs write straight into ladon_ros/weights (weights_dir): nothing to copy then.
  [ "$(cd "$(dirname "$f")" && pwd)" = "$weights" ] || cp "$f" "$weights/"
  stem=$(basename "$f" .safetensors)
  rm -rf "$weights/onnx/$stem" "$weights/edge/$stem"
  ladon-ros export --checkpoint "$weights/$stem.safetensors" --out "$weights/onnx/$stem"
  ladon-ros export --edge --int8 --checkpoint "$weights/$stem.safetensors" --out "$weights/edge/$stem"
done
