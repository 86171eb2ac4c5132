#!/usr/bin/env bash
# Runs on a lent GPU machine (the device tool), from the repository root, in one call of at most
# 10 minutes: the adapter, hajime's and PyTorch's training steps for the article's Resnet and
# Shake-Shake-26 2x32d on the same card (Adam 0.003, random inputs, images/s side by side),
# Shake-Shake-26 2x32d trained on CIFAR-10 with the paper's recipe for the epochs that fit in
# 5 minutes (examples/train.ts --time-limit caps it) and its test accuracy on the 10,000 test
# images, the GPU kernel tests, and the conv2d/matmul kernel bench.
#
# Prepare .gpu/ first, here: bash bench/gpu_prepare.sh. Then call the device's run with
# carry [".gpu"], timeout_s 600, command: bash bench/gpu_check.sh
# Results land in $OUT (at most 8 files come back): summary.txt (adapter, budget, the side by
# side, the accuracy, each part's seconds), steps.txt, torch.txt, train.txt, metrics.json,
# tests.txt, kernels.txt.
#
# GPU_CHECK_QUICK=1 shrinks the work (4-image batches, 20 training and 20 test images, 10 s of
# training, one test file, no autotuning) to check the script itself on a software adapter,
# with budgets for one.
# GPU_CHECK_TMP (default /tmp/gpu-check) is where deno, the images and the run's folder go.
set -uo pipefail
QUICK=${GPU_CHECK_QUICK:-0}
OUT=${OUT:-/tmp/gpu-check-out}
TMP=${GPU_CHECK_TMP:-/tmp/gpu-check}
mkdir -p "$OUT" "$TMP"
SUMMARY=$OUT/summary.txt
: > "$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }

# The budget: each part's timeout in seconds (killed 2 s after it, if need be). Their sum, with
# the kill graces, stays under 570 s, so a 600 s call ends with time to copy $OUT back.
KILL_S=2
if [ "$QUICK" = 1 ]; then
  SETUP_S=30 ADAPTER_S=30 STEPS_S=150 TORCH_S=30 TRAIN_S=10 TRAIN_SLACK_S=110 TESTS_S=60
  KERNELS_S=20
  BATCHES=4 TRAIN_BATCH=4 LOG_EVERY=2 MEMBERS=('train/*/000[01].jpg' 'test/*/000[01].jpg')
  TESTS=(tests/adapter_test.ts)
  # Timing kernel variants takes minutes on a software adapter.
  export HAJIME_AUTOTUNE=0
else
  SETUP_S=30 ADAPTER_S=15 STEPS_S=55 TORCH_S=40 TRAIN_S=300 TRAIN_SLACK_S=40 TESTS_S=40
  KERNELS_S=25
  BATCHES=32,128 TRAIN_BATCH=128 LOG_EVERY=100 MEMBERS=(train test)
  # The kernel tests `deno task test:swiftshader` runs on a second adapter, and the trainer's;
  # not memory_test.ts: the deno it starts reads deno.lock, whose TF.js and jax-js stay here.
  TESTS=(tests/adapter_test.ts tests/autotune_test.ts tests/batch_norm_test.ts
    tests/conv2d_test.ts tests/elementwise_test.ts tests/image_test.ts tests/loss_test.ts
    tests/matmul_test.ts tests/optim_test.ts tests/pool_test.ts tests/shake_shake_test.ts
    tests/tensor_test.ts tests/trainer_test.ts)
fi
PARTS=7
BUDGET_S=$((SETUP_S + ADAPTER_S + STEPS_S + TORCH_S + TRAIN_S + TRAIN_SLACK_S + TESTS_S +
  KERNELS_S + PARTS * KILL_S))
say "budget: setup $SETUP_S, adapter $ADAPTER_S, steps $STEPS_S, torch $TORCH_S, train" \
  "$TRAIN_S + $TRAIN_SLACK_S, tests $TESTS_S, kernels $KERNELS_S, kill graces $((PARTS * KILL_S))" \
  "= $BUDGET_S s"
if [ "$QUICK" != 1 ] && [ "$BUDGET_S" -ge 570 ]; then
  say "gpu_check: the budget is over 570 s" && exit 1
fi

# part SECONDS NAME FILE COMMAND...: runs COMMAND under its timeout, its output shown and added
# to FILE, and notes its seconds and exit status.
part() {
  local seconds=$1 name=$2 file=$3 start=$SECONDS status
  shift 3
  timeout -k "$KILL_S" "$seconds" "$@" 2>&1 | tee -a "$file"
  status=${PIPESTATUS[0]}
  if [ "$status" = 124 ] || [ "$status" = 137 ]; then status="$status (timed out)"; fi
  TIMES+=("$name: $((SECONDS - start)) s of $seconds, exit $status")
}
TIMES=()
rm -f "$OUT"/{steps,torch,train,tests,kernels}.txt "$OUT/metrics.json"

