"""Times the reference I3D (tests/I3D.MLNet.Torch.Tests/fixtures/make_fixtures.py) with Debian's python3-torch on
2 threads: usage bench_network.py WEIGHTS.pt CLIP.npy REPEATS; prints JSON {version, seconds, logits}.

bench_network.py --train-step WEIGHTS.pt CLIPS.npy LABELS.npy CLASSES THREADS: one training step per stdin line
("step" = dropout off, "step dropout" = dropout on; "quit" ends): train mode (BatchNorm on batch statistics),
cross-entropy on the time-averaged logits, backward, SGD lr 0.01 momentum 0.9; prints JSON {version} once, then
{seconds, loss, parts: [forward + loss, backward, SGD step]} per step. Driven by NetworkBenchmark --train-step (TrainStep.cs), which alternates with its own steps."""
import json
import os
import sys
import time

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
for candidate in (here, os.path.join(here, "..", "..", "tests", "I3D.MLNet.Torch.Tests", "fixtures")):
    if os.path.exists(os.path.join(candidate, "make_fixtures.py")):
        sys.path.insert(0, candidate)
from make_fixtures import I3D  # noqa: E402



def train_step(weights, clips, labels, classes, threads):
    torch.set_num_threads(threads)
    net = I3D(classes, 3)
    net.load_state_dict(torch.load(weights), strict=True)
    net.train()
    x = torch.from_numpy(np.load(clips)).permute(0, 4, 1, 2, 3).contiguous()
    y = torch.from_numpy(np.load(labels)).long()
    sgd = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    print(json.dumps({"version": torch.__version__}), flush=True)
    for line in sys.stdin:
        command = line.split()
        if command == ["quit"]:
            return
        net.dropout.train(command == ["step", "dropout"])
        start = time.perf_counter()
        sgd.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x).mean(2), y)
        forward = time.perf_counter() - start
        loss.backward()
        backward = time.perf_counter() - start
        sgd.step()
        seconds = time.perf_counter() - start
        parts = [forward, backward - forward, seconds - backward]
        print(json.dumps({"seconds": seconds, "loss": loss.item(), "parts": parts}), flush=True)


if sys.argv[1] == "--train-step":
    train_step(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    sys.exit(0)
torch.set_num_threads(2)
weights, clip, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
net = I3D(400, 3)
net.load_state_dict(torch.load(weights), strict=True)
net.eval()
x = torch.from_numpy(np.load(clip)).permute(0, 4, 1, 2, 3).contiguous()
with torch.no_grad():
    net(x)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        logits = net(x).mean(2)
        times.append(time.perf_counter() - start)
times.sort()
print(json.dumps({"version": torch.__version__, "seconds": times[len(times) // 2], "logits": logits[0].tolist()}))
