"""What the cupar.nn examples share: arguments, the digits data set, a report, and a PNG of
the training curves (matplotlib, drawn without a display)."""

from __future__ import annotations

import argparse
import time

import numpy as np

import cupar


def arguments(description: str, epochs: int, batch_size: int, lr: float):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--place", choices=["cpu", "gpu0", "here"], default="cpu")
    parser.add_argument("--plot", default=None, help="PNG of the training curves")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def place(name: str):
    return getattr(cupar.places, name)


def digits(images: bool = False, seed: int = 0):
    """scikit-learn's 8x8 digits, pixels in [0, 1], a shuffled stratified 80/20 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    if images:
        x = x.reshape(-1, 1, 8, 8)
    return train_test_split(x, data.target.astype(np.int64), test_size=0.2,
                            stratify=data.target, random_state=seed)


def mnist1d():
    """The standard mnist1d data set (its own seed, 42), generated offline, never
    downloaded: 4000 training and 1000 test sequences of 40 numbers, as (N, 40, 1)."""
    from mnist1d.data import get_dataset_args, make_dataset
    data = make_dataset(get_dataset_args())
    as_sequences = lambda x: x.astype(np.float32)[:, :, None]  # noqa: E731
    return (as_sequences(data["x"]), as_sequences(data["x_test"]),
            data["y"].astype(np.int64), data["y_test"].astype(np.int64))


def report(name: str, history, scores: dict, started: float, path: str | None) -> None:
    rate = np.median(history["samples_per_s"][1:] or history["samples_per_s"])
    print(f"{name}: test accuracy {scores['accuracy']:.4f}, test loss {scores['loss']:.4f}, "
          f"training {rate:,.0f} samples/s (median over epochs), "
          f"{time.perf_counter() - started:.1f} s in all")
    if path:
        plot(history, path, name)
        print(f"training curves: {path}")


def plot(history, path: str, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, history["loss"], label="train")
    if "val_loss" in history:
        left.plot(epochs, history["val_loss"], label="test")
    left.set(xlabel="epoch", ylabel="loss", yscale="log", title=f"{title}: loss")
    right.plot(epochs, history["accuracy"], label="train")
    if "val_accuracy" in history:
        right.plot(epochs, history["val_accuracy"], label="test")
    right.set(xlabel="epoch", ylabel="accuracy", title=f"{title}: accuracy")
    for ax in (left, right):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
