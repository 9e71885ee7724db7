"""A race of He et al. 2016's units set beside the paper's Tables 1 and 2.

He et al. 2016 ("Identity Mappings in Deep Residual Networks") report the CIFAR-10 test error of
ResNet-110 for each shortcut variant (Table 1) and each activation order (Table 2); "fail" means
above 20%. A brief race on our data (lesson 12, ``data/races/identity_mappings.json``) is far
from that setting, so what it can say is which of the paper's *orderings* it reproduces:

    race = rx.load_race("identity_mappings")
    comparison = compare_with_paper(race.histories)
    print(comparison.report())        # our errors beside the paper's; the pairs, reproduced or not
    table_runs(race.histories, 1)     # the runs of Table 1's units (the shortcuts), for a figure
    comparison.pairs[0].reproduced

A pair is two nets the paper ranks (a lower error than b). The race reproduces it when its mean
test error over the seeds ranks them the same way, and *separates* them when every seed of the
better net beats every seed of the worse one (the seeds' ranges do not overlap): a pair that is
reproduced but not separated could have come out either way. A net that diverged in any seed
counts as failed, as the paper's "fail", and ranks below every net that did not.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .history import History, runs_by_net
from .options import ACTIVATION_ORDERS, SHORTCUT_VARIANTS

#: The paper's "fail" (over 20% test error), and a net of ours that diverged.
FAILED = math.inf


def _unit(config: Mapping) -> tuple[str, str] | None:
    """``(shortcut_variant, activation_order)`` of the residual unit ``config`` (``build_model``
    arguments) describes, or ``None`` for a net without such a unit in He 2016 (a plain or dense
    net, stochastic depth)."""
    if config.get("stochastic_depth") or config.get("shortcut") in ("none", "dense"):
        return None
    return (config.get("shortcut_variant", "original"),
            config.get("activation_order") or ("full_preact" if config.get("preact") else "original"))


def paper_error(config: Mapping) -> float | None:
    """He 2016's CIFAR-10 test error (%) of ResNet-110 with the unit ``config`` (``build_model``
    arguments) describes: ``FAILED`` for the paper's "fail", ``None`` where the paper has no such
    unit (a plain or dense net, stochastic depth, the branch scaled alone, a shortcut variant with
    another order)."""
    unit = _unit(config)
    if unit is None or "original" not in unit:
        return None
    variant, order = unit
    text = (ACTIVATION_ORDERS[order].paper_error.split(" / ")[0] if variant == "original"
            else SHORTCUT_VARIANTS[variant].paper_error)
    if text == "fail":
        return FAILED
    try:
        return float(text)
    except ValueError:  # "not in the paper"
        return None


@dataclass
class NetResult:
    """One net of the race over its seeds, and the paper's number for its unit."""

    model_name: str
    seeds: list[int]
    train_errors: list[float]  # the final training error of each seed
    test_errors: list[float]
    statuses: list[str]  # "finished" or "diverged", per seed
    paper_error: float | None  # percent; FAILED for the paper's "fail"

    @property
    def unit(self) -> str:
        """The unit without the net: ``"ResNet-56 (A), exclusive gating"`` -> ``"exclusive gating"``."""
        return self.model_name.split(", ", 1)[1] if ", " in self.model_name else "original"

    @property
    def failed(self) -> bool:
        """Diverged in at least one seed."""
        return "diverged" in self.statuses

    @property
    def train_mean(self) -> float:
        return statistics.fmean(self.train_errors)

    @property
    def test_mean(self) -> float:
        return statistics.fmean(self.test_errors)

    @property
    def ranked_error(self) -> float:
        """What the ordering compares: the mean test error, or ``FAILED``."""
        return FAILED if self.failed else self.test_mean


@dataclass
class PairResult:
    """Two nets the paper ranks, ``better`` below ``worse``, and what the race says of them."""

    better: NetResult
    worse: NetResult
    reproduced: bool  # the race ranks them as the paper does
    separated: bool  # ... and the seeds' ranges do not overlap (or only the worse failed)


