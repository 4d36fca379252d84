#!/usr/bin/env bash
# Runs the suite on the host kernel and on Debian's 6.1, 6.12, 7.2 and 7.3-rc (fixtures/kernels.yaml,
# set "default") and writes the merged feature matrix: OUT/<label>.jsonl, OUT/kernels.json,
# OUT/matrix.{md,json,html}. Installs what is missing first (Node deps and build via run.sh; QEMU,
# busybox-static, kmod on first boot via ci/kernels/install-qemu.sh; kernels into the cache).
# Usage: ci/kernels/candidates.sh [OUT] [kernels run options...]   (default OUT: results/kernels)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."
out=${1:-results/kernels}
shift || true
exec ./run.sh kernels run -o "$out" "$@"
