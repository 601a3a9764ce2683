#!/usr/bin/env python3
"""JAX peers: timed CPU training steps of an MLP, one JSON line on stdout.

--rule bp  (peer "jax"): plain JAX. The whole step is one jax.jit: forward (ReLU hidden layers,
           Linear layers with bias, PyTorch's init U(+-1/sqrt(fan_in))), softmax cross-entropy
           (mean over the batch) against integer labels, jax.value_and_grad, optax.adam(1e-3)
           (betas 0.9/0.999, eps 1e-8); parameters and optimiser state are donated and returned.
--rule pc  (peer "pcx"): PCX predictive coding, following PCX's MLP classification example
           (examples/0_two_moons.ipynb): a value node (pxc.Vode, squared-error energy) on each
           hidden layer, the output a frozen pxc.Vode with pxc.ce_energy whose h is the one-hot
           label; forward initialisation (STATUS.INIT), T inference steps of optax.sgd(0.1) on the
           value nodes (gradient of the batch-summed energy, i.e. per sample), then one
           optax.adam(1e-3) update of the weights with the gradient scaled by 1/batch; the whole
           step is one pxf.jit. As in apical, the value nodes hold the hidden layers'
           pre-activations (x = relu(vode(linear(x))): mu_l = W_l relu(x_{l-1}) + b_l), where
           PCX's example puts them after the rate function.

Each timed step ends with float(loss) (read back to the host, which waits for the step), as
apical's step does. The batch is fixed (inputs U[0, 1), labels i % d_out) and reused. The loss
reported for pc is the cross-entropy of the feedforward sweep (the energy before inference,
averaged over the batch), which is the loss apical's PC step reports.

Threads: XLA's CPU client has no documented thread-count switch. Before jax is imported this
script sets XLA_FLAGS="--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=N" (a
commonly quoted recipe: jaxlib 0.4.38 accepts the string, but the dash-less second token is
not an XLA flag and probably has no effect), and when N is below the CPUs this process may use,
it also restricts the process's CPU affinity to N CPUs, which bounds how many of XLA's threads
can run at once. On a 2-core machine with --threads 2 neither changes anything. The JSON line
records what was done under "xla".

    python jax_steps.py --rule bp --net 784-256-10 --batch 64 --steps 200 --warmup 20 --threads 2
    python jax_steps.py --rule pc --net 784-256-10 --batch 64 --steps 200 --warmup 20 --T 5
"""

import argparse
import json
import os
import platform
import sys
import time


def parse_net(text):
    widths = [int(w) for w in text.split("-")]
    if len(widths) < 2 or any(w <= 0 for w in widths):
        raise argparse.ArgumentTypeError(f"--net wants dash-separated widths, got {text!r}")
    return widths


def limit_threads(n):
    """Sets XLA_FLAGS and, if needed, the CPU affinity; returns a note of what was done."""
    flags = os.environ.get("XLA_FLAGS", "")
    flags = (
        f"{flags} --xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={n}".strip()
    )
    os.environ["XLA_FLAGS"] = flags
    note = {"XLA_FLAGS": flags}
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return note
    if n < len(cpus):
        os.sched_setaffinity(0, cpus[:n])
        note["affinity"] = cpus[:n]
    return note


# Backprop in plain JAX ###############################################################################


def run_bp(args, widths, x_np, y_np):
    import jax
    import jax.numpy as jnp
    import optax

    key = jax.random.PRNGKey(args.seed)
    params = []
    for d_in, d_out in zip(widths[:-1], widths[1:]):
        key, kw, kb = jax.random.split(key, 3)
        bound = 1.0 / d_in**0.5
        params.append(
            (
                jax.random.uniform(kw, (d_in, d_out), jnp.float32, -bound, bound),
                jax.random.uniform(kb, (d_out,), jnp.float32, -bound, bound),
            )
        )
    opt = optax.adam(1e-3, b1=0.9, b2=0.999, eps=1e-8)
    opt_state = opt.init(params)

    def loss_fn(params, x, y):
        h = x
        for w, b in params[:-1]:
            h = jax.nn.relu(h @ w + b)
        w, b = params[-1]
        logits = h @ w + b
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    # donation: the step updates parameters and Adam's moments in place, as PyTorch and apical do
    step = jax.jit(step, donate_argnums=(0, 1))
    x = jnp.asarray(x_np)
    y = jnp.asarray(y_np)

    state = [params, opt_state]

    def one():
        state[0], state[1], loss = step(state[0], state[1], x, y)
        return float(loss)

    return one


# Predictive coding with PCX ##########################################################################


