#!/usr/bin/env bash
# One prepared GPU check for a machine with JAX and a GPU but no TensorFlow (KERAS_BACKEND=jax).
# Prepared on the development machine (in the repository root):
#   echo /.whl/ >> .git/info/exclude; echo /.weights/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl keras namex optree
#   (imageio-ffmpeg is imported only when a video is read, so the checks below do not need it)
#   mkdir -p .weights && cp ~/.cache/stylizer/vgg16_imagenet_notop.npz .weights/   # verified on load
# Run there with carry [".whl", ".weights"]:  bash benchmarks/gpu_check.sh
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax STYLIZER_WEIGHTS=$PWD/.weights/vgg16_imagenet_notop.npz
export PYTHONUNBUFFERED=1 STYLIZER_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
out=${OUT:-/tmp}
python3 benchmarks/iteration.py --sizes 512 1024 2048 --precision both --iterations 30 2>&1 | tee "$out/iteration_gpu.txt"
python3 -m pytest -q tests/test_optimize.py tests/test_engine.py 2>&1 | tee "$out/tests_gpu.txt"
