"""Signal-quality checks of a window: what must never be classified, let alone alerted on."""

from __future__ import annotations

import numpy as np

#: Largest |sample| seen in training is 2047 (the Bonn data are 12-bit); far beyond that the
#: units are wrong (microvolts sent as volts scaled up, say) and the model would guess.
MAX_ABS = 10_000.0
#: Below this std (dataset units, about microvolts) a channel is flat: a loose electrode, or
#: volts sent as microvolts. The smallest window std in the training data is about 7.
MIN_STD = 0.5
#: Fraction of a window pinned at its own extreme that counts as clipping.
CLIP_FRACTION = 0.1


def check_windows(x: np.ndarray) -> list[str | None]:
    """Per row of (n_channels, window): None if fine, else the reason it is not classified.

    Vectorised over channels: at 512 channels a per-row loop cost more than the model.
    """
    finite = np.isfinite(x).all(axis=1)
    safe = np.where(finite[:, None], x, 0.0)
    std = safe.std(axis=1)
    peak = np.abs(safe).max(axis=1)
    hi, lo = safe.max(axis=1, keepdims=True), safe.min(axis=1, keepdims=True)
    pinned = np.maximum((safe == hi).sum(axis=1), (safe == lo).sum(axis=1))
    out: list[str | None] = []
    for ok, s, p, n in zip(finite, std, peak, pinned, strict=True):
        if not ok:
            out.append("NaN or inf samples")
        elif s < MIN_STD:
            out.append(f"flat signal (std {s:.3g})")
        elif p > MAX_ABS:
            out.append(f"amplitude {p:.3g} far outside the training range (wrong units?)")
        elif n >= CLIP_FRACTION * x.shape[1]:
            out.append("clipping")
        else:
            out.append(None)
    return out
