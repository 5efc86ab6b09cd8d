"""The same loss+gradient in PyTorch, on the same verified weights, timed beside stylizer's compiled call.

PyTorch is not a dependency of stylizer: run this with an interpreter that has both torch and stylizer's
dependencies, e.g. a separate venv with `pip install torch numpy pillow` and PYTHONPATH pointing at the repo.
The TensorFlow side runs in a subprocess with the project's interpreter (--tf-python), so each framework has
the machine to itself, one after the other, in the same run.

    /path/to/torch-venv/bin/python benchmarks/torch_reference.py --tf-python .venv/bin/python --size 512
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from iteration import median_seconds  # benchmarks/iteration.py: numpy only at import, no TensorFlow

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2", "block3_conv1", "block3_conv2",
          "block3_conv3", "block4_conv1", "block4_conv2", "block4_conv3", "block5_conv1")
STYLE = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
CONTENT = "block4_conv2"
MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)


def torch_eval_ms(size: int, weights: Path, repeat: int) -> float:
    import torch

    torch.set_grad_enabled(True)
    data = np.load(weights)
    convs = {}
    for name in LAYERS:
        k = torch.from_numpy(np.ascontiguousarray(data[f"{name}/kernel"].transpose(3, 2, 0, 1)))  # HWIO -> OIHW
        convs[name] = (k, torch.from_numpy(data[f"{name}/bias"]))

    def feats(x):
        x = x.flip(1) - torch.from_numpy(MEAN_BGR).view(1, 3, 1, 1)
        out, block = {}, 1
        for name in LAYERS:
            b = int(name[5])
            if b != block:
                x, block = torch.nn.functional.max_pool2d(x, 2), b
            x = torch.relu(torch.nn.functional.conv2d(x, *convs[name], padding=1))
            out[name] = x
        return out

    def gram(f):
        c = f.shape[1]
        f = f.reshape(c, -1)
        return f @ f.T / f.shape[1]

    rng = np.random.default_rng(0)
    content = torch.from_numpy(rng.uniform(0, 255, (1, 3, size, size)).astype(np.float32))
    with torch.no_grad():
        f_c = feats(content)
        target = f_c[CONTENT]
        grams = {n: gram(f_c[n]) * 1.01 for n in STYLE}
    x = content.clone().requires_grad_(True)

    def step():
        f = feats(x)
        c = ((f[CONTENT] - target) ** 2).mean() / (target**2).mean()
        s = sum(((gram(f[n]) - grams[n]) ** 2).sum() / (grams[n] ** 2).sum() for n in STYLE) / len(STYLE)
        tv = ((x[:, :, 1:] - x[:, :, :-1]) ** 2).mean() + ((x[:, :, :, 1:] - x[:, :, :, :-1]) ** 2).mean()
        loss = c + 10 * s + tv / 255**2
        (grad,) = torch.autograd.grad(loss, x)
        return float(loss), grad

    return 1000 * median_seconds(step, repeat)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--tf-python", default=sys.executable, help="interpreter with stylizer and TensorFlow")
    ap.add_argument("--weights", type=Path, default=Path.home() / ".cache/stylizer/vgg16_imagenet_notop.npz")
    args = ap.parse_args()
    import torch

    torch_ms = torch_eval_ms(args.size, args.weights, args.repeat)
    cmd = [args.tf_python, str(ROOT / "benchmarks/iteration.py"), "--child", f"{args.size}:float32:0",
           "--repeat", str(args.repeat), "--iterations", "1"]
    tf = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    print(f"{args.size} px float32, loss+gradient per evaluation (median of {args.repeat}):")
    print(f"  PyTorch {torch.__version__} ({torch.get_num_threads()} threads): {torch_ms:8.1f} ms")
    print(f"  stylizer (TensorFlow, compiled):      {tf['bare_ms']:8.1f} ms")
    print(f"  ratio stylizer / PyTorch: {tf['bare_ms'] / torch_ms:.3f}")


if __name__ == "__main__":
    main()
