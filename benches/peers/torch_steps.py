#!/usr/bin/env python3
"""PyTorch peer: timed CPU training steps of an MLP (backprop), one JSON line on stdout.

One step = forward, cross-entropy (mean over the batch) against integer labels, backward,
Adam(lr 1e-3, betas (0.9, 0.999), eps 1e-8) step, zero_grad, and ``loss.item()`` (the loss is
read back to the host, as apical's step does). The batch is fixed (inputs U[0, 1), labels
i % d_out) and reused every step; only the step itself is inside the timer.

    python torch_steps.py --net 784-256-10 --batch 64 --steps 200 --warmup 20 --threads 2
"""

import argparse
import json
import platform
import sys
import time


def parse_net(text):
    widths = [int(w) for w in text.split("-")]
    if len(widths) < 2 or any(w <= 0 for w in widths):
        raise argparse.ArgumentTypeError(f"--net wants dash-separated widths, got {text!r}")
    return widths


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--net", default="784-256-10", help="layer widths, e.g. 784-256-10")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--rule", default="bp", choices=["bp"])
    p.add_argument("--steps", type=int, default=200, help="timed steps")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    widths = parse_net(args.net)

    import torch
    from torch import nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    layers = []
    for i, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(d_in, d_out, bias=True))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    model.train()

    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    loss_fn = nn.CrossEntropyLoss(reduction="mean")
    x = torch.rand(args.batch, widths[0])
    y = torch.arange(args.batch) % widths[-1]

    def step():
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.item()

    for _ in range(args.warmup):
        step()
    ms = []
    losses = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        loss = step()
        ms.append((time.perf_counter() - t0) * 1e3)
        losses.append(loss)

    record = {
        "peer": "pytorch",
        "rule": args.rule,
        "net": "-".join(str(w) for w in widths),
        "batch": args.batch,
        "threads": args.threads,
        "steps": args.steps,
        "warmup": args.warmup,
        "ms": [round(m, 5) for m in ms],
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        "versions": {"python": platform.python_version(), "torch": torch.__version__},
    }
    json.dump(record, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
