"""Federated averaging in Flower's simulation runtime, for any model whose parameters are named arrays.

:func:`simulate_fedavg` runs a Flower ``ServerApp`` (the ``FedAvgM`` strategy: FedAvg with a server
learning rate and momentum, plain FedAvg at 1 and 0) against ``n_clients`` virtual ``ClientApp`` s on the Ray
backend.  Each round the server sends the current parameters to every client; a client trains them on its own
data (a :class:`ClientTrainer`, which reads that data itself, from where the client keeps it) and replies with
its parameters and its example count; the server averages the replies weighted by the counts and moves the
global model along (average - current) times the server learning rate, with momentum across rounds.  Nothing
else crosses: the strategy records the structure of every reply (:class:`Received`) so a caller, or a test,
can check that only parameter arrays and counts arrived.

Parameters travel as ``{name: ndarray}``; training (and the data) stays in the client's process.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

__all__ = ["ClientTrainer", "FedAvgRun", "Received", "simulate_fedavg", "weighted_mean"]

log = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]
NUM_EXAMPLES = "num-examples"  # the metric FedAvg weights by


class ClientTrainer(Protocol):
    """What a client does with the server's parameters in one round (runs in the client's process; must
    pickle).  Returns its new parameters, the number of examples it trained on and metrics (floats)."""

    def __call__(self, client: int, arrays: Arrays,
                 server_round: int) -> tuple[Arrays, int, dict[str, float]]:
        ...


@dataclass(frozen=True)
class Received:
    """One client reply as the server saw it: its record names, and per record what it held."""

    round: int
    arrays: dict[str, tuple[str, tuple[int, ...]]]  # name -> (dtype, shape) of each parameter array
    metrics: dict[str, float]  # the reply's metric record (the example count, the training loss)
    records: tuple[str, ...]  # every record name in the reply's content
    update_norm: float  # L2 norm of (reply - the parameters sent that round), all arrays together


@dataclass
class FedAvgRun:
    """The outcome of :func:`simulate_fedavg`."""

    arrays: Arrays  # the final global parameters
    received: list[Received] = field(default_factory=list)  # every reply, every round
    train_metrics: dict[int, dict[str, float]] = field(default_factory=dict)  # round -> averaged metrics
    seconds: float = 0.0


def weighted_mean(states: list[Arrays], weights: list[float]) -> Arrays:
    """The FedAvg aggregate: each parameter's mean over ``states`` weighted by ``weights``."""
    if not states or len(states) != len(weights):
        raise ValueError(f"need one weight per state, got {len(states)} states and {len(weights)} weights")
    w = np.asarray(weights, dtype=np.float64) / float(np.sum(weights))
    return {k: sum(wi * s[k].astype(np.float64) for wi, s in zip(w, states)).astype(states[0][k].dtype)
            for k in states[0]}


def _to_record(arrays: Arrays):
    from flwr.app import Array, ArrayRecord

    return ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in arrays.items()})


def _from_record(record) -> Arrays:
    return {k: v.numpy() for k, v in record.items()}


def _client_app(trainer: ClientTrainer, clip: bool = False):
    """A ``ClientApp`` whose train handler runs ``trainer`` on the client's partition; with ``clip``, Flower's
    ``fixedclipping_mod`` clips its update to the norm the DP strategy sends before it leaves the client."""
    from flwr.app import Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.clientapp.mod import fixedclipping_mod

    app = ClientApp(mods=[fixedclipping_mod] if clip else None)

    @app.train()
    def train(msg: Message, context) -> Message:
        client = int(context.node_config["partition-id"])
        server_round = int(msg.content["config"]["server-round"])
        arrays, n, metrics = trainer(client, _from_record(msg.content["arrays"]), server_round)
        reply = RecordDict({"arrays": _to_record(arrays),
                            "metrics": MetricRecord({**metrics, NUM_EXAMPLES: int(n)})})
        return Message(content=reply, reply_to=msg)

    return app


