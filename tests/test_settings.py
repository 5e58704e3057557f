"""The monitor's settings (monitor/settings.py): impossible alert rules are refused."""

from __future__ import annotations

import pytest

from monitor.settings import ClassRule


@pytest.mark.parametrize("rule", [(0.5, 0.6, 1, 1), (1.2, 0.5, 1, 1), (0.5, 0.0, 1, 1),
                                  (0.5, 0.4, -1, 1)])
def test_class_rule_rejects_impossible_thresholds(rule: tuple) -> None:
    with pytest.raises(ValueError, match="alert"):
        ClassRule(*rule)
