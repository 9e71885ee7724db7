"""A race set beside He et al. 2016's Tables 1 and 2: the paper's numbers per unit, the pairs it
ranks, which a race reproduces and which its seeds separate."""

from __future__ import annotations

import math

import pytest

from resnet_explorer.history import History
from resnet_explorer.paper_comparison import FAILED, compare_with_paper, paper_error, paper_table, table_runs
from resnet_explorer.shipped_races import load_race


@pytest.mark.parametrize("config, expected", [
    (dict(depth=56), 6.61),
    (dict(depth=56, preact=True), 6.37),
    (dict(depth=56, activation_order="bn_after_add"), 8.17),
    (dict(depth=56, activation_order="relu_preact"), 6.71),
    (dict(depth=56, shortcut_variant="exclusive_gate"), 8.70),
    (dict(depth=56, shortcut_variant="scale_both"), 12.35),
    (dict(depth=56, shortcut_variant="scale_shortcut"), FAILED),
    (dict(depth=56, shortcut_variant="dropout_shortcut"), FAILED),
    (dict(depth=56, shortcut_variant="scale_branch"), None),  # not in the paper
    (dict(depth=56, stochastic_depth=0.5), None),  # Huang et al., not He 2016
    (dict(depth=56, shortcut="none"), None),  # a plain net has no unit
    (dict(depth=56, shortcut_variant="exclusive_gate", activation_order="bn_after_add"), None),
])
def test_each_unit_gets_the_papers_resnet110_error(config, expected):
    assert paper_error(config) == expected


def test_the_original_unit_is_in_both_tables_and_stochastic_depth_in_neither():
    histories = (_runs("ResNet-56 (A)", dict(depth=56), [0.2])
                 + _runs("g", dict(depth=56, shortcut_variant="exclusive_gate"), [0.2])
                 + _runs("p", dict(depth=56, preact=True), [0.2])
                 + _runs("s", dict(depth=56, stochastic_depth=0.5), [0.2]))
    assert [paper_table(h.config) for h in histories] == [(1, 2), (1,), (2,), ()]
    assert [h.model_name for h in table_runs(histories, 1)] == ["ResNet-56 (A)", "g"]
    assert [h.model_name for h in table_runs(histories, 2)] == ["ResNet-56 (A)", "p"]
    with pytest.raises(ValueError, match="Table 1 .* and Table 2 .*, not 3"):
        table_runs(histories, 3)


def _runs(model_name, config, test_errors, statuses=None):
    statuses = statuses or ["finished"] * len(test_errors)
    return [History(model_name=model_name, config=config, setup={"seed": seed}, steps=[1],
                    train_error=[error], eval_steps=[1], test_error=[error], train_subset_error=[error - 0.01],
                    status=status)
            for seed, (error, status) in enumerate(zip(test_errors, statuses))]


def test_pairs_are_ranked_by_the_mean_and_separated_only_when_the_seeds_ranges_are_apart():
    histories = (_runs("ResNet-56 (A), pre-act", dict(depth=56, preact=True), [0.20, 0.30])
                 + _runs("ResNet-56 (A)", dict(depth=56), [0.22, 0.24])
                 + _runs("ResNet-56 (A), exclusive gating", dict(depth=56, shortcut_variant="exclusive_gate"),
                         [0.40, 0.45])
                 + _runs("ResNet-56 (A), stochastic depth 0.5", dict(depth=56, stochastic_depth=0.5), [0.3, 0.3]))
    comparison = compare_with_paper(histories)
    assert [net.unit for net in comparison.nets] == ["original", "pre-act", "exclusive gating"]  # ours, best first
    assert comparison.left_out == ["ResNet-56 (A), stochastic depth 0.5"]
    pairs = {(pair.better.unit, pair.worse.unit): pair for pair in comparison.pairs}
    assert set(pairs) == {("pre-act", "original"), ("pre-act", "exclusive gating"), ("original", "exclusive gating")}
    assert not pairs["pre-act", "original"].reproduced  # means 0.25 vs 0.23
    assert pairs["pre-act", "exclusive gating"].reproduced and pairs["pre-act", "exclusive gating"].separated
    assert pairs["original", "exclusive gating"].separated
    report = comparison.report()
    assert "pairs in the paper's order: 2 of 3, 2 of them with the seeds' ranges apart" in report
    assert "not reproduced: original beat pre-act" in report
    assert "ResNet-56 (A), pre-act" in report and "0.250 (0.200-0.300)" in report and "6.37%" in report


def test_a_net_that_diverged_in_one_seed_counts_as_failed_and_ranks_last():
    histories = (_runs("ResNet-56 (A), 1x1 conv shortcut", dict(depth=56, shortcut_variant="conv_shortcut"),
                       [0.10, 0.12], ["diverged", "finished"])
                 + _runs("ResNet-56 (A), shortcut scaled 0.5", dict(depth=56, shortcut_variant="scale_shortcut"),
                         [0.35, 0.36]))
    comparison = compare_with_paper(histories)
    conv = comparison.nets[-1]
    assert conv.failed and conv.ranked_error == math.inf and conv.test_mean == pytest.approx(0.11)
    (pair,) = comparison.pairs  # the paper: 12.22% beats "fail"
    assert pair.better is conv and not pair.reproduced and not pair.separated
    assert "diverged in 1 of 2 seeds" in comparison.report() and "fails (> 20%)" in comparison.report()


def test_a_race_with_nothing_from_the_paper_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="needs the runs of a race"):
        compare_with_paper([])
    with pytest.raises(ValueError, match=r"none of the race's nets \(plain-20\) is a unit of He 2016"):
        compare_with_paper(_runs("plain-20", dict(depth=20, shortcut="none", stochastic_depth=0.5), [0.2]))


def test_the_shipped_race_has_every_unit_with_three_seeds_and_its_pairs():
    comparison = compare_with_paper(load_race("identity_mappings").histories)
    assert all(sorted(net.seeds) == [0, 1, 2] for net in comparison.nets)
    assert len(comparison.nets) == 11  # Tables 1 and 2 as the builder has them (the original once)
    ranked = [(a, b) for a in comparison.nets for b in comparison.nets if a.paper_error < b.paper_error]
    assert len(comparison.pairs) == len(ranked)
    assert all(pair.reproduced for pair in comparison.separated)
