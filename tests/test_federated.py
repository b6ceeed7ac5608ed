"""Federated training: client partitions, FedAvg as a weighted mean, and what the server is sent.

The simulations start Ray in-process on 2 CPUs and shut it down (about 15 s each).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from finetune.federated import FederatedConfig, partition_users, user_regions
from finetune.federated_client import (
    CollabClient,
    example_slice,
    load_client_sequences,
    save_client_sequences,
)
from finetune.federated_flower import simulate_fedavg, weighted_mean
from llmrec.errors import ConfigError
from retrieval.collab import CollabConfig, SequenceModel, next_item_examples, train_step

pytest.importorskip("flwr")
pytest.importorskip("ray")


class ConstantClient:
    """Client i returns every parameter filled with i + 1, having trained on 10 * (i + 1) examples."""

    def __call__(self, client, arrays, server_round):
        return {k: np.full_like(v, client + 1.0) for k, v in arrays.items()}, 10 * (client + 1), {}


# -- partitions ----------------------------------------------------------------------------------------------
def test_iid_partition_is_disjoint_covering_balanced_and_seeded():
    users = np.arange(1, 101)
    parts = partition_users(users, 7, "iid", seed=3)
    assert len(parts) == 7
    assert np.array_equal(np.sort(np.concatenate(parts)), users)
    assert {len(p) for p in parts} <= {14, 15}
    assert all(np.array_equal(a, b) for a, b in zip(parts, partition_users(users, 7, "iid", seed=3)))
    assert not all(np.array_equal(a, b) for a, b in zip(parts, partition_users(users, 7, "iid", seed=4)))


def test_region_partition_merges_whole_regions_down_to_the_client_count():
    users = np.arange(12)
    regions = np.array(list("000011223333"), dtype=object)  # sizes 4, 2, 2, 4
    parts = partition_users(users, 3, "region", regions=regions)
    assert sorted(len(p) for p in parts) == [4, 4, 4]
    for p in parts:  # no region is cut in two: each client holds whole regions
        for r in set(regions[p]):
            assert set(users[regions == r]) <= set(p)
    assert sorted(tuple(sorted(set(regions[p]))) for p in parts) == [("0",), ("1", "2"), ("3",)]


def test_region_partition_splits_the_largest_region_for_more_clients():
    users = np.arange(10)
    regions = np.array(list("0000000011"), dtype=object)
    parts = partition_users(users, 3, "region", regions=regions, seed=0)
    assert sorted(len(p) for p in parts) == [2, 4, 4]
    assert np.array_equal(np.sort(np.concatenate(parts)), users)
    assert all(len(set(regions[p])) == 1 for p in parts)  # a split keeps its region


def test_partition_refuses_more_clients_than_users():
    with pytest.raises(ConfigError, match="3 users into 4 clients"):
        partition_users(np.arange(3), 4, "iid")


def test_regions_are_the_first_zip_digit_and_non_numeric_zips_are_their_own_group(tiny):
    profiles = pd.DataFrame({"zip": ["94110", "T8H1N", "02138"]}, index=pd.Index([1, 2, 3], name="user"))
    data = type(tiny)(tiny.interactions, tiny.catalog, tiny.name, {}, profiles)
    assert list(user_regions(data, np.array([1, 2, 3, 4]))) == ["9", "other", "0", "unknown"]
    with pytest.raises(ConfigError, match="zip codes"):
        user_regions(tiny, np.array([1]))


def test_config_names_bad_values():
    with pytest.raises(ConfigError, match=r"\[0\]"):
        FederatedConfig(output="x", clients=[0])
    with pytest.raises(ConfigError, match="rounds"):
        FederatedConfig(output="x", rounds=0)
    assert FederatedConfig(output="x", rounds=1140, rounds_per_pass=380).local_fraction == 1 / 380
    with pytest.raises(ConfigError, match="--rounds-per-pass"):
        FederatedConfig(output="x", rounds=10, rounds_per_pass=5, local_fraction=0.2)
    with pytest.raises(ConfigError, match="whole passes"):
        FederatedConfig(output="x", rounds=10, rounds_per_pass=4)
    with pytest.raises(ConfigError, match="--client-steps"):
        FederatedConfig(output="x", client_steps=1, local_epochs=2)
    with pytest.raises(ConfigError, match="--client-optimizer adamw"):
        FederatedConfig(output="x", client_state=True, client_optimizer="sgd")


def test_client_sequences_round_trip(tmp_path):
    seqs = [np.array([3, 1, 2]), np.array([0]), np.array([5, 4])]
    save_client_sequences(tmp_path / "c.npz", seqs)
    assert [s.tolist() for s in load_client_sequences(tmp_path / "c.npz")] == [s.tolist() for s in seqs]


# -- aggregation ---------------------------------------------------------------------------------------------
def test_weighted_mean_weights_each_state_by_its_example_count():
    states = [{"w": np.array([1.0, 2.0], np.float32)}, {"w": np.array([4.0, 8.0], np.float32)}]
    out = weighted_mean(states, [3, 1])
    assert out["w"].dtype == np.float32
    np.testing.assert_allclose(out["w"], [1.75, 3.5])


def test_flower_fedavg_equals_the_example_weighted_mean_of_the_clients():
    initial = {"w": np.zeros((2, 3), np.float32), "b": np.zeros(3, np.float32)}
    run = simulate_fedavg(initial, ConstantClient(), n_clients=2, rounds=1, num_cpus=2)
    expected = weighted_mean([{k: np.full_like(v, 1.0) for k, v in initial.items()},
                              {k: np.full_like(v, 2.0) for k, v in initial.items()}], [10, 20])
    for k, value in initial.items():
        np.testing.assert_allclose(run.arrays[k], expected[k], rtol=1e-6)
        assert run.arrays[k].shape == value.shape
    assert sorted(r.metrics["num-examples"] for r in run.received) == [10, 20]
    # 9 parameters moved by 1 and by 2: update norms 3 and 6
    assert sorted(r.update_norm for r in run.received) == pytest.approx([3.0, 6.0])


def test_a_server_learning_rate_scales_the_averaged_update_and_momentum_carries_it_to_the_next_round():
    initial = {"w": np.zeros(3, np.float32)}
    run = simulate_fedavg(initial, ConstantClient(), n_clients=2, rounds=1, num_cpus=2, server_lr=2.0)
    np.testing.assert_allclose(run.arrays["w"], 2 * (10 * 1.0 + 20 * 2.0) / 30, rtol=1e-6)
    # round 2 from 5/3: the clients send 1 and 2 again, average 5/3 (pseudo-gradient 0); momentum 0.5 keeps
    # half of round 1's step (-5/3): 5/3 + 0.5 * 5/3
    run = simulate_fedavg(initial, ConstantClient(), n_clients=2, rounds=2, num_cpus=2, server_momentum=0.5)
    np.testing.assert_allclose(run.arrays["w"], 5 / 3 * 1.5, rtol=1e-5)


def test_with_differential_privacy_every_update_is_clipped_before_it_reaches_the_server():
    initial = {"w": np.zeros(4, np.float32)}
    run = simulate_fedavg(initial, ConstantClient(), n_clients=2, rounds=1, num_cpus=2, dp=(0.0, 0.5))
    assert [r.update_norm for r in run.received] == pytest.approx([0.5, 0.5])  # unclipped: 2.0 and 4.0
    np.testing.assert_allclose(np.linalg.norm(run.arrays["w"]), 0.5, rtol=1e-5)  # no noise: their mean


# -- a 2-client federated collaborative channel --------------------------------------------------------------
@pytest.fixture(scope="module")
def collab_run(tmp_path_factory):
    """Two clients, each holding two users' item sequences over 8 items; 2 rounds of FedAvg."""
    store = tmp_path_factory.mktemp("clients")
    rng = np.random.default_rng(0)
    clients = [[rng.integers(0, 8, 12) for _ in range(2)] for _ in range(2)]
    for i, seqs in enumerate(clients):
        save_client_sequences(store / f"client-{i}.npz", seqs)
    config = CollabConfig(dim=4, window=5, epochs=1, batch_size=8, members=1)
    initial = {k: v.numpy() for k, v in SequenceModel(8, config).state_dict().items()}
    run = simulate_fedavg(initial, CollabClient(str(store), 8, config), n_clients=2, rounds=2, num_cpus=2)
    return initial, run


