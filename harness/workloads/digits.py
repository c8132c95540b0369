"""A real training workload: a small MLP trained with mini-batch SGD in numpy on sklearn's digits.

The digits dataset ships with scikit-learn (no download). It logs what a team would: the
hyperparameters, per-step loss/accuracy/learning rate, per-epoch validation metrics, the trained
model as an artifact, and the seed's model-selection figures (test loss, training time, test
time, model size).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

DEFAULTS: dict[str, Any] = {
    "epochs": 5,  # 231 log calls, 93% test accuracy: a real run, short enough for five rounds
    "batch_size": 32,
    "hidden": 64,
    "lr": 0.1,
    "lr_decay": 0.9,
    "seed": 0,
}


def _forward(w1, b1, w2, b2, x):
    hidden = np.maximum(x @ w1 + b1, 0.0)
    logits = hidden @ w2 + b2
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    return hidden, probs


def _loss_acc(probs: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    loss = float(-np.log(probs[np.arange(len(y)), y] + 1e-12).mean())
    return loss, float((probs.argmax(axis=1) == y).mean())


def train(tracker: Any, config: dict[str, Any]) -> None:
    cfg = {**DEFAULTS, **config}
    rng = np.random.default_rng(int(cfg["seed"]))
    data = load_digits()
    x = (data.data / 16.0).astype(np.float64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, data.target, test_size=0.2, random_state=int(cfg["seed"]), stratify=data.target
    )
    n_in, n_hidden, n_out = x.shape[1], int(cfg["hidden"]), 10
    w1 = rng.normal(0, np.sqrt(2 / n_in), (n_in, n_hidden))
    b1 = np.zeros(n_hidden)
    w2 = rng.normal(0, np.sqrt(2 / n_hidden), (n_hidden, n_out))
    b2 = np.zeros(n_out)

    tracker.log_params(
        {
            **{k: cfg[k] for k in DEFAULTS},
            "model": "mlp-relu-softmax",
            "optimizer": "sgd",
            "dataset": "sklearn digits (8x8, 10 classes)",
            "n_train": len(y_train),
            "n_test": len(y_test),
        }
    )

    batch, lr, step = int(cfg["batch_size"]), float(cfg["lr"]), 0
    train_start = time.perf_counter()
    for epoch in range(int(cfg["epochs"])):
        order = rng.permutation(len(y_train))
        for lo in range(0, len(order), batch):
            idx = order[lo : lo + batch]
            xb, yb = x_train[idx], y_train[idx]
            hidden, probs = _forward(w1, b1, w2, b2, xb)
            loss, acc = _loss_acc(probs, yb)
            grad = probs.copy()
            grad[np.arange(len(yb)), yb] -= 1.0
            grad /= len(yb)
            grad_hidden = (grad @ w2.T) * (hidden > 0)
            w2 -= lr * hidden.T @ grad
            b2 -= lr * grad.sum(axis=0)
            w1 -= lr * xb.T @ grad_hidden
            b1 -= lr * grad_hidden.sum(axis=0)
            tracker.log_metrics({"train/loss": loss, "train/accuracy": acc, "lr": lr}, step=step)
            step += 1
        _, val_probs = _forward(w1, b1, w2, b2, x_test)
        val_loss, val_acc = _loss_acc(val_probs, y_test)
        tracker.log_metrics(
            {"val/loss": val_loss, "val/accuracy": val_acc, "epoch": float(epoch)}, step=step
        )
        lr *= float(cfg["lr_decay"])
    train_time = time.perf_counter() - train_start

    test_start = time.perf_counter()
    _, test_probs = _forward(w1, b1, w2, b2, x_test)
    test_loss, test_acc = _loss_acc(test_probs, y_test)
    test_time = time.perf_counter() - test_start

    model_path = tracker.workdir / "model.npz"
    np.savez(model_path, w1=w1, b1=b1, w2=w2, b2=b2)
    tracker.log_artifact(model_path, "model.npz")
    tracker.log_metrics(
        {
            "test/loss": test_loss,
            "test/accuracy": test_acc,
            "train_time_s": train_time,
            "test_time_s": test_time,
            "model_size_bytes": float(model_path.stat().st_size),
        },
        step=step,
    )
