#!/usr/bin/env bash
# The one benchmark entry point: bash benchmarks/run.sh [--out FILE] [--quick]
# Builds the benchmarks, then writes one markdown report (stdout, and FILE with --out) for this machine:
#   - the CPU (model, vendor, family / model, the instruction sets that choose kernels), cores, load average;
#   - scoring (benchmarks/network): the CPU's measured float32 and bfloat16 peak, then one RGB InceptionI3d clip through
#     every engine and precision (TorchSharp float32 / bfloat16, ONNX Runtime) against python3-torch and float64;
#   - training (benchmarks/network --train-step --mixed): float32 and mixed-precision steps against python3-torch;
#   - decoding (benchmarks/decode): LoadVideo -> SampleClips with the system's FFmpeg and OpenCV's against the ffmpeg CLI;
#   - optical flow (benchmarks/flow): our TV-L1 against OpenCV's.
# A peer that is missing (python3-torch, ffmpeg: bash scripts/install-deps.sh --reference) is said in the report and its
# columns are left out; the videos come from ../shared/data/videos. --quick: 1 round and 16x112x112 clips (minutes).
# benchmarks/RESULTS.md keeps the tables of each CPU kind measured.
set -euo pipefail
cd "$(dirname "$0")/.."
out=""; quick=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    *) echo "usage: bash benchmarks/run.sh [--out FILE] [--quick]" >&2; exit 2 ;;
  esac
done

for project in network decode flow; do
  dotnet build -c Release "benchmarks/$project" > /dev/null || { echo "run.sh: building benchmarks/$project failed (dotnet build -c Release benchmarks/$project)" >&2; exit 1; }
done
bin() { echo "benchmarks/$1/bin/Release/net10.0/linux-x64/$2.dll"; }

report=$(mktemp)
say() { echo "$@" | tee -a "$report"; }
run() { "$@" 2>&1 | tee -a "$report"; }

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
family=$(lscpu | sed -n 's/^CPU family: *//p' | head -1)
model=$(lscpu | sed -n 's/^Model: *//p' | head -1)
vendor=$(lscpu | sed -n 's/^Vendor ID: *//p' | head -1)
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512_bf16|avx512_fp16|avx512_vnni|amx_bf16|amx_int8)$' | tr '\n' ' ')
say "# I3D.MLNet benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
say ""
say "CPU: $cpu ($vendor family $family model $model; $flags), $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
say ""

python=(--no-python)
if /usr/bin/python3 -c 'import torch' 2> /dev/null; then python=(); else say "python3-torch is absent: no python column (bash scripts/install-deps.sh --reference installs it)"; fi
if [[ $quick -eq 1 ]]; then scoring=(--frames 16 --size 112 --repeats 1); steps=3; else scoring=(); steps=5; fi

say "## Scoring"
run dotnet "$(bin network NetworkBenchmark)" "${scoring[@]}" "${python[@]}"
say ""
say "## Training step (float32 and mixed precision, alternating step by step)"
run dotnet "$(bin network NetworkBenchmark)" --train-step --mixed --steps "$steps" "${python[@]}"
say ""
if [[ -d ../shared/data/videos ]]; then
  say "## Decoding"
  if command -v ffmpeg > /dev/null; then
    run dotnet "$(bin decode DecodeBenchmark)" --repeat $(( quick == 1 ? 2 : 5 ))
  else
    say "ffmpeg is absent: no decoding comparison (bash scripts/install-deps.sh installs it)"
  fi
  say ""
  say "## Optical flow"
  run dotnet "$(bin flow FlowBenchmark)" --rounds $(( quick == 1 ? 1 : 3 ))
else
  say "../shared/data/videos is absent: no decoding or optical-flow tables (they run on the shared videos)"
fi

say ""
say "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n "$out" ]]; then cp "$report" "$out"; echo "run.sh: wrote $out" >&2; fi
rm -f "$report"
