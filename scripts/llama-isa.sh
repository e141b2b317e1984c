# Sourced by build-llama-ref.sh and build-llama-addon.sh: the CPU flags both builds compile llama.cpp for,
# so the reference binaries and our addon are compared on the same instruction sets.
#
# x86_64: GGML_NATIVE=OFF with the instruction sets this CPU reports (AVX2/FMA/F16C/BMI2 always, the AVX-512
# family and AVX-VNNI when /proc/cpuinfo lists them), never AMX: -march=native enabled AMX here and
# llama-server died of SIGILL in a VM that lists amx_tile without granting it.
# Elsewhere (a Pi, a Jetson, built on the board itself): GGML_NATIVE=ON.
# Sets the array llama_isa_flags.
llama_isa_flags=()
if [[ "$(uname -m)" == "x86_64" ]]; then
  _llama_cpu_flags="$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)"
  _llama_has() { [[ " $_llama_cpu_flags " == *" $1 "* ]] && echo ON || echo OFF; }
  llama_isa_flags=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
    "-DGGML_AVX512=$(_llama_has avx512f)" "-DGGML_AVX512_VBMI=$(_llama_has avx512vbmi)" "-DGGML_AVX512_VNNI=$(_llama_has avx512_vnni)"
    "-DGGML_AVX512_BF16=$(_llama_has avx512_bf16)" "-DGGML_AVX_VNNI=$(_llama_has avx_vnni)"
    -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF)
else
  llama_isa_flags=(-DGGML_NATIVE=ON)
fi
