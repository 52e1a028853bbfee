"""``gpuvars demo``: a small end-to-end training loop on the devices present.

A linear model (``weights``/``biases`` as in the seed documents) learns a
random linear map with dense gradient updates (``assign_sub``), a step
counter advances with ``count_up_to``, and a summary table closes the run.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

__all__ = ["run_demo"]


def _progress(total: int, enabled: bool) -> Any:
    if enabled:
        try:
            from tqdm import tqdm

            return tqdm(total=total, desc="training", unit="step", leave=False)
        except ImportError:
            pass
    return None


def run_demo(steps: int = 300, directory: str | None = None, progress: bool = True, seed: int = 0) -> int:
    """Train, print a summary; return 0 when the model learned what it should."""
    import gpuvars as tf

    if steps < 1:
        raise ValueError(f"Argument `steps` must be a positive int. Received: {steps}")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    n_in, n_out, batch, lr = 32, 8, 256, 0.1
    true_w = rng.normal(size=(n_in, n_out)).astype(np.float32)
    true_b = rng.normal(size=n_out).astype(np.float32)

    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(seed)
        weights = tf.Variable(tf.random_normal([n_in, n_out], stddev=0.35), name="weights")
        biases = tf.Variable(tf.zeros([n_out]), name="biases")
        step = tf.Variable(0, name="global_step", trainable=False)
        init = tf.global_variables_initializer()
        with tf.Session() as sess:
            sess.run(init)
            device = weights.device
            bar = _progress(steps, progress)
            first_loss = last_loss = float("nan")
            for _ in range(steps):
                x = rng.normal(size=(batch, n_in)).astype(np.float32)
                y = x @ true_w + true_b
                xd = tf.device_put(x, device)
                yd = tf.device_put(y, device)
                err = xd @ weights.value() + biases.value() - yd
                grad_w = (xd.T @ err) * (2.0 / batch)
                grad_b = err.sum(axis=0) * (2.0 / batch)
                tf.group_assign_sub([weights, biases], [grad_w * lr, grad_b * lr])
                step.count_up_to(steps)
                last_loss = float(tf.transfer.to_host((err * err).mean()))
                if first_loss != first_loss:
                    first_loss = last_loss
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{last_loss:.4f}")
            if bar is not None:
                bar.close()
            w_err = float(np.abs(sess.run(weights) - true_w).max())
            b_err = float(np.abs(sess.run(biases) - true_b).max())
            done = int(sess.run(step))
    elapsed = time.perf_counter() - t0
    from gpuvars.cli import _print_table

    print(f"gpuvars demo: {done} steps on {device} in {elapsed:.2f} s")
    _print_table(
        ("variable", "shape", "dtype", "device", "max |error|"),
        [
            ("weights", str(weights.shape), weights.dtype.name, weights.device, f"{w_err:.2e}"),
            ("biases", str(biases.shape), biases.dtype.name, biases.device, f"{b_err:.2e}"),
            ("global_step", str(step.shape), step.dtype.name, step.device, str(done)),
        ],
    )
    print(f"loss: {first_loss:.4f} -> {last_loss:.6f}")
    stats = tf.transfer_stats()
    if stats:
        print("transfers:", ", ".join(f"{s}->{d}: {v['copies']} copies, {v['bytes']} B" for (s, d), v in sorted(stats.items())))
    ok = done == steps and last_loss < first_loss * 1e-2
    print("result:", "OK" if ok else "FAILED (the model did not converge)")
    return 0 if ok else 1