def _recording_strategy(n_clients: int, received: list[Received], server_lr: float = 1.0,
                        server_momentum: float = 0.0, server_optimizer: str = "avgm",
                        server_tau: float = 1e-3, server_beta2: float = 0.99):
    from flwr.serverapp.strategy import FedAdam, FedAvgM

    base = {"avgm": FedAvgM, "adam": FedAdam}[server_optimizer]

    class Recording(base):
        """The server strategy over every client each round, recording the structure of what each reply
        carried."""

        sent: Arrays | None = None  # the parameters of the round being aggregated

        def configure_train(self, server_round: int, arrays, config, grid):
            self.sent = _from_record(arrays)
            return super().configure_train(server_round, arrays, config, grid)

        def aggregate_train(self, server_round: int, replies: Iterable):
            replies, sent = list(replies), self.sent or {}
            for msg in replies:
                if msg.has_error():
                    raise RuntimeError(f"client {msg.metadata.src_node_id} failed in round {server_round}: "
                                       f"{msg.error.reason}")
                content = msg.content
                arrays = {k: (str(v.dtype), tuple(v.shape)) for k, v in content["arrays"].items()}
                metrics = {k: float(v) for k, v in content["metrics"].items()}
                norm = float(np.sqrt(sum(np.sum((v.numpy().astype(np.float64) - sent[k]) ** 2)
                                         for k, v in content["arrays"].items() if k in sent)))
                received.append(Received(server_round, arrays, metrics, tuple(content.keys()), norm))
            return super().aggregate_train(server_round, replies)

    common = {"fraction_train": 1.0, "fraction_evaluate": 0.0, "min_train_nodes": n_clients,
              "min_available_nodes": n_clients}
    if server_optimizer == "adam":  # Reddi et al. 2021: Adam on the averaged update, beta_1 the momentum
        return Recording(**common, eta=server_lr, beta_1=server_momentum, beta_2=server_beta2,
                         tau=server_tau)
    return Recording(**common, server_learning_rate=server_lr, server_momentum=server_momentum)


def simulate_fedavg(initial: Arrays, trainer: ClientTrainer, n_clients: int, rounds: int, *,
                    num_cpus: int = 2, cpus_per_client: float = 1.0,
                    dp: tuple[float, float] | None = None, server_lr: float = 1.0,
                    server_momentum: float = 0.0, server_optimizer: Literal["avgm", "adam"] = "avgm",
                    server_tau: float = 1e-3, server_beta2: float = 0.99) -> FedAvgRun:
    """``rounds`` of FedAvg over ``n_clients`` simulated clients (Flower's simulation runtime on a Ray started
    in-process with ``num_cpus`` CPUs and shut down afterwards), starting from ``initial``.

    ``server_lr`` and ``server_momentum``: the server's step along the averaged update (FedAvgM, Hsu et al.
    2019); 1 and 0 are plain FedAvg.  A server learning rate above 1 makes up for clients that each saw a
    ``1/n_clients`` share of the data: their average moves about as far as one client's steps.
    ``server_optimizer="adam"``: Flower's ``FedAdam`` instead (Reddi et al. 2021, adaptive federated
    optimisation): Adam on the averaged update, ``server_lr`` its step size (eta), ``server_momentum`` its
    beta_1, ``server_tau`` its epsilon (the adaptivity), ``server_beta2`` its beta_2.

    ``dp=(noise_multiplier, clipping_norm)``: central differential privacy with client-side fixed clipping
    (Flower's ``DifferentialPrivacyClientSideFixedClipping``: each client clips its update to the norm, the
    server adds Gaussian noise of standard deviation ``noise_multiplier * clipping_norm / n_clients`` to the
    average)."""
    if n_clients < 1 or rounds < 1:
        raise ValueError(f"need at least one client and one round, got n_clients={n_clients} rounds={rounds}")
    if server_lr <= 0 or not 0 <= server_momentum < 1 or server_tau <= 0:
        raise ValueError(f"need server_lr > 0, 0 <= server_momentum < 1 and server_tau > 0, got {server_lr}, "
                         f"{server_momentum} and {server_tau}")
    if server_optimizer not in ("avgm", "adam"):
        raise ValueError(f"server_optimizer must be 'avgm' or 'adam', got {server_optimizer!r}")
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")  # the simulation never phones home
    from flwr.app import ConfigRecord
    from flwr.serverapp import ServerApp
    from flwr.simulation import run_simulation

    run = FedAvgRun(arrays={})
    strategy = _recording_strategy(n_clients, run.received, server_lr, server_momentum, server_optimizer,
                                   server_tau, server_beta2)
    if dp is not None:
        from flwr.serverapp.strategy import DifferentialPrivacyClientSideFixedClipping

        strategy = DifferentialPrivacyClientSideFixedClipping(
            strategy, noise_multiplier=dp[0], clipping_norm=dp[1], num_sampled_clients=n_clients)
    server = ServerApp()

    @server.main()
    def main(grid, context) -> None:
        result = strategy.start(grid=grid, initial_arrays=_to_record(initial), num_rounds=rounds,
                                train_config=ConfigRecord({}))
        run.arrays = _from_record(result.arrays)
        run.train_metrics = {int(r): dict(m) for r, m in result.train_metrics_clientapp.items()}

    backend = {"init_args": {"num_cpus": num_cpus, "include_dashboard": False},
               "client_resources": {"num_cpus": cpus_per_client, "num_gpus": 0.0}}
    t = time.perf_counter()
    run_simulation(server_app=server, client_app=_client_app(trainer, clip=dp is not None),
                   num_supernodes=n_clients, backend_config=backend)
    run.seconds = time.perf_counter() - t
    if not run.arrays:
        raise RuntimeError("the Flower simulation ended without a global model (see the flwr log above)")
    log.info("fedavg_done clients=%d rounds=%d replies=%d seconds=%.1f", n_clients, rounds,
             len(run.received), run.seconds)
    return run
