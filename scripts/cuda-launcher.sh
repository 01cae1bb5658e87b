#!/usr/bin/env bash
# The launcher of the CUDA build that scripts/cuda-build.sh packs as dist/cuda/apg-bench:
# finds the CUDA 13 libraries, gives dfdx's run-time kernel compiler its headers, then
# runs dist/cuda/bin/apg-bench with the arguments given.
#
#   dist/cuda/apg-bench run EXPERIMENT.toml --device cuda:0   # any apg-bench command
#   dist/cuda/apg-bench --check     # where each library comes from; exit 1 if one is missing
#
# Libraries are looked for in dist/cuda/lib/ (BUNDLE_LIBS=1 builds), then $CUDA_LIB_DIR
# (folders, colon-separated), then a CUDA 13 toolkit ($CUDA_HOME, $CUDA_PATH,
# /usr/local/cuda*, pip's nvidia/cu13), then the system's loader cache. libcuda.so.1 comes
# from the NVIDIA driver.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
binary=$here/bin/apg-bench
info() { sed -n "s/^$1=//p" "$here/BUILD-INFO" | tr -d '"'; }

path=${CUDA_LIB_DIR:-}
roots=("${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda /usr/local/cuda-13* /opt/cuda)
search=("$here/lib")
for root in "${roots[@]}"; do
  [ -n "$root" ] && search+=("$root/lib64" "$root/lib" "$root/targets/x86_64-linux/lib")
done
search+=(/usr/local/lib/python3*/*-packages/nvidia/cu13/lib /usr/lib/python3/dist-packages/nvidia/cu13/lib)
for lib in libcublas.so.13 libcublasLt.so.13 libnvrtc.so.13; do
  for dir in "${search[@]}"; do
    if [ -e "$dir/$lib" ]; then
      case ":$path:" in *":$dir:"*) ;; *) path=$path${path:+:}$dir ;; esac
      break
    fi
  done
done
export LD_LIBRARY_PATH=$path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# dfdx compiles some kernels (concat, reshape, stack) at run time with NVRTC, which
# looks for headers in the folders the build machine had; recreate them from nvrtc/.
problems=()
provide() { # baked folder, carried folder, a file it must hold
  [ -e "$1/$3" ] && return 0
  if ! { mkdir -p "$(dirname "$1")" && ln -sfn "$2" "$1"; } 2>/dev/null; then
    problems+=("cannot create $1: kernels compiled at run time will fail")
  fi
}
provide "$(info nvrtc_include)" "$here/nvrtc/include" cuda_fp16.h
provide "$(info nvrtc_dfdx)" "$here/nvrtc/dfdx" cuda_utils.cuh

libraries=$(ldd "$binary" 2>&1 || true)
missing=$(grep 'not found' <<<"$libraries" | awk '{ print $1 }' || true)
for lib in $missing; do
  case $lib in
    libcuda.so.1) problems+=("libcuda.so.1 not found: no NVIDIA driver here; the CPU build (cargo build --release) runs anywhere") ;;
    *) problems+=("$lib not found: install a CUDA 13 toolkit, point CUDA_LIB_DIR at its lib64, or build with BUNDLE_LIBS=1") ;;
  esac
done

if [ "${1:-}" = --check ]; then
  echo "$binary: $(info compute_cap), commit $(info commit), built $(info built)"
  echo "needs: $(info needs)"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  sed 's/ (0x[0-9a-f]*)$//; s/^\t*/  /' <<<"$libraries"
  for dir in "$(info nvrtc_include)" "$(info nvrtc_dfdx)"; do
    echo "NVRTC headers: $dir -> $(readlink -f "$dir" 2>/dev/null || echo missing)"
  done
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader 2>&1 | sed 's/^/GPU: /'
  fi
  for problem in "${problems[@]}"; do echo "problem: $problem"; done
  [ ${#problems[@]} = 0 ] && echo "ok" && exit 0
  exit 1
fi
if [ -n "$missing" ]; then
  for problem in "${problems[@]}"; do echo "apg-bench (CUDA build): $problem" >&2; done
  exit 127
fi
exec "$binary" "$@"
