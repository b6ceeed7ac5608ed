"""The privacy side of ``python -m finetune.federated --dp-noise``: what each noise level buys and costs.

Client-level differential privacy as Flower's central DP with client-side fixed clipping gives it: every
round each client's update is clipped to norm ``C`` and the server adds Gaussian noise of standard
deviation ``z * C`` to the sum (``z * C / n`` to the average of ``n`` clients), every client taking part in
every round.  That is the Gaussian mechanism with noise multiplier ``z`` on a sum of sensitivity ``C``,
composed over the rounds; Opacus's Rényi-DP accountant (sampling rate 1) turns it into ``(epsilon,
delta)``, for a client (all its users' interactions together), not for a single interaction.

:func:`plot_privacy` draws recall@20 against epsilon for every private run beside the non-private one.
"""

from __future__ import annotations

import math
from pathlib import Path

from llmrec.artifacts import atomic_write_figure

__all__ = ["ORDERS", "epsilon", "plot_privacy"]

#: Rényi orders the accountant tries (Opacus's default set, with orders closer to 1 for tiny noise).
ORDERS = [1 + x / 100.0 for x in range(1, 10)] + [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))


def epsilon(noise_multiplier: float, rounds: int, delta: float) -> float:
    """The epsilon of ``rounds`` rounds at ``noise_multiplier`` with every client in every round, at
    ``delta`` (``inf`` without noise)."""
    if noise_multiplier <= 0:
        return math.inf
    from opacus.accountants.analysis import rdp

    spent = rdp.compute_rdp(q=1.0, noise_multiplier=noise_multiplier, steps=rounds, orders=ORDERS)
    eps, _ = rdp.get_privacy_spent(orders=ORDERS, rdp=spent, delta=delta)
    return float(eps)


def plot_privacy(results: dict, path: str | Path) -> Path:
    """recall@20 of each private run against its epsilon (log scale), per split, with the non-private
    federated run and the centralised model as horizontal lines; written atomically as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models, cfg = results["models"], results["config"]
    private = sorted((m for m in models.values() if m.get("dp")), key=lambda m: m["dp"]["epsilon"])
    splits = [s for s in ("validation", "test") if private and s in private[0]["metrics"]]
    fig, axes = plt.subplots(1, len(splits), figsize=(6 * len(splits), 4.2), squeeze=False)
    for ax, split in zip(axes[0], splits):
        x = [m["dp"]["epsilon"] for m in private]
        y = [m["metrics"][split]["recall@20"] for m in private]
        ax.plot(x, y, marker="o", label=f"private, {cfg['dp_clients']} IID clients")
        for m in private:
            ax.annotate(f"z={m['dp']['noise']:g}", (m["dp"]["epsilon"], m["metrics"][split]["recall@20"]),
                        textcoords="offset points", xytext=(4, 4), fontsize=8)
        plain = models.get(f"iid-{cfg['dp_clients']}")
        if plain is not None:
            ax.axhline(plain["metrics"][split]["recall@20"], color="tab:green", linestyle="--",
                       label="non-private federated")
        ax.axhline(models["central"]["metrics"][split]["recall@20"], color="tab:gray", linestyle=":",
                   label="centralised")
        ax.set_xscale("log")
        ax.set_xlabel(f"epsilon (delta = {cfg['dp_delta']:g}, per client, {cfg['rounds']} rounds)")
        ax.set_ylabel(f"recall@20 ({split})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Federated collaborative channel: privacy against accuracy")
    fig.tight_layout()
    return atomic_write_figure(fig, path)
