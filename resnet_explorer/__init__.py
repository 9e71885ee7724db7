"""resnet_explorer: build, probe and watch residual networks (He et al. 2015) in JupyterLab.

The public API, in the order a lesson meets it::

    import resnet_explorer as rx
    model = rx.build_model(56, shortcut="A")     # ResNet-56; shortcut="none" gives plain-56
    rx.count_params(model), rx.count_flops(model, (3, 32, 32))
    rx.describe(model, (3, 32, 32))              # per-block table
"""

from .counting import count_flops, count_params, describe
from .data import DATASET_NAMES, CorruptDatasetError, Dataset, DatasetNotFoundError, load_dataset
from .device import default_device
from .environment_check import check_environment, fast_mode
from .models import ModelConfig, ResNet, build_model
from .torchvision_compat import from_torchvision

__all__ = [
    "DATASET_NAMES",
    "CorruptDatasetError",
    "Dataset",
    "DatasetNotFoundError",
    "check_environment",
    "fast_mode",
    "load_dataset",
    "ModelConfig",
    "ResNet",
    "build_model",
    "count_flops",
    "count_params",
    "default_device",
    "describe",
    "from_torchvision",
]
__version__ = "0.1.0"
