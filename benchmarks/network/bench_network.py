"""Times the reference I3D (tests/I3D.MLNet.Torch.Tests/fixtures/make_fixtures.py) with Debian's python3-torch on
2 threads: usage bench_network.py WEIGHTS.pt CLIP.npy REPEATS; prints JSON {version, seconds, logits}."""
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
