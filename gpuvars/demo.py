"""``gpuvars demo``: an end-to-end training loop on the devices present.

The model is built the TF 1.x way, with ``variable_scope``/``get_variable``:
a dense layer (``weights``/``biases``, as in the seed documents) on the
compute device, and an embedding table partitioned into shards on the
parameter device, read through a ``caching_device`` on the compute device.
Each step does a sparse update of the table rows it used (``scatter_sub``
with duplicate indices, routed to the owning shards) and a fused dense update
of the layer (``group_assign_sub``); ``count_up_to`` advances the step.
Every ``checkpoint_every`` steps a sharded ``Saver`` writes one file per
device and rotates old checkpoints (``max_to_keep``). At the end the run is
"restarted": a fresh graph is rebuilt from the latest meta graph, restored
from ``latest_checkpoint``, and compared with the values that were saved.

With emulated GPUs (``GPUVARS_EMULATED_GPUS=2``) the table lives on
``/gpu:0`` and the dense layer on ``/gpu:1``; with one device everything
shares it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from typing import Any

import numpy as np

__all__ = ["run_demo"]


class _TextBar:
    """A one-line progress bar on stderr, used when tqdm is not installed (it is an optional extra)."""

    def __init__(self, total: int, desc: str):
        self.total, self.desc, self.n, self.postfix = total, desc, 0, ""
        self._stream = sys.stderr
        self._every = max(total // 50, 1)

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.n % self._every == 0 or self.n == self.total:
            filled = 30 * self.n // max(self.total, 1)
            self._stream.write(f"\r{self.desc}: [{'#' * filled}{'.' * (30 - filled)}] {self.n}/{self.total} {self.postfix}")
            self._stream.flush()

    def set_postfix(self, **values: Any) -> None:
        self.postfix = " ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        self._stream.write("\r" + " " * (60 + len(self.postfix)) + "\r")
        self._stream.flush()


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return _TextBar(total, "training")
    return tqdm(total=total, desc="training", unit="step", leave=False)


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    from gpuvars.cli import _print_table

    _print_table(header, [tuple(str(c) for c in r) for r in rows])


def run_demo(steps: int = 300, directory: str | None = None, progress: bool = True, seed: int = 0,
             checkpoint_every: int = 100, max_to_keep: int = 3) -> int:
    """Train, checkpoint, restart from the latest checkpoint, print a summary.

    Args:
      steps: training steps.
      directory: where checkpoints go (a temporary folder when None).
      progress: show a progress bar (tqdm) while training.
      seed: the graph-level random seed and the data seed.
      checkpoint_every: save every this many steps (0: only at the end).
      max_to_keep: checkpoints kept by the Saver.

    Returns:
      0 when the model converged and the restart restored exactly the saved values, else 1.
    """
    if steps < 1:
        raise ValueError(f"Argument `steps` must be a positive int. Received: {steps}")
    if directory is None:
        with tempfile.TemporaryDirectory(prefix="gpuvars-demo-") as tmp:
            return _run(steps, tmp, progress, seed, checkpoint_every, max_to_keep)
    os.makedirs(directory, exist_ok=True)
    return _run(steps, directory, progress, seed, checkpoint_every, max_to_keep)


def _run(steps: int, directory: str, progress: bool, seed: int, checkpoint_every: int, max_to_keep: int) -> int:
    import gpuvars as tf

    t0 = time.perf_counter()
    gpus = [d.name for d in tf.list_devices() if d.kind != "cpu"]
    param_device = gpus[0] if gpus else "/device:CPU:0"
    compute_device = gpus[-1] if gpus else "/device:CPU:0"
    rng = np.random.default_rng(seed)
    vocab, dim, n_out, tokens, batch, shards = 2000, 16, 4, 8, 128, 3
    lr_dense, lr_emb = 0.05, 2.0
    true_emb = rng.normal(size=(vocab, dim)).astype(np.float32)
    true_w = (rng.normal(size=(dim, n_out)) / np.sqrt(dim)).astype(np.float32)
    true_b = rng.normal(size=n_out).astype(np.float32)
    tf.reset_transfer_stats()

    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(seed)
        with tf.variable_scope("model"):
            with tf.device(compute_device), tf.variable_scope("dense"):
                weights = tf.get_variable("weights", [dim, n_out],
                                          initializer=tf.random_normal_initializer(stddev=0.35))
                biases = tf.get_variable("biases", [n_out], initializer=tf.zeros_initializer())
            with tf.device(param_device):
                table = tf.get_variable("embedding", [vocab, dim],
                                        initializer=tf.random_normal_initializer(stddev=0.5),
                                        partitioner=tf.fixed_size_partitioner(shards),
                                        caching_device=compute_device)
        with tf.device("/cpu:0"):
            step = tf.train.get_or_create_global_step()
        saver = tf.train.Saver(sharded=True, max_to_keep=max_to_keep)
        prefix = os.path.join(directory, "model.ckpt")
        saved: dict[str, np.ndarray] = {}
        losses: list[float] = []
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            bar = _progress(steps, progress)
            for i in range(steps):
                ids = rng.zipf(1.3, size=(batch, tokens)) % vocab  # skewed: many duplicate rows
                y = true_emb[ids].mean(axis=1) @ true_w + true_b
                ids_dev = tf.device_put(ids, compute_device)
                y_dev = tf.device_put(y.astype(np.float32), compute_device)
                emb = table.as_tensor()  # the cached shard copies, concatenated on the compute device
                feats = emb[ids_dev].mean(axis=1)
                err = feats @ weights.value() + biases.value() - y_dev
                scale = np.float32(2.0 / batch)
                grad_w = feats.T @ err * scale
                grad_b = err.sum(axis=0) * scale
                grad_feats = err @ weights.value().T * scale
                grad_rows = (grad_feats[:, None, :] * np.float32(lr_emb / tokens)).repeat(tokens, axis=1)
                table.scatter_sub(tf.IndexedSlices(grad_rows.reshape(-1, dim), ids_dev.reshape(-1)))
                tf.group_assign_sub([weights, biases], [grad_w * np.float32(lr_dense), grad_b * np.float32(lr_dense)])
                step.count_up_to(steps)
                losses.append(float(tf.transfer.to_host((err * err).mean())))
                if (checkpoint_every and (i + 1) % checkpoint_every == 0) or i + 1 == steps:
                    last_prefix = saver.save(sess, prefix, global_step=step)
                    saved = {v.op.name: v.numpy() for v in tf.global_variables()}
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{losses[-1]:.4f}")
            if bar is not None:
                bar.close()
        train_seconds = time.perf_counter() - t0
        stats = tf.transfer_stats()
        placement = [(v.op.name, v.shape, v.dtype.name, v.device, v.caching_device or "-")
                     for v in tf.global_variables()]

    # Restart: a fresh graph from the meta graph, restored from the latest checkpoint.
    latest = tf.train.latest_checkpoint(directory)
    if latest is None:
        print(f"gpuvars demo: no checkpoint found in {directory}")
        return 1
    restored_ok = latest == last_prefix
    with tf.Graph().as_default():
        restart_saver = tf.train.import_meta_graph(latest + ".meta")
        if restart_saver is None:
            print(f"gpuvars demo: the meta graph {latest}.meta holds no variables")
            return 1
        restart_saver.restore(None, latest)
        restored = {v.op.name: v.numpy() for v in tf.global_variables()}
    restored_ok = restored_ok and restored.keys() == saved.keys() and all(
        np.array_equal(restored[k], saved[k]) for k in saved)
    files = sorted(f for f in os.listdir(directory) if f.startswith("model.ckpt"))
    kept = [os.path.basename(p) for p in saver.last_checkpoints]

    print(f"gpuvars demo: {steps} steps in {train_seconds:.2f} s; devices: {', '.join(d.name for d in tf.list_devices())}")
    _table(("variable", "shape", "dtype", "device", "caching device"), placement)
    print(f"\nloss: {losses[0]:.4f} -> {losses[-1]:.5f}")
    print("\ntransfers (source -> destination):")
    _table(("source", "destination", "copies", "bytes"),
           [(s, d, v["copies"], v["bytes"]) for (s, d), v in sorted(stats.items())])
    print(f"\ncheckpoints kept ({max_to_keep} max): {', '.join(kept)}")
    print(f"files: {len(files)} in {directory}")
    print(f"restart from {os.path.basename(latest)} via import_meta_graph: "
          f"{'all values restored exactly' if restored_ok else 'MISMATCH'}")
    converged = losses[-1] < 0.2 * losses[0]
    ok = converged and restored_ok and int(saved.get("global_step", -1)) == steps
    print("result:", "OK" if ok else "FAILED")
    return 0 if ok else 1
