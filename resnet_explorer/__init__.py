"""resnet_explorer: build, probe and watch residual networks (He et al. 2015) in JupyterLab.

The public API, in the order a lesson meets it::

    import resnet_explorer as rx
    model = rx.build_model(56, shortcut="A")      # ResNet-56; shortcut="none" gives plain-56
    rx.count_params(model), rx.count_flops(model, (3, 32, 32))
    data = rx.load_dataset(image_size=16)         # Fashion-MNIST, shipped, offline
    history = rx.train(model, data)               # brief CPU schedule; History of the run
    deeper = rx.deepen(model, 110)                # the same function with identity blocks added
    rx.race_results()                             # lesson 02's race at once: cached or shipped runs
    rx.layer_responses(model, data.test_images[:256])        # Fig. 7
    rx.gradient_flow(model, images, labels)                  # per-layer gradient norms
    rx.build_model(56, shortcut_variant="exclusive_gate")    # He et al. 2016's variants
    rx.load_race("identity_mappings")                        # a race run once and shipped
    rx.attribute(model, image, "integrated_gradients")       # captum attribution maps
    rx.lesion_study(model, images, labels)                   # why ResNets train: Veit et al. 2016,
    rx.shattered_gradients()                                 # Balduzzi et al. 2017,
    rx.loss_landscape(model, images, labels)                 # Li et al. 2018
    rx.figures.training_curves([history])                     # plotly figures
    from resnet_explorer.widgets import TrainingRace          # ipywidgets explorers

``rx.figures`` and ``rx.widgets`` are imported on first use, so that models and probes load
without plotly and ipywidgets.
"""

import importlib

from .attribution import Attribution, attribute, load_image
from .checkpoints import checkpoint_info, list_checkpoints, load_checkpoint
from .counting import count_flops, count_params, describe
from .deepen import deepen
from .data import DATASET_NAMES, CorruptDatasetError, Dataset, DatasetNotFoundError, load_dataset
from .device import default_device
from .environment_check import check_environment, fast_mode
from .fully_connected import fully_connected_net
from .history import History
from .landscape import LossLandscape, loss_landscape
from .lesion import LesionStudy, lesion_study, lesioned
from .models import ModelConfig, ResNet, build_model
from .paths import PathGradients, path_gradients
from .race import race_results
from .probes import GradientFlow, LayerResponses, Recorder, gradient_flow, layer_responses
from .run_cache import RunCache
from .sanity import SanityCheckResult, cascading_randomization
from .schedules import Schedule
from .shattering import GradientAlongLine, ShatteredGradients, gradient_along_line, shattered_gradients
from .shipped_races import ShippedRace, load_race
from .speed import thread_policy
from .torchvision_compat import from_torchvision
from .training import compare, train

__all__ = [
    "DATASET_NAMES",
    "Attribution",
    "CorruptDatasetError",
    "Dataset",
    "DatasetNotFoundError",
    "GradientAlongLine",
    "GradientFlow",
    "History",
    "LayerResponses",
    "LesionStudy",
    "LossLandscape",
    "ModelConfig",
    "PathGradients",
    "Recorder",
    "ResNet",
    "RunCache",
    "SanityCheckResult",
    "Schedule",
    "ShatteredGradients",
    "ShippedRace",
    "attribute",
    "build_model",
    "cascading_randomization",
    "check_environment",
    "checkpoint_info",
    "compare",
    "count_flops",
    "count_params",
    "deepen",
    "default_device",
    "describe",
    "fast_mode",
    "from_torchvision",
    "fully_connected_net",
    "gradient_along_line",
    "gradient_flow",
    "layer_responses",
    "lesion_study",
    "lesioned",
    "list_checkpoints",
    "load_checkpoint",
    "load_dataset",
    "load_image",
    "load_race",
    "loss_landscape",
    "path_gradients",
    "race_results",
    "shattered_gradients",
    "thread_policy",
    "train",
]
__version__ = "0.1.0"

_LAZY_SUBPACKAGES = ("figures", "widgets")


def __getattr__(name: str):
    if name in _LAZY_SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'resnet_explorer' has no attribute {name!r}")
