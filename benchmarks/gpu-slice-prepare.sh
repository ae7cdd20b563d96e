#!/usr/bin/env bash
# Here, before a device call: copy the slice's data and the missing wheels into .gpu-slice/
# (ignored by git), which the call names in `carry`. The device machine gets the repository
# only, has no pydantic or ase, and cannot download. About 7 MB in all (carry limit: 64 MiB).
# Usage: benchmarks/gpu-slice-prepare.sh [DATA_DIR]   (default ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR=${1:-../shared/data}
PYTHON=${PYTHON:-python3}
CARRY=.gpu-slice
mkdir -p "$CARRY/data" "$CARRY/wheels"
cp "$DATA_DIR/md17-ccsd/malonaldehyde_ccsd_t-train.npz" "$CARRY/data/"
cp "$DATA_DIR/rmd17/rmd17_malonaldehyde_train_01.npz" "$CARRY/data/"

# What `harness train` imports that the device image lacks (KINDS.md lists its packages);
# typing-extensions because pydantic needs a newer one than torch's image may hold.
# Versions: the ones this project's environment runs with.
PACKAGES=(pydantic pydantic-core annotated-types typing-inspection typing-extensions ase)
pins=()
for package in "${PACKAGES[@]}"; do
  pins+=("$package==$("$PYTHON" -c "import importlib.metadata as m; print(m.version('$package'))")")
done
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
  -d "$CARRY/wheels" "${pins[@]}"
du -sh "$CARRY"