# The Vulkan loader, unless the machine has one (unpacking into / replaces system files); Deno;
# a copy of the Deno cache (what Deno writes there stays out of .gpu/); the images.
part "$SETUP_S" setup "$SUMMARY" bash -euc '
  tmp=$1
  shift
  if ! ldconfig -p | grep -q "libvulkan\.so\.1 "; then
    for f in .gpu/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  xz -dc .gpu/deno.xz > "$tmp/deno"
  chmod +x "$tmp/deno"
  rm -rf "$tmp/deno_dir" "$tmp/cifar10"
  cp -r .gpu/deno_dir "$tmp/deno_dir"
  mkdir -p "$tmp/cifar10"
  xz -dc .gpu/cifar10.tar.xz | tar -x -C "$tmp/cifar10" --wildcards "$@"
' _ "$TMP" "${MEMBERS[@]}"
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
export DENO_DIR=$TMP/deno_dir XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp} NO_COLOR=1
export HAJIME_CACHE_DIR=${HAJIME_CACHE_DIR:-$TMP/cache} PYTHONUNBUFFERED=1
# Everything from the carried cache, by the carried lock: nothing can be fetched there.
DENO=$TMP/deno
FLAGS=(-A --cached-only --frozen --lock=.gpu/deno.lock)

part "$ADAPTER_S" adapter "$SUMMARY" "$DENO" run "${FLAGS[@]}" examples/adapter.ts

MODELS=resnet,shake-shake-26-2x32d
part "$STEPS_S" steps "$OUT/steps.txt" env HAJIME_BENCH_MODELS=$MODELS \
  HAJIME_BENCH_BATCHES=$BATCHES "$DENO" run "${FLAGS[@]}" bench/train_step_bench.ts
part "$TORCH_S" torch "$OUT/torch.txt" python3 bench/torch_reference.py --models "$MODELS" \
  --batches "$BATCHES"

# The epochs that fit in TRAIN_S: an epoch is the training images at the measured step rate plus
# the test images' forward passes (a third of a step each); 85 % of it, for the first steps'
# pipeline builds and the epoch ends. Without a rate, 10 epochs, and the time limit decides.
count() { find "$TMP/cifar10/$1" -name '*.jpg' | wc -l; }
TRAIN_IMAGES=$(count train) TEST_IMAGES=$(count test)
# Both benches print "... NAME batch B: ... (MS ms/step, ...)": images/s from the median MS.
RATE_AWK='function rate(batch,   i) { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^ms\/step/)
  return sprintf("%.1f", 1000 * batch / substr($i, 2)) }'
RATE=$(awk -v b="$TRAIN_BATCH" "$RATE_AWK"'
  $1 == "train" && $3 == "shake-shake-26-2x32d" && $5 == b":" { print rate(b) }' "$OUT/steps.txt")
EPOCHS=$(awk -v r="$RATE" -v s="$TRAIN_S" -v n="$TRAIN_IMAGES" -v t="$TEST_IMAGES" 'BEGIN {
  if (r + 0 <= 0) { print 10; exit }
  e = int(0.85 * s / ((n + t / 3) / r)); print e < 1 ? 1 : e }')
say "train: $TRAIN_IMAGES training and $TEST_IMAGES test images; hajime's step" \
  "${RATE:-(not measured)} images/s at batch $TRAIN_BATCH; epochs planned: $EPOCHS;" \
  "time limit: $TRAIN_S s"
rm -rf "$TMP/run"
part "$((TRAIN_S + TRAIN_SLACK_S))" train "$OUT/train.txt" "$DENO" run "${FLAGS[@]}" \
  examples/train.ts --recipe shake-shake --data "$TMP/cifar10" --epochs "$EPOCHS" \
  --batch-size "$TRAIN_BATCH" --time-limit "$TRAIN_S" --log-every "$LOG_EVERY" --out "$TMP/run"
cp "$TMP/run/metrics.json" "$OUT/metrics.json" 2> /dev/null

part "$TESTS_S" tests "$OUT/tests.txt" env HAJIME_AUTOTUNE=0 "$DENO" test "${FLAGS[@]}" \
  --parallel "${TESTS[@]}"
part "$KERNELS_S" kernels "$OUT/kernels.txt" "$DENO" run "${FLAGS[@]}" bench/conv2d_bench.ts

# The side by side: hajime's median step and PyTorch's for each model and batch, as images/s.
{
  echo
  echo "| model | batch | hajime images/s | PyTorch images/s | hajime / PyTorch |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  awk "$RATE_AWK"'
    FILENAME == ARGV[1] && $1 == "train" && $4 == "batch" {
      b = $5 + 0; k = $3 " " b; hajime[k] = rate(b); keys[++n] = k
    }
    FILENAME == ARGV[2] && $1 == "torch" && $3 == "batch" { b = $4 + 0; torch[$2 " " b] = rate(b) }
    END {
      for (i = 1; i <= n; i++) {
        k = keys[i]; split(k, p, " "); t = k in torch ? torch[k] : "-"
        ratio = t + 0 > 0 ? sprintf("%.3f", hajime[k] / t) : "-"
        printf "| %s | %s | %s | %s | %s |\n", p[1], p[2], hajime[k], t, ratio
      }
    }' "$OUT/steps.txt" "$OUT/torch.txt"
  echo
  grep -h -E '^(adapter|torch .*device)' "$OUT/steps.txt" "$OUT/torch.txt" | sort -u
  grep -E '^(time limit|Accuracy on|epoch [0-9]+:)' "$OUT/train.txt" | tail -n 4
  echo
  echo "seconds per part:"
  printf '  %s\n' "${TIMES[@]}"
} | tee -a "$SUMMARY"