@dataclass
class PaperComparison:
    """The race's nets that the paper has, best first by the race, and every pair the paper ranks."""

    nets: list[NetResult]
    pairs: list[PairResult]
    left_out: list[str]  # nets of the race the paper's tables do not have

    @property
    def reproduced(self) -> list[PairResult]:
        return [pair for pair in self.pairs if pair.reproduced]

    @property
    def separated(self) -> list[PairResult]:
        return [pair for pair in self.pairs if pair.separated]

    def report(self) -> str:
        """A table of the nets, ours best first, beside the paper's error and rank; the pairs."""
        width = max(len(net.model_name) for net in self.nets)
        lines = [f"{'net, best first':<{width}}  {'seeds':<6} {'training error':>14}  {'test error (range)':>19}"
                 "   He 2016 (rank)"]
        for net in self.nets:
            rank = 1 + sum(other.paper_error < net.paper_error for other in self.nets)
            paper = "fails (> 20%)" if net.paper_error == FAILED else f"{net.paper_error:.2f}%"
            lines.append(f"{net.model_name:<{width}}  {','.join(map(str, net.seeds)):<6} {net.train_mean:14.3f}  "
                         f"{net.test_mean:.3f} ({min(net.test_errors):.3f}-{max(net.test_errors):.3f})   "
                         f"{paper} ({rank})")
        lines += [f"{net.unit}: diverged in {net.statuses.count('diverged')} of {len(net.statuses)} seeds, "
                  "so it counts as failed" for net in self.nets if net.failed]
        lines += ["", f"pairs in the paper's order: {len(self.reproduced)} of {len(self.pairs)}, "
                      f"{len(self.separated)} of them with the seeds' ranges apart"]
        lines += [f"  not reproduced: {pair.worse.unit} beat {pair.better.unit}"
                  for pair in self.pairs if not pair.reproduced]
        if self.left_out:
            lines.append(f"not in the paper's tables: {', '.join(self.left_out)}")
        return "\n".join(lines)


def paper_table(config: Mapping) -> tuple[int, ...]:
    """The tables of He 2016 that have the unit ``config`` describes: ``(1,)`` for a shortcut
    variant (Table 1), ``(2,)`` for an activation order (Table 2), ``(1, 2)`` for the original
    unit, which is in both, and ``()`` for a unit the paper does not have."""
    if paper_error(config) is None:
        return ()
    variant, order = _unit(config)
    if variant != "original":
        return (1,)
    return (2,) if order != "original" else (1, 2)


def table_runs(histories: Sequence[History], table: int) -> list[History]:
    """The runs of a race whose units are in He 2016's Table ``table`` (1: shortcuts, 2: orders)."""
    if table not in (1, 2):
        raise ValueError(f"He 2016 has Table 1 (shortcut variants) and Table 2 (activation orders), not {table!r}")
    return [history for history in histories if table in paper_table(history.config)]


def compare_with_paper(histories: Sequence[History]) -> PaperComparison:
    """Group a race's runs by net, set each beside the paper's number, and rank every pair.

    ``histories``: the runs of a race (``load_race(...).histories``), one per net and seed.
    """
    if not histories:
        raise ValueError("compare_with_paper needs the runs of a race (History objects); got none")
    grouped = runs_by_net(histories)
    nets, left_out = [], []
    for model_name, runs in grouped.items():
        error = paper_error(runs[0].config)
        if error is None:
            left_out.append(model_name)
            continue
        nets.append(NetResult(model_name, [run.setup.get("seed") for run in runs],
                              [run.final_train_error for run in runs], [run.final_test_error for run in runs],
                              [run.status for run in runs], error))
    if not nets:
        raise ValueError(f"none of the race's nets ({', '.join(grouped)}) is a unit of He 2016's Tables 1 and 2")
    nets.sort(key=lambda net: net.ranked_error)
    pairs = [_pair(better, worse) for better in nets for worse in nets if better.paper_error < worse.paper_error]
    return PaperComparison(nets, pairs, left_out)


def _pair(better: NetResult, worse: NetResult) -> PairResult:
    reproduced = better.ranked_error < worse.ranked_error
    if better.failed or worse.failed:
        separated = reproduced
    else:
        separated = max(better.test_errors) < min(worse.test_errors)
    return PairResult(better, worse, reproduced, separated)
