"""The network's contract: (batch, window) raw samples in, (batch, n_classes) logits out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.evaluate import shift_tumor_probs
from model.network import NetConfig, SeizureNet, count_parameters


@pytest.mark.parametrize("spectral", [True, False], ids=["spectral", "no-spectral"])
@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_forward_shape(spectral: bool, batch: int, mode: str) -> None:
    torch.manual_seed(0)
    net = SeizureNet(NetConfig(spectral=spectral))
    net.train(mode == "train")
    x = 60.0 * torch.randn(batch, 120)
    out = net(x)
    assert out.shape == (batch, 3)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("window", [16, 64, 178])
def test_other_window_lengths_and_class_counts(window: int) -> None:
    net = SeizureNet(NetConfig(window=window, n_classes=5, bidirectional=False)).eval()
    assert net(torch.randn(4, window)).shape == (4, 5)


def test_spectral_branch_changes_the_model() -> None:
    """Without it the head is smaller; with it the spectrum reaches the output."""
    with_spec, without = SeizureNet(NetConfig(spectral=True)), SeizureNet(NetConfig(spectral=False))
    assert count_parameters(with_spec) > count_parameters(without)
    assert without.spec is None and with_spec.spec is not None


def test_flat_and_huge_windows_give_finite_logits() -> None:
    """A disconnected electrode (flat line) or a clipped amplifier must not produce NaN."""
    net = SeizureNet().eval()
    x = torch.stack([torch.zeros(120), torch.full((120,), 2047.0), 1e6 * torch.randn(120)])
    assert torch.isfinite(net(x)).all()


def test_scaler_statistics_are_saved_with_the_weights() -> None:
    net = SeizureNet()
    net.set_scaler(1.5, 60.0, 3.0, 0.7)
    restored = SeizureNet()
    restored.load_state_dict(net.state_dict())
    assert restored.scale.tolist() == pytest.approx([1.5, 60.0, 3.0, 0.7])


def test_the_scaler_is_applied_inside_the_model() -> None:
    """Raw samples in: shifting input and scaler mean together leaves the output unchanged."""
    torch.manual_seed(0)
    net = SeizureNet().eval()
    net.set_scaler(0.0, 50.0, 3.5, 0.8)
    x = 50.0 * torch.randn(5, 120)
    before = net(x)
    net.set_scaler(1000.0, 50.0, 3.5, 0.8)
    torch.testing.assert_close(net(x + 1000.0), before, rtol=1e-4, atol=1e-4)


def test_parameter_count_is_small() -> None:
    """Under 500k parameters: the live worker runs it on a laptop CPU several times a second."""
    assert 10_000 < count_parameters(SeizureNet()) < 500_000


@pytest.mark.parametrize("window", [0, 8, 15])
def test_too_short_window_is_rejected(window: int) -> None:
    with pytest.raises(ValueError, match="window"):
        SeizureNet(NetConfig(window=window))


def test_config_round_trips_through_a_dict() -> None:
    config = NetConfig(conv_channels=(8, 16), downsample=16, hidden=12, spectral=False)
    assert NetConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("downsample", [4, 8, 16])
def test_the_front_end_shortens_the_sequence_by_downsample(downsample: int) -> None:
    net = SeizureNet(NetConfig(downsample=downsample)).eval()
    assert net.front(torch.randn(2, 3, 120)).shape == (2, 64, 120 // downsample)
    assert net(60.0 * torch.randn(2, 120)).shape == (2, 3)


def test_a_config_without_downsample_is_the_4x_front_end() -> None:
    """Checkpoints older than the field were made with the 4x front-end. Its extra pooling has
    no weights, so a newer default would load them without an error and run them wrong."""
    old = NetConfig(downsample=8).to_dict()
    del old["downsample"]
    assert NetConfig.from_dict(old).downsample == 4


@pytest.mark.parametrize("downsample", [2, 6, 128, 8.0])
def test_a_bad_downsample_is_rejected(downsample) -> None:
    with pytest.raises(ValueError, match="downsample"):
        SeizureNet(NetConfig(downsample=downsample))


def test_the_tumor_bias_moves_tumor_against_normal_at_inference_only() -> None:
    """Seizure's probability (what alerts run on) stays; tumor:normal odds grow by e^bias."""
    torch.manual_seed(0)
    plain = SeizureNet(NetConfig(tumor_bias=0.0))
    biased = SeizureNet(NetConfig(tumor_bias=0.7))
    biased.load_state_dict(plain.state_dict())
    x = 60.0 * torch.randn(6, 120)
    plain.eval(), biased.eval()
    p, q = torch.softmax(plain(x), 1), torch.softmax(biased(x), 1)
    torch.testing.assert_close(q[:, 0], p[:, 0])
    torch.testing.assert_close(q[:, 1] / q[:, 2], np.exp(0.7) * p[:, 1] / p[:, 2])
    # The numpy form the CV table uses gives the same probabilities.
    np.testing.assert_allclose(shift_tumor_probs(p.detach().numpy(), 0.7),
                               q.detach().numpy(), rtol=1e-5, atol=1e-6)
    # Training sees the raw logits (the loss is not bent by the decision rule).
    plain.train(), biased.train()
    torch.manual_seed(1)
    a = plain(x)
    torch.manual_seed(1)
    torch.testing.assert_close(biased(x), a)


def test_a_tumor_bias_needs_the_three_classes() -> None:
    with pytest.raises(ValueError, match="tumor_bias"):
        SeizureNet(NetConfig(n_classes=5, tumor_bias=0.5))
