#!/usr/bin/env bash
# Runs on a lent GPU machine (the device tool), from the repository root: the test suite, the
# kernel and training-step benchmarks, and the Resnet training step against PyTorch on the same
# card. Prepare the carried folder .gpu/ first, on the development machine, as
# ../shared/docs/gpu-check.md describes (deno.xz, deno_dir with the npm packages, the Vulkan
# loader .deb files); then call the device's run with carry [".gpu"] and
#   bash bench/gpu_check.sh
# Results land in $OUT (tests.txt, bench.txt, compare.txt, torch.txt).
set -uo pipefail
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
for f in .gpu/*.deb; do dpkg -x "$f" /; done
ldconfig
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
xz -dc .gpu/deno.xz > /tmp/deno && chmod +x /tmp/deno
export DENO_DIR=.gpu/deno_dir XDG_RUNTIME_DIR=/tmp NO_COLOR=1 HAJIME_CACHE_DIR=/tmp/hajime-cache
/tmp/deno run -A examples/adapter.ts | tee "$OUT/adapter.txt"
HAJIME_AUTOTUNE=0 timeout 240 /tmp/deno test -A --parallel tests/ 2>&1 | tail -n 60 > "$OUT/tests.txt"
timeout 150 /tmp/deno bench -A bench/matmul_bench.ts bench/conv2d_bench.ts 2>&1 | tee "$OUT/bench.txt"
HAJIME_BENCH_MODELS=resnet,basic-cnn timeout 120 /tmp/deno bench -A bench/train_step_bench.ts \
  2>&1 | tee -a "$OUT/bench.txt"
timeout 120 python3 bench/torch_reference.py 2>&1 | tee "$OUT/torch.txt"
