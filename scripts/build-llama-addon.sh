#!/usr/bin/env bash
# Builds node-llama-cpp's native addon from the sources it ships (llama/addon and the
# llama.cpp release in llama/gitRelease.bundle, with node-llama-cpp's own patches),
# plus our patch scripts/patches/node-llama-cpp-threadpool.patch, and installs it as
# node-llama-cpp's "local build" (node_modules/node-llama-cpp/llama/localBuilds/
# <platform>-<arch>), the place `node-llama-cpp source build` writes to and
# getLlama({build: "never"}) loads from before the prebuilt. Nothing is downloaded.
#
# Why (issue 19): the prebuilt addon never attaches a ggml thread pool, so llama.cpp
# makes a throwaway one for every decode; on this 2-core machine generation at 2
# threads ran at 33 tokens/s against llama-bench's 50 on the same source. With the
# persistent pool (no polling between graphs) it ran at 49-50, and 1 thread beside a
# busy-looping process kept 30 (see scripts/patches/README.md).
#
# Usage: scripts/build-llama-addon.sh [--print-dir|--remove]
#        scripts/build-llama-addon.sh --arch x64|arm64 --isa "FLAGS" --out DIR
#   --print-dir  print the install directory and exit.
#   --remove     remove the installed local build (node-llama-cpp falls back to its prebuilt).
#   --board ID   compile for that board profile's CPU (its llamaCpu.isa) instead of this machine's, still installed
#                here: CI builds with --board x86_64, so the x86_64 image's llama-addon step finds this very build
#                tree in .cache/llama-addon instead of compiling llama.cpp a second time (8 min on 2 cores).
#   --arch, --isa, --out  the image builder's form (image/steps/llamaAddon.ts): a build for a board's CPU,
#                written to DIR instead of node_modules; --isa holds the ggml cmake flags (its board profile's
#                llama.isa), arm64 from an x64 host is cross-compiled with Debian's aarch64-linux-gnu-g++.
# Env: LLAMA_ADDON_JOBS (default: nproc), LLAMA_ADDON_NICE (default 10).
# Takes about 4 minutes on 2 cores; the build tree is kept in .cache/llama-addon, one per architecture,
# instruction sets and patches, and builds of one tree wait for each other (flock).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
nlc="$root/node_modules/node-llama-cpp"
llamaDir="$nlc/llama"
bundle="$llamaDir/gitRelease.bundle"
if [[ ! -f "$bundle" ]]; then
  echo "build-llama-addon: $bundle is missing; run npm ci first" >&2
  exit 2
fi
case "$(uname -m)" in
  x86_64) hostArch=x64 ;;
  aarch64) hostArch=arm64 ;;
  *) echo "build-llama-addon: unsupported machine $(uname -m)" >&2; exit 2 ;;
esac
arch="$hostArch"
isa=""
board=""
install=""
mode=build
while [[ $# -gt 0 ]]; do
  case "$1" in
    --print-dir) mode=print ;;
    --remove) mode=remove ;;
    --arch) arch="${2:?--arch needs x64 or arm64}"; shift ;;
    --isa) isa="${2:?--isa needs the ggml cmake flags}"; shift ;;
    --board) board="${2:?--board needs a board id (sovereign image boards)}"; shift ;;
    --out) install="${2:?--out needs a directory}"; shift ;;
    *) echo "build-llama-addon: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [[ -n "$board" ]]; then
  isa="$(cd "$root" && node --import tsx -e '
    const { findBoard } = await import("./image/boards/registry.ts");
    const b = findBoard(process.argv[1]);
    if (!b) { console.error(`build-llama-addon: no board ${process.argv[1]}`); process.exit(2); }
    console.log(b.arch === "arm64" ? "arm64" : "x64", ...b.llamaCpu.isa);' "$board")"
  read -r boardArch isa <<< "$isa"
  [[ "$boardArch" == "$arch" ]] || { echo "build-llama-addon: board $board is $boardArch, this build is for $arch (use the image builder for another architecture)" >&2; exit 2; }
fi
[[ "$arch" == x64 || "$arch" == arm64 ]] || { echo "build-llama-addon: --arch is x64 or arm64, not $arch" >&2; exit 2; }
install="${install:-$llamaDir/localBuilds/linux-$arch}"
if [[ "$mode" == print ]]; then echo "$install"; exit 0; fi
if [[ "$mode" == remove ]]; then rm -rf "$install"; echo "removed $install"; exit 0; fi

cross=()
tools=(cmake g++ git patch flock)
if [[ "$arch" != "$hostArch" ]]; then
  [[ "$hostArch-$arch" == x64-arm64 ]] || { echo "build-llama-addon: no cross toolchain from $hostArch to $arch" >&2; exit 2; }
  # node-llama-cpp's own toolchain file: Debian's aarch64-linux-gnu-gcc and -g++.
  cross=(-DCMAKE_TOOLCHAIN_FILE=toolchains/linux.host-x64.target-arm64.cmake)  # made absolute below, under $src
  tools+=(aarch64-linux-gnu-g++)
fi
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || { echo "build-llama-addon: $tool not found (apt-get install cmake g++ git patch util-linux g++-aarch64-linux-gnu)" >&2; exit 2; }
done
nodeInclude="$(node -p 'require("path").join(process.execPath, "../../include/node")')"
[[ -f "$nodeInclude/node_api.h" ]] || nodeInclude=/usr/include/node
[[ -f "$nodeInclude/node_api.h" ]] || { echo "build-llama-addon: Node's headers (node_api.h) not found; on Debian they come with the nodejs package" >&2; exit 2; }