def test_the_server_receives_only_the_models_parameter_arrays_and_example_counts(collab_run):
    initial, run = collab_run
    shapes = {k: (str(v.dtype), v.shape) for k, v in initial.items()}
    assert len(run.received) == 4  # 2 clients x 2 rounds
    for reply in run.received:
        assert reply.records == ("arrays", "metrics")
        assert reply.arrays == shapes  # the model's own arrays, nothing more (no item ids or sequences)
        assert all(dtype == "float32" for dtype, _ in reply.arrays.values())
        assert set(reply.metrics) == {"num-examples"}
        assert reply.metrics["num-examples"] == 22  # 2 users x 11 next-item examples


def test_federated_training_changes_the_global_model(collab_run):
    initial, run = collab_run
    assert set(run.arrays) == set(initial)
    assert not np.allclose(run.arrays["out.weight"], initial["out.weight"])
    model = SequenceModel(8, CollabConfig(dim=4, window=5, members=1))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in run.arrays.items()})  # loads as the model


def test_a_client_keeps_its_optimiser_state_across_rounds_only_when_asked(tmp_path):
    rng = np.random.default_rng(1)
    save_client_sequences(tmp_path / "client-0.npz", [rng.integers(0, 8, 12) for _ in range(2)])
    config = CollabConfig(dim=4, window=5, epochs=1, batch_size=8, members=1)
    arrays = {k: v.numpy() for k, v in SequenceModel(8, config).state_dict().items()}
    fresh = CollabClient(str(tmp_path), 8, config)
    kept = CollabClient(str(tmp_path), 8, config, keep_state=True)
    fresh(0, arrays, 1)
    assert not (tmp_path / "client-0.optimizer.pt").exists()
    kept(0, arrays, 1)
    state = torch.load(tmp_path / "client-0.optimizer.pt", weights_only=True)
    assert {float(s["step"]) for s in state["state"].values()} == {3.0}  # 22 examples / 8: 3 steps
    again, _, _ = kept(0, arrays, 2)
    state = torch.load(tmp_path / "client-0.optimizer.pt", weights_only=True)
    assert {float(s["step"]) for s in state["state"].values()} == {6.0}  # round 2 went on from round 1's
    restart, _, _ = fresh(0, arrays, 2)
    assert not np.allclose(again["out.weight"], restart["out.weight"])  # moments carried over change the step


