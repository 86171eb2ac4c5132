#!/usr/bin/env bash
# Fills .gpu/ (ignored by git) with everything bench/gpu_check.sh needs on a lent GPU machine,
# which has no Deno and reaches no network (../shared/docs/gpu-check.md): Deno itself (xz),
# a Deno cache holding only the npm packages that the check's programs import, with their own
# lock file, the Vulkan loader's .deb, and CIFAR-10 as one tar.xz of the JPEG folders (all
# 50,000 training and 10,000 test images: about 19 MB, since xz folds the JPEG headers every file
# repeats). Steps whose output is already there and current are skipped. Ends by printing what
# the device call would carry, which must stay under 64 MiB.
#
# Run from anywhere inside the repository: bash bench/gpu_prepare.sh
# Environment: CIFAR (default ../shared/cifar10, an ImageFolder root with train/ and test/),
# DENO (default the deno on PATH).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
CIFAR=${CIFAR:-../shared/cifar10}
DENO=$(readlink -f "${DENO:-$(command -v deno)}")
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
LIMIT_BYTES=$((64 * 1024 * 1024))

mkdir -p .gpu
if ! git check-ignore -q .gpu/deno.xz; then
  echo /.gpu/ >> "$(git rev-parse --git-common-dir)/info/exclude"
fi

# 1. Deno, compressed (the machine's processor is x86-64 too).
version=$("$DENO" --version | head -n 1)
if [ ! -f .gpu/deno.xz ] || [ "$(cat .gpu/deno.version 2>/dev/null)" != "$version" ]; then
  echo "deno: compressing $DENO ($version)"
  nice -n 10 xz -T2 -6 -c "$DENO" > .gpu/deno.xz.tmp
  mv .gpu/deno.xz.tmp .gpu/deno.xz
  echo "$version" > .gpu/deno.version
fi

# 2. The npm packages of the programs the check runs, resolved into a lock file of their own:
# deno.lock also lists TF.js and jax-js (bench/compare*.ts), some 300 MB that the check never
# loads. The versions must be deno.lock's.
ENTRIES=(mod.ts examples/train.ts examples/adapter.ts bench/matmul_bench.ts bench/conv2d_bench.ts
  bench/train_step_bench.ts tests/*_test.ts)
rm -rf .gpu/deno_dir .gpu/deno.lock
DENO_DIR=.gpu/deno_dir nice -n 10 "$DENO" cache --quiet --lock=.gpu/deno.lock "${ENTRIES[@]}"
# The transpile and analysis caches are keyed by absolute paths: useless in the copy there.
rm -rf .gpu/deno_dir/gen .gpu/deno_dir/*_cache_v2*
python3 - <<'EOF'
import json
main = json.load(open("deno.lock"))["specifiers"]
own = json.load(open(".gpu/deno.lock"))["specifiers"]
wrong = {k: (v, main.get(k)) for k, v in own.items() if main.get(k) != v}
if wrong:
    raise SystemExit(f".gpu/deno.lock resolved other versions than deno.lock: {wrong}")
print(f"deno cache: {', '.join(f'{k} {v}' for k, v in sorted(own.items()))}")
EOF

# 3. The Vulkan loader (the machine has the NVIDIA driver's ICD, not always the loader).
if ! ls .gpu/libvulkan1_*.deb > /dev/null 2>&1; then
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial
  # shellcheck disable=SC2086
  apt-get $o update -qq
  # shellcheck disable=SC2086
  (cd .gpu && apt-get $o download -qq libvulkan1)
fi

# 4. CIFAR-10: the JPEG folders as one tar.xz, in a fixed order with fixed metadata.
if [ ! -f .gpu/cifar10.tar.xz ]; then
  for split in train test; do
    [ -d "$CIFAR/$split" ] || { echo "gpu_prepare: no $CIFAR/$split (set CIFAR)" >&2; exit 1; }
  done
  echo "cifar10: packing $CIFAR (train, test)"
  LC_ALL=C nice -n 10 tar -C "$CIFAR" --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime=@0 -cf - train test | nice -n 10 xz -T2 -9 -c > .gpu/cifar10.tar.xz.tmp
  mv .gpu/cifar10.tar.xz.tmp .gpu/cifar10.tar.xz
fi

# 5. What the device call carries: the working tree (tracked and untracked, not ignored) and .gpu.
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null |
  awk '{ s += $1 } END { print s + 0 }')
gpu=$(du -sb .gpu | cut -f 1)
du -sb .gpu/deno.xz .gpu/deno_dir .gpu/cifar10.tar.xz .gpu/*.deb | numfmt --to=iec --field=1
total=$((tree + gpu))
printf 'carried: working tree %s + .gpu %s = %s of %s\n' "$(numfmt --to=iec "$tree")" \
  "$(numfmt --to=iec "$gpu")" "$(numfmt --to=iec "$total")" "$(numfmt --to=iec "$LIMIT_BYTES")"
if [ "$total" -ge "$LIMIT_BYTES" ]; then
  echo "gpu_prepare: over the 64 MiB the device call carries" >&2
  exit 1
fi
echo 'ready: run bash bench/gpu_check.sh on the device with carry [".gpu"]'