tag="$(node -p 'require(process.argv[1]).tag' "$llamaDir/llama.cpp.info.json")"
patchSum="$(cat "$root/scripts/patches/node-llama-cpp-threadpool.patch" "$llamaDir"/patches/*.diff | sha256sum | cut -c1-12)"
if [[ -n "$isa" ]]; then
  read -r -a llama_isa_flags <<< "$isa"
  if [[ "$arch" != "$hostArch" && " $isa " == *" -DGGML_NATIVE=ON "* ]]; then
    echo "build-llama-addon: GGML_NATIVE=ON tunes to the machine that builds; a cross build names its CPU's flags" >&2; exit 2
  fi
else
  source "$root/scripts/llama-isa.sh"
fi
isaSum="$(printf '%s\n' "${llama_isa_flags[@]}" | sha256sum | cut -c1-8)"
base="$root/.cache/llama-addon/$tag-$arch-$isaSum-$patchSum"
mkdir -p "$base"
# Two image builds for boards of one CPU (the side lane's arm64 and rpi4) share this tree: one builds, the other waits.
exec 9>"$base/.lock"
flock 9
src="$base/src"
if [[ ! -f "$src/.ready" ]]; then
  rm -rf "$src"
  mkdir -p "$src"
  cp -r "$llamaDir/CMakeLists.txt" "$llamaDir/addon" "$llamaDir/cmake" "$llamaDir/profiles" "$llamaDir/toolchains" "$src/"
  git clone -q "$bundle" "$src/llama.cpp"
  for p in "$llamaDir"/patches/*.diff; do
    # node-llama-cpp skips a patch that upstream already has: so do we.
    if git -C "$src/llama.cpp" apply --check "$p" 2>/dev/null; then git -C "$src/llama.cpp" apply "$p"; fi
  done
  patch -s -p0 -d "$src" < "$root/scripts/patches/node-llama-cpp-threadpool.patch"
  touch "$src/.ready"
fi

[[ ${#cross[@]} -eq 0 ]] || cross=("${cross[0]/=toolchains/=$src/toolchains}")
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
# CMakeLists.txt runs `node -p "require('node-addon-api')"` from the source tree: point it at ours.
NODE_PATH="$root/node_modules" nice -n "${LLAMA_ADDON_NICE:-10}" cmake -S "$src" -B "$base/build" "${gen[@]}" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_JS_INC="$nodeInclude" \
  -DNLC_CURRENT_PLATFORM="linux-$hostArch" -DNLC_TARGET_PLATFORM="linux-$arch" "${cross[@]}" -DNLC_VARIANT="$tag" -DGGML_BUILD_NUMBER=1 \
  -DBUILD_SHARED_LIBS=OFF "${llama_isa_flags[@]}" -DGGML_OPENMP=OFF -DGGML_BACKEND_DL=OFF -DGGML_CCACHE=OFF \
  -DGGML_METAL=OFF -DGGML_CUDA=OFF -DGGML_VULKAN=OFF \
  -DLLAMA_CURL=OFF -DLLAMA_HTTPLIB=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_BORINGSSL=OFF >&2
NODE_PATH="$root/node_modules" nice -n "${LLAMA_ADDON_NICE:-10}" cmake --build "$base/build" -j "${LLAMA_ADDON_JOBS:-$(nproc)}" >&2

# node-llama-cpp's layout for a local build: <folder>/Release/llama-addon.node with its build metadata,
# and <folder>/buildDone.status. The metadata names this system, so it loads without a test run.
rm -rf "$install"
mkdir -p "$install/Release"
cp "$base/build/llama-addon.node" "$install/Release/"
node --input-type=module -e '
  const [nlc, out, arch, tag] = process.argv.slice(1);
  const { getPlatformInfo } = await import(`${nlc}/dist/bindings/utils/getPlatformInfo.js`);
  const info = JSON.parse((await import("node:fs")).readFileSync(`${nlc}/llama/llama.cpp.info.json`, "utf8"));
  const meta = { buildOptions: { customCmakeOptions: {}, progressLogs: true, platform: "linux", platformInfo: await getPlatformInfo(), arch, gpu: false,
    llamaCpp: { repo: info.llamaCppGithubRepo ?? "ggml-org/llama.cpp", release: tag } } };
  (await import("node:fs")).writeFileSync(out, JSON.stringify(meta));
' "$nlc" "$install/Release/_nlcBuildMetadata.json" "$arch" "$tag"
# What the build needs of a CPU, read by the runner before it loads the build (hardware/llamaLocalBuild.ts): the
# flags above, and for a native build this CPU's own flags, since -march=native may use any of them.
{
  printf '%s\n' "${llama_isa_flags[@]}"
  if [[ " ${llama_isa_flags[*]} " == *" -DGGML_NATIVE=ON "* ]]; then
    echo "cpu-flags: $(grep -m1 -iE '^(flags|features)[[:space:]]*:' /proc/cpuinfo | cut -d: -f2- | xargs)"
  fi
} > "$install/sovereign-isa"
: > "$install/buildDone.status"
echo "$install"
