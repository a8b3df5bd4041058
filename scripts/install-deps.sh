#!/usr/bin/env bash
# Installs the native libraries and tools I3D.MLNet needs on Debian/Ubuntu (run as root or with sudo):
#   libgtk-3-0  - OpenCvSharp's native library links against it (video decoding)
#   ffmpeg      - reference decoder for the tests and benchmarks (ffmpeg / ffprobe)
# With --reference, also the Python references the tests and benchmarks compare against (Debian's python3-torch 1.13,
# python3-torchvision, python3-opencv 4.6 with TV-L1, python3-onnx); tests that need them skip with a message where they are absent.
set -euo pipefail
packages=(libgtk-3-0 ffmpeg)
if [[ "${1:-}" == "--reference" ]]; then packages+=(python3-numpy python3-torch python3-torchvision python3-opencv python3-onnx); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then echo "install-deps: all present (${packages[*]})"; exit 0; fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