def run_pc(args, widths, x_np, y_np, weight_optim=None):
    """Returns the step, a holder of the last final energy, and the model."""
    import jax
    import jax.numpy as jnp
    import optax
    import pcx as px
    import pcx.functional as pxf
    import pcx.nn as pxnn
    import pcx.predictive_coding as pxc
    import pcx.utils as pxu

    px.RKG.seed(args.seed)

    class Mlp(pxc.EnergyModule):
        def __init__(self, widths):
            super().__init__()
            self.act_fn = px.static(jax.nn.relu)
            self.layers = [pxnn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:])]
            # hidden value nodes: squared error ½‖h − u‖²; output: cross-entropy against h = label
            self.vodes = [pxc.Vode() for _ in widths[1:-1]] + [pxc.Vode(pxc.ce_energy)]
            self.vodes[-1].h.frozen = True

        def __call__(self, x, y):
            for v, l in zip(self.vodes[:-1], self.layers[:-1]):
                x = self.act_fn(v(l(x)))
            self.vodes[-1](self.layers[-1](x))
            if y is not None:
                self.vodes[-1].set("h", y)
            return self.vodes[-1].get("u")

    vmask = pxu.M(pxc.VodeParam | pxc.VodeParam.Cache).to((None, 0))

    @pxf.vmap(vmask, in_axes=(0, 0), out_axes=0)
    def forward(x, y, *, model):
        return model(x, y)

    @pxf.vmap(vmask, in_axes=(0,), out_axes=(None, 0), axis_name="batch")
    def energy(x, *, model):
        y_ = model(x, None)
        return jax.lax.psum(model.energy(), "batch"), y_

    T = args.T
    batch = args.batch

    @pxf.jit(static_argnums=0)
    def train_on_batch(T, x, y, *, model, optim_w, optim_h):
        model.train()
        # forward initialisation: h = u on every vode, then the output's h is set to the label
        with pxu.step(model, pxc.STATUS.INIT, clear_params=pxc.VodeParam.Cache):
            forward(x, y, model=model)
        optim_h.init(pxu.M_hasnot(pxc.VodeParam, frozen=True)(model))
        sweep = None
        for _ in range(T):
            with pxu.step(model, clear_params=pxc.VodeParam.Cache):
                (e, _), g = pxf.value_and_grad(
                    pxu.M_hasnot(pxc.VodeParam, frozen=True).to([False, True]), has_aux=True
                )(energy)(x, model=model)
            if sweep is None:
                sweep = e  # hidden errors are 0 here: the CE of the feedforward sweep
            optim_h.step(model, g["model"])
        optim_h.clear()
        with pxu.step(model, clear_params=pxc.VodeParam.Cache):
            (e, _), g = pxf.value_and_grad(pxu.M(pxnn.LayerParam).to([False, True]), has_aux=True)(
                energy
            )(x, model=model)
        optim_w.step(model, g["model"], scale_by=1.0 / x.shape[0])
        if sweep is None:
            sweep = e
        return sweep / x.shape[0], e / x.shape[0]

    model = Mlp(widths)
    # a dummy forward pass sets the vodes' shapes, so the first step does not compile twice
    with pxu.step(model, pxc.STATUS.INIT, clear_params=pxc.VodeParam.Cache):
        forward(jnp.zeros((batch, widths[0])), None, model=model)
    optim_h = pxu.Optim(lambda: optax.sgd(args.inference_rate))
    optim_w = pxu.Optim(
        weight_optim or (lambda: optax.adam(1e-3, b1=0.9, b2=0.999, eps=1e-8)),
        pxu.M(pxnn.LayerParam)(model),
    )
    x = jnp.asarray(x_np)
    y = jax.nn.one_hot(jnp.asarray(y_np), widths[-1])
    final_energy = [None]

    def one():
        loss, e = train_on_batch(T, x, y, model=model, optim_w=optim_w, optim_h=optim_h)
        final_energy[0] = e
        return float(loss)

    return one, final_energy, model


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--net", default="784-256-10", help="layer widths, e.g. 784-256-10")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--rule", default="bp", choices=["bp", "pc"])
    p.add_argument("--steps", type=int, default=200, help="timed steps")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps first (compiles)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for XLA (see above)")
    p.add_argument("--T", type=int, default=5, help="pc: inference steps per update")
    p.add_argument("--inference-rate", type=float, default=0.1, help="pc: SGD step on the vodes")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    widths = parse_net(args.net)
    if args.rule == "pc" and len(widths) < 3:
        p.error("--rule pc needs at least one hidden layer")
    if args.warmup < 1:
        p.error("--warmup must be >= 1 (the first step compiles)")

    thread_note = limit_threads(args.threads)

    import numpy as np

    rng = np.random.default_rng(args.seed)
    x_np = rng.random((args.batch, widths[0]), dtype=np.float32)
    y_np = (np.arange(args.batch) % widths[-1]).astype(np.int32)

    final_energy = None
    if args.rule == "bp":
        one = run_bp(args, widths, x_np, y_np)
    else:
        one, final_energy, _ = run_pc(args, widths, x_np, y_np)

    import jax
    import jaxlib

    t0 = time.perf_counter()
    for _ in range(args.warmup):
        one()
    warmup_s = time.perf_counter() - t0
    ms = []
    losses = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        loss = one()
        ms.append((time.perf_counter() - t0) * 1e3)
        losses.append(loss)

    versions = {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
    }
    from importlib import metadata

    for pkg in ("pcx", "equinox", "optax"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None

    record = {
        "peer": "jax" if args.rule == "bp" else "pcx",
        "rule": args.rule,
        "net": "-".join(str(w) for w in widths),
        "batch": args.batch,
    }
    if args.rule == "pc":
        record["T"] = args.T
        record["inference_rate"] = args.inference_rate
    record.update(
        {
            "threads": args.threads,
            "steps": args.steps,
            "warmup": args.warmup,
            "warmup_s": round(warmup_s, 4),
            "ms": [round(m, 5) for m in ms],
            "loss_first": losses[0] if losses else None,
            "loss_last": losses[-1] if losses else None,
        }
    )
    if final_energy is not None and final_energy[0] is not None:
        record["energy_last"] = float(final_energy[0])
    record["xla"] = thread_note
    record["versions"] = versions
    json.dump(record, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