def test_example_slices_cover_every_example_once_a_pass_and_reshuffle_between_passes():
    seqs = [np.array([3, 1, 2, 7]), np.array([0]), np.array([5, 4, 6])]  # 3 + 0 + 2 examples
    x_all, y_all = next_item_examples(seqs, 3)
    every = sorted(zip(map(tuple, x_all.tolist()), y_all.tolist()))

    def one_pass(first_round):
        parts = [example_slice(seqs, 3, 2, r, seed=4) for r in (first_round, first_round + 1)]
        assert sorted(len(y) for _, y in parts) == [2, 3]
        return [(tuple(xi), yi) for x, y in parts for xi, yi in zip(x.tolist(), y.tolist())]

    first, second = one_pass(1), one_pass(3)
    assert sorted(first) == every and sorted(second) == every
    assert [one_pass(1), one_pass(3)] == [first, second]  # seeded
    assert any(first != one_pass(r) for r in (5, 7, 9))  # a new shuffle each pass


def test_fedsgd_clients_average_to_one_sgd_step_on_the_union_of_their_slices(tmp_path):
    """Two clients, one plain SGD step each on their round-1 slice: the example-weighted mean of their models
    (what FedAvg forms) is one SGD step on both slices together."""
    rng = np.random.default_rng(2)
    own = [[rng.integers(0, 8, 9) for _ in range(2)], [rng.integers(0, 8, 6) for _ in range(3)]]
    for i, seqs in enumerate(own):
        save_client_sequences(tmp_path / f"client-{i}.npz", seqs)
    config = CollabConfig(dim=4, window=5, epochs=1, batch_size=8, members=1, dropout=0.0, lr=0.5)
    model = SequenceModel(8, config)
    arrays = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    client = CollabClient(str(tmp_path), 8, config, fraction=0.5, steps=1, optimizer="sgd")
    replies = [client(i, arrays, 1) for i in (0, 1)]
    assert [n for _, n, _ in replies] == [8, 8]  # half of 16 and of 15 examples
    averaged = weighted_mean([a for a, _, _ in replies], [n for _, n, _ in replies])
    parts = [example_slice(seqs, 5, 2, 1, seed=config.seed + i) for i, seqs in enumerate(own)]
    x, y = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    train_step(model, torch.optim.SGD(model.parameters(), lr=0.5), x, y)
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(averaged[k], v.numpy(), rtol=1e-5, atol=1e-6)


