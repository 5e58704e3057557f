"""The context stage: incremental equals whole-sequence, stored as plain data, grouped stacking,
and a short training on real outputs of the test subset that learns above chance."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from model.checkpoint import Classifier
from model.context import (
    ContextConfig,
    ContextNet,
    ContextRunner,
    ContextTrainConfig,
    Sequence,
    context_from_state,
    context_state,
    predict_sequence,
    train_context,
)
from model.data import BONN_RATE, CLASSES
from model.network import SeizureNet
from model.stacking import (
    Fold,
    check_disjoint,
    check_grouped,
    nested_split,
    oof_sequences,
    session_sequence,
)
from model.train import fit_scaler
from model.windows import grouped_folds


def test_incremental_equals_whole_sequence() -> None:
    """Step by step with the state carried gives the outputs of one pass over the sequence."""
    torch.manual_seed(0)
    net = ContextNet(ContextConfig(hidden=24)).eval()
    seq = torch.log_softmax(3 * torch.randn(2, 300, 3), -1)
    with torch.no_grad():
        whole = net(seq)
        state, steps = None, []
        for i in range(seq.shape[1]):
            out, state = net.step(seq[:, i], state)
            steps.append(out)
    assert torch.allclose(torch.stack(steps, 1), whole, atol=1e-6, rtol=0)


def test_runner_equals_predict_sequence_and_resets() -> None:
    """The monitor-side runner (probabilities in, one window at a time) equals the stage run
    over the whole sequence; after reset() it starts again from zero."""
    torch.manual_seed(1)
    net = ContextNet()
    probs = np.random.default_rng(0).dirichlet([1, 1, 1], size=120).astype(np.float32)
    whole = predict_sequence(net, np.log(probs))
    runner = ContextRunner(net)
    live = np.concatenate([runner.update(p[None]) for p in probs])
    np.testing.assert_allclose(live, whole, atol=1e-6)
    runner.reset()
    np.testing.assert_allclose(runner.update(probs[:1]), whole[:1], atol=1e-6)


def test_state_is_plain_data_that_loads_with_weights_only() -> None:
    """The stage saves as tensors and dicts: torch.load(weights_only=True) reads it back and
    the rebuilt stage gives the same outputs."""
    torch.manual_seed(2)
    net = ContextNet(ContextConfig(hidden=8))
    buf = io.BytesIO()
    torch.save({"context": context_state(net, {"macro_f1": 0.9}, {"folds": 5})}, buf)
    buf.seek(0)
    back = context_from_state(torch.load(buf, weights_only=True)["context"])
    assert back.config == net.config
    x = torch.randn(1, 50, 3)
    with torch.no_grad():
        assert torch.equal(back(x), net.eval()(x))
    with pytest.raises(ValueError, match="do not fit"):
        context_from_state({**context_state(net), "config": ContextConfig(hidden=9).to_dict()})


def test_config_checks() -> None:
    with pytest.raises(ValueError, match="n_inputs"):
        ContextConfig(n_inputs=5)
    with pytest.raises(ValueError, match="hop_s"):
        ContextConfig(hop_s=0)


def _classifier(recordings, ids: list[str]) -> Classifier:
    """A window network (untrained: the split tests are about ids) holding out ``ids``."""
    torch.manual_seed(0)
    net = SeizureNet()
    fit_scaler(net, recordings)
    return Classifier(net.eval(), CLASSES, 120, BONN_RATE,
                      {"training": {"validation_ids": list(ids)}})


@pytest.fixture(scope="module")
def folds(recordings) -> list[Fold]:
    return [Fold(f"fold-{k}", _classifier(recordings, [r.id for r in val]),
                 tuple(r.id for r in val))
            for k, (_, val) in enumerate(grouped_folds(recordings, 4, seed=0))]


def test_session_sequence_follows_the_monitor_grid(recordings, folds) -> None:
    """A window every 17 samples, the first ending at sample 120; its label is the class of
    its last sample, so the first window ending inside the next recording takes its class."""
    recs = [r for r in recordings if r.class_name == "normal"][:1] + \
        [r for r in recordings if r.class_name == "seizure"][:1]
    seq = session_sequence(folds[0].classifier, recs, hop=17)
    n = recs[0].n_samples + recs[1].n_samples
    assert len(seq.y) == (n - 120) // 17 + 1
    last = np.arange(len(seq.y)) * 17 + 119
    np.testing.assert_array_equal(seq.y, np.where(last < recs[0].n_samples, 2, 0))
    # the onset marks the first 3 s (at 173.61 Hz) of the seizure
    starts = last[seq.onset]
    assert starts.min() >= recs[0].n_samples and starts.max() < recs[0].n_samples + 3 * BONN_RATE
    assert seq.ids == (recs[0].id, recs[1].id)


def test_stacking_split_never_puts_a_recording_on_both_sides(recordings, folds) -> None:
    by_fold = oof_sequences(folds, recordings, arrangements=2, seed=0)
    for fold in folds:
        seqs = by_fold[fold.name]
        assert all(set(s.ids) == set(fold.validation_ids) for s in seqs)
        train, test = nested_split(by_fold, fold.name)
        train_ids = {i for s in train for i in s.ids}
        test_ids = {i for s in test for i in s.ids}
        assert not train_ids & test_ids
        assert train_ids | test_ids == {r.id for r in recordings}
    # a leak is refused, naming a recording
    leaked = by_fold[folds[0].name][0]
    with pytest.raises(ValueError, match="both sides"):
        check_grouped([leaked], [leaked.ids[3]])
    with pytest.raises(ValueError, match="held out by both"):
        check_disjoint([folds[0], replace(folds[1], validation_ids=folds[0].validation_ids[:1])])


def test_short_training_learns_above_chance(recordings, classifier) -> None:
    """On real window outputs of the test subset (sequences crossing recording borders), a
    short training on half of the recordings tells the classes apart on the other half far
    better than chance, and better than the same stage untrained."""
    halves = grouped_folds(recordings, 2, seed=1)
    rng = np.random.default_rng(0)

    def sequences(recs, n):
        return [session_sequence(classifier, [recs[i] for i in rng.permutation(len(recs))], 17)
                for _ in range(n)]

    train, test = sequences(halves[0][1], 2), sequences(halves[1][1], 1)
    check_grouped(train, {i for s in test for i in s.ids})
    cfg = ContextTrainConfig(seq_len=200, sequences_per_epoch=64, batch_size=8, epochs=8,
                             lr=1e-2, net=ContextConfig(hidden=8))
    net, info = train_context(train, cfg)
    assert info["history"][-1]["loss"] < info["history"][0]["loss"]

    def macro_f1(n):
        return f1_score(test[0].y, predict_sequence(n, test[0].x).argmax(1), average="macro")

    torch.manual_seed(0)
    untrained = ContextNet(cfg.net)
    trained_f1, untrained_f1 = macro_f1(net), macro_f1(untrained)
    assert trained_f1 > 0.8 and trained_f1 > untrained_f1 + 0.2, (trained_f1, untrained_f1)


def test_training_refuses_sequences_shorter_than_a_crop() -> None:
    seq = Sequence(np.zeros((50, 3), np.float32), np.zeros(50, np.int64), ("a",))
    with pytest.raises(ValueError, match="at least 100 steps"):
        train_context([seq], ContextTrainConfig(seq_len=100, epochs=1))


@pytest.fixture(scope="module")
def with_context(tmp_path_factory, trained_checkpoint):
    """The test checkpoint re-saved with a context stage."""
    from model.checkpoint import load_classifier, save_checkpoint

    clf = load_classifier(trained_checkpoint)
    torch.manual_seed(3)
    stage = ContextNet(ContextConfig(hidden=8))
    path = tmp_path_factory.mktemp("ctx") / "with_context.pt"
    save_checkpoint(path, clf.net, sample_rate=clf.sample_rate,
                    fingerprint=clf.meta.get("data_fingerprint", ""),
                    metrics=clf.meta.get("metrics", {}), training=clf.meta.get("training", {}),
                    context=context_state(stage, {"note": "test"}, {"folds": 5}))
    return path, stage


def test_checkpoint_holds_both_stages(with_context, trained_checkpoint) -> None:
    """One file: the window network unchanged (predict_proba as before) and the context stage
    rebuilt from plain data; a checkpoint without one loads with context None."""
    from model.checkpoint import load_classifier

    path, stage = with_context
    clf, plain = load_classifier(path), load_classifier(trained_checkpoint)
    assert plain.context is None and "context" not in plain.meta
    x = np.random.default_rng(0).normal(0, 50, (4, 120)).astype(np.float32)
    np.testing.assert_array_equal(clf.predict_proba(x), plain.predict_proba(x))
    seq = torch.log_softmax(torch.randn(1, 40, 3), -1)
    with torch.no_grad():
        assert torch.equal(clf.context(seq), stage.eval()(seq))
    assert clf.meta["context"]["metrics"] == {"note": "test"}
    assert "state_dict" not in clf.meta["context"]
    assert path.stat().st_size < 2_000_000


@pytest.mark.parametrize("case", ["tampered", "misfit", "not tensors"])
def test_a_broken_context_stage_is_refused_naming_the_file(with_context, tmp_path, case) -> None:
    from model.checkpoint import CheckpointError, load_classifier, weights_hash

    path, _ = with_context
    ckpt = torch.load(path, weights_only=True)
    ctx = ckpt["context"]
    if case == "tampered":
        ctx["state_dict"]["head.bias"] = ctx["state_dict"]["head.bias"] + 1
    elif case == "misfit":
        ctx["config"]["hidden"] = 9
        ctx["weights_sha256"] = weights_hash(ctx["state_dict"])
    else:
        ctx["state_dict"] = {"head.bias": [0.0, 0.0, 0.0]}
    bad = tmp_path / "bad.pt"
    torch.save(ckpt, bad)
    with pytest.raises(CheckpointError, match=f"^{bad}: .*context stage"):
        load_classifier(bad)


def test_fit_from_folds_trains_on_every_folds_oof_sequences(recordings, folds) -> None:
    from model.stacking import fit_from_folds

    cfg = ContextTrainConfig(seq_len=100, sequences_per_epoch=8, batch_size=8, epochs=1,
                             net=ContextConfig(hidden=4))
    net, info = fit_from_folds(folds, recordings, cfg, arrangements=1)
    assert info["folds"] == [f.name for f in folds] and info["sequences"] == len(folds)
    by_id = {r.id: r for r in recordings}
    assert info["steps"] == sum((sum(by_id[i].n_samples for i in f.validation_ids) - 120) // 17
                                + 1 for f in folds)
    assert isinstance(net, ContextNet)
