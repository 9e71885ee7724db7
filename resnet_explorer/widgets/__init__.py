"""Widgets: explorers that compose builders, probes and figures, and own all UI state.

- ``ArchitectureExplorer``: depth, shortcut, BN, activation, init, pre-activation; the net's
  diagram, counts, gradient flow and layer responses at initialization, updated in place.
- ``Explorer``, ``save_scenario``, ``load_scenario``: the shared state mechanism; teachers save
  an explorer's settings (and which controls students see) to a small JSON file.
"""

from .architecture_explorer import ArchitectureExplorer
from .attribution_explorer import AttributionExplorer
from .training_race import TrainingRace
from .scenarios import Explorer, InvalidStateError, load_scenario, save_scenario

__all__ = ["ArchitectureExplorer", "AttributionExplorer", "Explorer", "InvalidStateError", "load_scenario", "save_scenario", "TrainingRace"]
