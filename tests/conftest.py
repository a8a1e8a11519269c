"""Test-session settings: with pytest-xdist, each worker computes on its share of the cores."""
import os

import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers on two cores, each with torch's default of every core, would fight for them.
    share = max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    torch.set_num_threads(share)
    os.environ["OMP_NUM_THREADS"] = str(share)  # the kit's processes the tests start
