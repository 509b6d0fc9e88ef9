"""scripts/compare_targets.py: the measure of how much our targets differ from the original authors'."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DISTILL, NO_SHARED, load_script

from nca_zoo.targets import grid_target

compare_targets = load_script("compare_targets")


def test_a_target_compared_with_itself_has_ratios_of_one_and_no_error():
    target = np.asarray(grid_target("gecko"))
    result = compare_targets.compare(target, target)
    assert result["tv_ratio"] == pytest.approx(1.0) and result["area_ratio"] == pytest.approx(1.0)
    assert result["mse"] == 0.0


def test_more_edges_raise_the_total_variation_ratio_and_not_the_area_ratio():
    flat = np.zeros((8, 8, 4), np.float32)
    flat[2:6, 2:6] = 1.0
    striped = flat.copy()
    striped[2:6, 3, :3] = 0.0  # same alpha, one dark column inside: two more edges per row
    result = compare_targets.compare(striped, flat)
    assert result["tv_ratio"] > 1.0
    assert result["area_ratio"] == pytest.approx(1.0)
    # 4 channels × 4 rows × 2 edges × 2 axes
    assert compare_targets.total_variation(flat) == pytest.approx(4 * 4 * 2 * 2)


def test_targets_of_different_shapes_are_refused_by_name():
    with pytest.raises(ValueError, match="differ in shape"):
        compare_targets.compare(np.zeros((72, 72, 4)), np.zeros((40, 40, 4)))


def test_the_table_covers_the_ten_targets(capsys):
    if not DISTILL.is_dir():
        pytest.skip(NO_SHARED)
    assert compare_targets.main(["--originals", str(DISTILL)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "×" in line]
    assert len(rows) == 10 and rows[5].startswith("| butterfly |")