# -- the privacy budget --------------------------------------------------------------------------------------
def test_epsilon_is_the_gaussian_mechanisms_renyi_budget_over_the_rounds():
    import math

    from finetune.federated_privacy import ORDERS, epsilon

    # every client in every round: Renyi DP of order a is rounds * a / (2 z^2); Opacus converts it with
    # eps = rdp - (log delta + log a) / (a - 1) + log((a - 1) / a), the best order
    z, rounds, delta = 1.0, 3, 1e-5
    by_hand = min(rounds * a / (2 * z * z) - (math.log(delta) + math.log(a)) / (a - 1) + math.log((a - 1) / a)
                  for a in ORDERS)
    assert epsilon(z, rounds, delta) == pytest.approx(by_hand, rel=1e-9)
    assert epsilon(2.0, rounds, delta) < epsilon(1.0, rounds, delta) < epsilon(1.0, 10, delta)
    assert epsilon(0.0, rounds, delta) == math.inf


def test_the_privacy_plot_is_a_png_of_every_private_run(tmp_path):
    from finetune.federated_privacy import plot_privacy

    def card(recall, dp=None):
        return {"metrics": {"validation": {"recall@20": recall}}, **({"dp": dp} if dp else {})}

    results = {"config": {"dp_clients": 10, "dp_delta": 1e-5, "rounds": 3},
               "models": {"central": card(0.33), "iid-10": card(0.29),
                          "dp-0.1": card(0.05, {"noise": 0.1, "epsilon": 231.0}),
                          "dp-1": card(0.01, {"noise": 1.0, "epsilon": 9.0})}}
    path = plot_privacy(results, tmp_path / "privacy.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_server_adam_steps_along_the_averaged_update_scaled_by_its_root_mean_square():
    """--server-optimizer adam (Flower's FedAdam): round 1 from 0, the clients' mean update 5/3; with beta_1 0
    the step is eta * d / (sqrt((1 - beta_2) d^2) + tau), bias-corrected by sqrt(1 - beta_2^2)."""
    initial = {"w": np.zeros(3, np.float32)}
    run = simulate_fedavg(initial, ConstantClient(), n_clients=2, rounds=1, num_cpus=2, server_lr=0.5,
                          server_optimizer="adam", server_tau=1e-3)
    d = (10 * 1.0 + 20 * 2.0) / 30
    step = 0.5 * np.sqrt(1 - 0.99 ** 2) * d / (np.sqrt(0.01 * d * d) + 1e-3)
    np.testing.assert_allclose(run.arrays["w"], step, rtol=1e-5)
    with pytest.raises(ValueError, match="server_optimizer"):
        simulate_fedavg(initial, ConstantClient(), n_clients=2, rounds=1, server_optimizer="yogi")
