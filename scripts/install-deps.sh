#!/usr/bin/env bash
# Installs the native libraries and tools I3D.MLNet needs on Debian/Ubuntu (run as root or with sudo):
#   libgtk-3-0  - OpenCvSharp's native library links against it (video decoding)
#   ffmpeg      - its libraries (libavcodec59, libavformat59, libswscale6 on Debian 12) decode the videos; the command
#                 line is the reference decoder for the tests and benchmarks (ffmpeg / ffprobe)
# and, without root, dotnet-repl 0.3.259 into .tools/ (runs the notebooks headless; the notebook tests use it).
# With --reference, also the Python references the tests and benchmarks compare against (Debian's python3-torch 1.13,
# python3-torchvision, python3-opencv 4.6 with TV-L1, python3-onnx); tests that need them skip with a message where they are absent.
set -euo pipefail
packages=(libgtk-3-0 ffmpeg)
if [[ "${1:-}" == "--reference" ]]; then packages+=(python3-numpy python3-torch python3-torchvision python3-opencv python3-onnx); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all present (${packages[*]})"
else
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The notebooks' headless runner, local to the clone (no global tool, no root).
tools="$(cd "$(dirname "$0")/.." && pwd)/.tools"
if [[ -x "$tools/dotnet-repl" ]]; then
  echo "install-deps: dotnet-repl present ($tools)"
elif command -v dotnet > /dev/null && dotnet --list-sdks 2> /dev/null | grep -q .; then
  echo "install-deps: installing dotnet-repl 0.3.259 into $tools"
  dotnet tool install dotnet-repl --version 0.3.259 --tool-path "$tools" > /dev/null
else
  echo "install-deps: no .NET SDK on PATH; skipped dotnet-repl (the notebook tests will skip)"
fi
