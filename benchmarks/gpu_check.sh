#!/usr/bin/env bash
# The checks that need an NVIDIA GPU, in one command, for a session lent one (CI has none).
#
#   bash benchmarks/gpu_check.sh [MNIST_DIR]        # ~5 minutes on one GPU
#
# 1. the reference trainer on CUDA: the textbook MNIST spec to 99% test accuracy, with its time;
# 2. `summarize` of modules on CUDA gives exactly the CPU numbers (every row, every total);
# 3. archcalc's memory estimates against torch.cuda.max_memory_allocated
#    (benchmarks/memory_accuracy.py --device cuda: its table, estimate beside measured).
# Needs torch with CUDA already installed (the machine may have no network). MNIST_DIR: the four
# IDX files; by default ../shared/data/mnist or shared/data/mnist. Results go to stdout; the run
# folder to $OUT (or a temporary folder). Exit status: the first failing step's.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
OUT_DIR="${OUT:-$(mktemp -d)}"
DATA="${1:-}"
if [ -z "$DATA" ]; then
    for d in ../shared/data/mnist shared/data/mnist; do
        if [ -f "$d/train-images-idx3-ubyte.gz" ]; then DATA="$d"; break; fi
    done
fi
status=0
step() { echo; echo "== $*"; }

step "0. the machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || status=1
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; \
print('torch', torch.__version__, 'on', torch.cuda.get_device_name())" || exit 1

step "1. archcalc train examples/mnist_cnn.yaml on CUDA (3 epochs, the chapter's recipe)"
if [ -z "$DATA" ]; then
    echo "no MNIST folder found: pass it as the first argument"; status=1
else
    start=$(date +%s.%N)
    python -m archcalc train examples/mnist_cnn.yaml --data-dir "$DATA" --device cuda \
        --out "$OUT_DIR/mnist_cnn" --force || status=1
    echo "wall time: $(python -c "print(f'{$(date +%s.%N) - $start:.1f} s')")"
fi

step "2. summarize on CUDA equals summarize on CPU"
python - <<'EOF' || status=1
import torch
import torchvision

import archcalc

models = {
    "resnet50": (torchvision.models.resnet50, (3, 224, 224)),
    "mobilenet_v3_large": (torchvision.models.mobilenet_v3_large, (3, 224, 224)),
    "efficientnet_b0": (torchvision.models.efficientnet_b0, (3, 224, 224)),
    "densenet121": (torchvision.models.densenet121, (3, 224, 224)),
    "convnext_tiny": (torchvision.models.convnext_tiny, (3, 224, 224)),
    "vit_b_16": (torchvision.models.vit_b_16, (3, 224, 224)),
    "r3d_18": (torchvision.models.video.r3d_18, (3, 16, 112, 112)),
}
bad = 0
for name, (make, shape) in models.items():
    model = make()
    cpu = archcalc.summarize(model, shape).to_dict()
    gpu = archcalc.summarize(model.cuda(), shape).to_dict()
    same = cpu == gpu
    bad += not same
    print(f"{name:20} {len(cpu['layers']):4} rows  {'equal' if same else 'DIFFERENT'}")
raise SystemExit(1 if bad else 0)
EOF

step "3. memory: archcalc's estimates against torch.cuda.max_memory_allocated"
python benchmarks/memory_accuracy.py --device cuda \
    --specs mnist_cnn,mnist_gap,lenet5,resnet18,resnet50,mobilenet_v2,efficientnet_b0,unet_padded \
    --batches 1,32 || status=1

echo
echo "gpu_check: exit $status"
exit $status
