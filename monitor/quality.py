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
    """Per row of (n_channels, window): None if fine, else the reason it is not classified."""
    out: list[str | None] = []
    for row in x:
        if not np.all(np.isfinite(row)):
            out.append("NaN or inf samples")
            continue
        std = float(row.std())
        if std < MIN_STD:
            out.append(f"flat signal (std {std:.3g})")
        elif float(np.abs(row).max()) > MAX_ABS:
            out.append(f"amplitude {np.abs(row).max():.3g} far outside the training range "
                       "(wrong units?)")
        elif max(np.count_nonzero(row == row.max()), np.count_nonzero(row == row.min())) \
                >= CLIP_FRACTION * len(row):
            out.append("clipping")
        else:
            out.append(None)
    return out
