#!/usr/bin/env bash
# Builds the reference llama.cpp binaries (llama-server, llama-bench) from the
# llama.cpp source node-llama-cpp bundles (node_modules/node-llama-cpp/llama/
# gitRelease.bundle), so the bench can compare our engine with upstream on the
# same source revision. Nothing is downloaded.
#
# Output: .cache/llama-ref/<tag>/bin/{llama-server,llama-bench} (gitignored).
# Prints that bin directory on stdout (last line) when done.
#
# Flags: CPU only, GGML_OPENMP=OFF like node-llama-cpp's prebuilt (it uses ggml's
# own thread pool). The prebuilt is GGML_NATIVE=OFF + GGML_CPU_ALL_VARIANTS=ON +
# GGML_BACKEND_DL=ON (14 CPU variants, one picked at run time); compiling 14
# variants takes hours on 2 cores, so this builds ONE variant: GGML_NATIVE=OFF
# with the instruction sets this CPU reports (AVX2/FMA/F16C/BMI2 always, the
# AVX-512 family and AVX-VNNI when /proc/cpuinfo lists them), never AMX:
# -march=native enabled AMX here and llama-server died of SIGILL in a VM that
# lists amx_tile without granting it. The bench records the flags it used.
#
# Usage: scripts/build-llama-ref.sh [--print-dir]
#   --print-dir  only print the bin directory it would use, build nothing.
# Env: LLAMA_REF_JOBS (default: nproc), LLAMA_REF_NICE (default 10).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
llamaDir="$root/node_modules/node-llama-cpp/llama"
bundle="$llamaDir/gitRelease.bundle"
if [[ ! -f "$bundle" ]]; then
  echo "build-llama-ref: $bundle is missing; run npm ci first" >&2
  exit 2
fi
tag="$(node -e 'process.stdout.write(require(process.argv[1]).tag)' "$llamaDir/llama.cpp.info.json")"
base="$root/.cache/llama-ref/$tag"
bin="$base/bin"
if [[ "${1:-}" == "--print-dir" ]]; then echo "$bin"; exit 0; fi
if [[ -x "$bin/llama-server" && -x "$bin/llama-bench" ]]; then echo "$bin"; exit 0; fi

for tool in cmake g++ git; do
  command -v "$tool" >/dev/null || { echo "build-llama-ref: $tool not found (apt-get install cmake g++ git)" >&2; exit 2; }
done
mkdir -p "$base"
if [[ ! -d "$base/src/.git" ]]; then
  rm -rf "$base/src"
  git clone -q "$bundle" "$base/src"
fi
source "$root/scripts/llama-isa.sh"
isa=("${llama_isa_flags[@]}")
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
nice -n "${LLAMA_REF_NICE:-10}" cmake -S "$base/src" -B "$base/build" "${gen[@]}" \
  -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_SHARED_LIBS=OFF \
  "${isa[@]}" -DGGML_OPENMP=OFF -DGGML_BACKEND_DL=OFF -DGGML_CCACHE=OFF \
  -DGGML_METAL=OFF -DGGML_CUDA=OFF -DGGML_VULKAN=OFF \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_BORINGSSL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
  >&2
nice -n "${LLAMA_REF_NICE:-10}" cmake --build "$base/build" --config Release \
  -j "${LLAMA_REF_JOBS:-$(nproc)}" --target llama-server llama-bench >&2
mkdir -p "$bin"
cp "$base/build/bin/llama-server" "$base/build/bin/llama-bench" "$bin/"
git -C "$base/src" rev-parse HEAD > "$base/commit"
printf '%s\n' "${isa[@]}" > "$base/isa"
echo "$bin"
