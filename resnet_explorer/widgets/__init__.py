"""Widgets: explorers that compose builders, probes and figures, and own all UI state.

- ``ArchitectureExplorer``: depth, shortcut, BN, activation, init, pre-activation; the net's
  diagram, counts, gradient flow and layer responses at initialization, updated in place.
- ``TrainingRace``: plain nets against ResNets trained live (Figs. 1 and 6); the view of
  ``resnet_explorer.race.RaceRunner``, which trains without any widget.
- ``AttributionExplorer``: captum attribution maps of trained nets.
- ``LesionExplorer``: remove blocks of trained nets (a random draw of k, or by hand) and see
  their test error (Veit et al. 2016).
- ``Explorer``: the base of all of them (state, start-up, one stylesheet in ``look``, status
  lines); ``save_scenario``, ``load_scenario``: teachers save an explorer's settings (and which
  controls students see) to a small JSON file.
"""

from .architecture_explorer import ArchitectureExplorer
from .attribution_explorer import AttributionExplorer
from .explorer import Explorer, InvalidStateError
from .lesion_explorer import LesionExplorer
from .scenarios import load_scenario, save_scenario
from .training_race import TrainingRace

__all__ = ["ArchitectureExplorer", "AttributionExplorer", "Explorer", "InvalidStateError", "LesionExplorer",
           "load_scenario", "save_scenario", "TrainingRace"]
