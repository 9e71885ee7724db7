"""Image datasets for the lessons, loaded whole into tensors.

On two CPU cores a DataLoader with per-image PIL transforms is slower than the network it feeds,
so every dataset here is loaded once as one standardized float tensor per split; training code
then crops, flips and batches whole tensors.

Three datasets (``DATASET_NAMES``):

- ``"fashion-mnist-mini"`` (the default): 10,000 training and 2,000 test images of the real
  Fashion-MNIST, 1,000 and 200 per class, shipped in the repository as
  ``data/fashion-mnist-mini.npz`` so that every lesson works offline. ``data/README.md`` says how
  it was made.
- ``"fashion-mnist"``: all 60,000 + 10,000 images, read by ``torchvision.datasets.FashionMNIST``
  from ``<root>/FashionMNIST/raw/`` or from Debian's ``dataset-fashion-mnist`` package.
- ``"cifar10"``: the dataset of the paper's Section 4.2, read by ``torchvision.datasets.CIFAR10``
  from ``<root>/cifar-10-batches-py/``. It is not shipped (about 170 MB).

Nothing is downloaded unless ``download=True``, and a download that gets no answer for
``DOWNLOAD_TIMEOUT`` seconds fails as being offline does. Missing files raise
``DatasetNotFoundError`` (a ``FileNotFoundError``) and damaged ones ``CorruptDatasetError`` (a
``ValueError``); both messages name the file and say how to fix it.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import pickle
import shutil
import socket
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple
from urllib.error import URLError

import numpy as np
import torch
import torch.nn.functional as F

from .checks import check_whole_number

DATASET_NAMES: tuple[str, ...] = ("fashion-mnist-mini", "fashion-mnist", "cifar10")

# The repository is installed with `pip install -e .`, so its data/ folder sits beside the package.
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
MINI_FILE_NAME = "fashion-mnist-mini.npz"
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
# Below 8x8 the third stage of a CIFAR-style ResNet (two stride-2 steps) would work on 2x2 maps.
MIN_IMAGE_SIZE = 8
#: Seconds a download (``download=True``) waits for the server to connect or send more bytes.
DOWNLOAD_TIMEOUT = 30.0

_OFFLINE_HINT = ('No download is needed for load_dataset("fashion-mnist-mini"), the default: '
                 "it is shipped in the repository and works offline.")


class DatasetNotFoundError(FileNotFoundError):
    """The files of a dataset are not on disk; the message says where to put them."""


class CorruptDatasetError(ValueError):
    """A dataset file is on disk but damaged; the message names it and says how to replace it."""


@dataclass(repr=False)
class Dataset:
    """Both splits of a dataset as tensors, standardized per channel with the training statistics.

    Standardized inputs (mean 0, standard deviation 1 per channel) are what the paper's nets
    expect (Section 4.2 subtracts the per-pixel mean). ``mean`` and ``std`` are kept, in pixel
    units of [0, 1], so that ``to_display`` can turn images back into pictures.
    """

    name: str
    train_images: torch.Tensor  # float32, (N, C, H, W)
    train_labels: torch.Tensor  # int64, (N,)
    test_images: torch.Tensor  # float32, standardized with the training mean and std
    test_labels: torch.Tensor
    class_names: list[str]
    mean: tuple[float, ...]  # per channel, in [0, 1] pixel units
    std: tuple[float, ...]
    source: str  # where the data came from, and its licence
    # How to make this dataset again: ("load_dataset", its arguments), then each subset,
    # with_classes or validation_split; () for a Dataset made by hand. A cluster worker replays
    # it (``from_recipe``) instead of receiving the tensors.
    recipe: tuple[tuple[str, dict], ...] = ()

    @property
    def in_channels(self) -> int:
        return self.train_images.shape[1]

    @property
    def image_size(self) -> int:
        return self.train_images.shape[2]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_display(self, images: torch.Tensor) -> torch.Tensor:
        """Undo the standardization of (N, C, H, W) or (C, H, W) images: floats in [0, 1] for figures."""
        mean = torch.tensor(self.mean, dtype=images.dtype, device=images.device).view(-1, 1, 1)
        std = torch.tensor(self.std, dtype=images.dtype, device=images.device).view(-1, 1, 1)
        return (images * std + mean).clamp(0.0, 1.0)

    def subset(self, train_size: int | None = None, test_size: int | None = None,
               seed: int = 0) -> Dataset:
        """A class-balanced random subset of each split; ``None`` keeps a split whole.

        The same ``seed`` picks the same images as ``load_dataset(..., train_size=, seed=)``.
        The subset keeps this dataset's mean and std rather than recomputing them, so a model
        sees the same pixels the same way in the subset and in the whole.
        """
        train = _class_balanced_indices(self.train_labels, train_size, seed, 0, "train_size")
        test = _class_balanced_indices(self.test_labels, test_size, seed, 1, "test_size")
        return replace(
            self,
            train_images=self.train_images[train], train_labels=self.train_labels[train],
            test_images=self.test_images[test], test_labels=self.test_labels[test],
            source=f"{self.source}; subset of {len(train)} train / {len(test)} test, seed {seed}",
            recipe=self._then("subset", train_size=train_size, test_size=test_size, seed=seed),
        )

    def with_classes(self, classes: list[int] | tuple[int, ...]) -> Dataset:
        """Only the images of ``classes``, relabelled 0, 1, ... in the order given.

        For transfer learning: pre-train on some classes, fine-tune on the others.
        """
        classes = list(classes)
        unknown = [c for c in classes if isinstance(c, bool) or not isinstance(c, (int, np.integer))
                   or not 0 <= c < self.num_classes]
        if unknown or not classes or len(set(classes)) != len(classes):
            raise ValueError(f"classes must be distinct class indices in 0..{self.num_classes - 1} "
                             f"({', '.join(self.class_names)}); got {classes!r}")
        relabel = torch.full((self.num_classes,), -1, dtype=torch.int64)
        classes = [int(c) for c in classes]
        relabel[classes] = torch.arange(len(classes))

        def pick(images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            keep = relabel[labels] >= 0
            return images[keep], relabel[labels[keep]]

        train_images, train_labels = pick(self.train_images, self.train_labels)
        test_images, test_labels = pick(self.test_images, self.test_labels)
        names = [self.class_names[c] for c in classes]
        return replace(
            self, train_images=train_images, train_labels=train_labels, test_images=test_images,
            test_labels=test_labels, class_names=names,
            source=f"{self.source}; classes {', '.join(names)}",
            recipe=self._then("with_classes", classes=classes),
        )

    def test_image_of(self, class_name: str | int, occurrence: int = 0) -> tuple[torch.Tensor, int]:
        """The ``occurrence``-th test image of a class, and its label: ``(image (C, H, W), label)``.

        ``class_name`` is a name in ``class_names`` ("Sneaker", any letter case) or a class index.
        A lesson that talks about a sneaker picks its image this way, so the text and the picture
        cannot drift apart (a fixed index into ``test_images`` does, when the data changes).
        """
        label = self._class_index(class_name)
        occurrence = check_whole_number("occurrence", occurrence, minimum=0)
        positions = (self.test_labels == label).nonzero().flatten()
        if occurrence >= len(positions):
            raise ValueError(f"{self.name} has {len(positions)} test images of "
                             f"{self.class_names[label]}; occurrence must be below {len(positions)}")
        return self.test_images[int(positions[occurrence])], label

    def _class_index(self, class_name: str | int) -> int:
        if isinstance(class_name, str):
            folded = [name.casefold() for name in self.class_names]
            if class_name.casefold() in folded:
                return folded.index(class_name.casefold())
        elif isinstance(class_name, (int, np.integer)) and not isinstance(class_name, bool) \
                and 0 <= class_name < self.num_classes:
            return int(class_name)
        raise ValueError(f"unknown class {class_name!r}; give a name ({', '.join(self.class_names)}) "
                         f"or an index from 0 to {self.num_classes - 1}")

    def validation_split(self, size: int = 5000, seed: int = 0) -> Dataset:
        """Hold out ``size`` training images (class-balanced) as the test split; train on the rest.

        The paper chose its CIFAR-10 schedule "on a 45k/5k train/val split" (Section 4.2):
        ``load_dataset("cifar10").validation_split(5000)``. The test images are not used. The
        mean and std stay those of the whole training split, as in ``subset``.
        """
        held_out = _class_balanced_indices(self.train_labels, size, seed, 2, "size")
        if len(held_out) == len(self.train_labels):
            raise ValueError(f"size {size} would leave no training images; this training split "
                             f"has {len(held_out)}, so size must be below that")
        kept = torch.ones(len(self.train_labels), dtype=torch.bool)
        kept[held_out] = False
        return replace(
            self,
            train_images=self.train_images[kept], train_labels=self.train_labels[kept],
            test_images=self.train_images[held_out], test_labels=self.train_labels[held_out],
            source=f"{self.source}; {int(kept.sum())} train / {len(held_out)} validation images "
                   f"held out of the training split, seed {seed}",
            recipe=self._then("validation_split", size=size, seed=seed),
        )

    @classmethod
    def from_recipe(cls, recipe: tuple[tuple[str, dict], ...]) -> Dataset:
        """Make a dataset again from its ``recipe`` (``load_dataset`` and the steps after it)."""
        if not recipe or recipe[0][0] != "load_dataset":
            raise ValueError("this dataset has no recipe: it was not made by load_dataset (and "
                             "subset, with_classes or validation_split), so it cannot be made "
                             "again from its name; pass its tensors instead")
        (_, arguments), *steps = recipe
        data = load_dataset(**arguments)
        for operation, step_arguments in steps:
            data = getattr(data, operation)(**step_arguments)
        return data

    def _then(self, operation: str, **arguments) -> tuple[tuple[str, dict], ...]:
        return (*self.recipe, (operation, arguments)) if self.recipe else ()

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train {tuple(self.train_images.shape)}, "
                f"test {tuple(self.test_images.shape)}, {self.num_classes} classes)")


def load_dataset(name: str = "fashion-mnist-mini", root: str | Path | None = None, *,
                 train_size: int | None = None, test_size: int | None = None,
                 image_size: int | None = None, download: bool = False, seed: int = 0) -> Dataset:
    """Load a dataset as standardized tensors, optionally a class-balanced subset, downscaled.

    Args:
        name: one of ``DATASET_NAMES``.
        root: folder with the dataset files; default the repository's ``data/`` folder.
        train_size, test_size: take this many images of each split, as evenly across the classes
            as they allow, chosen at random with ``seed``; ``None`` takes them all.
        image_size: downscale to ``image_size`` x ``image_size`` by averaging pixels (16x16
            trains about 4x faster than 32x32 on the CPU); from 8 up to the native size.
        download: let torchvision fetch ``fashion-mnist`` or ``cifar10`` if they are not on disk.
        seed: picks the subsets; the same seed gives the same images.

    The mean and std are computed after subsetting and resizing, on the training images only.
    """
    if name not in DATASET_NAMES:
        allowed = ", ".join(repr(known) for known in DATASET_NAMES)
        raise ValueError(f"unknown dataset {name!r}; allowed names are {allowed}")
    root = DATA_DIR if root is None else Path(root)
    if image_size is not None:
        _check_int("image_size", image_size)

    if name == "fashion-mnist-mini":
        raw = _load_mini(root)
    elif name == "fashion-mnist":
        raw = _load_fashion_mnist(root, download)
    else:
        raw = _load_cifar10(root, download)

    train = _class_balanced_indices(raw.train_labels, train_size, seed, 0, "train_size")
    test = _class_balanced_indices(raw.test_labels, test_size, seed, 1, "test_size")
    train_images = _to_float(raw.train_images[train], image_size, name)
    test_images = _to_float(raw.test_images[test], image_size, name)

    mean = train_images.mean(dim=(0, 2, 3), keepdim=True)
    std = train_images.std(dim=(0, 2, 3), correction=0, keepdim=True)
    if bool((std == 0).any()):
        raise ValueError(f"the {len(train)} training images of {name} have a channel with one "
                         "constant value, so they cannot be standardized; take more images")
    return Dataset(
        name=name,
        train_images=(train_images - mean) / std,
        train_labels=raw.train_labels[train],
        test_images=(test_images - mean) / std,
        test_labels=raw.test_labels[test],
        class_names=raw.class_names,
        mean=tuple(mean.flatten().tolist()),
        std=tuple(std.flatten().tolist()),
        source=raw.source,
        recipe=(("load_dataset", dict(name=name, root=None if root == DATA_DIR else str(root.resolve()),
                                      train_size=train_size, test_size=test_size,
                                      image_size=image_size, download=download, seed=seed)),),
    )


class _RawData(NamedTuple):
    """A dataset as read from disk: uint8 images (N, C, H, W), int64 labels."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    class_names: list[str]
    source: str


def _check_int(what: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be a whole number, not {value!r}")


def _class_balanced_indices(labels: torch.Tensor, size: int | None, seed: int, stream: int,
                            what: str) -> torch.Tensor:
    """Sorted indices of `size` images spread as evenly over the classes as their counts allow.

    Each class gets size // k images and the first size % k classes one more; a class with too
    few images gives all it has and the others make up the difference. `stream` gives the train
    and test splits their own random numbers, so asking for a test subset leaves the training
    subset unchanged.
    """
    available = len(labels)
    if size is None:
        return torch.arange(available)
    _check_int(what, size)
    if not 1 <= size <= available:
        raise ValueError(f"{what} {size} is not possible: this split has {available} images, "
                         f"so {what} must be from 1 to {available} (or None for all)")
    rng = np.random.default_rng([seed, stream])
    label_array = labels.numpy()
    classes = np.unique(label_array)
    pools = [rng.permutation(np.flatnonzero(label_array == label)) for label in classes]
    taken = [0] * len(classes)
    remaining = size
    while remaining:
        open_classes = [i for i, pool in enumerate(pools) if taken[i] < len(pool)]
        share, extra = divmod(remaining, len(open_classes))
        for rank, i in enumerate(open_classes):
            more = min(share + (rank < extra), len(pools[i]) - taken[i])
            taken[i] += more
            remaining -= more
    chosen = np.concatenate([pool[:count] for pool, count in zip(pools, taken)])
    return torch.from_numpy(np.sort(chosen))


def _to_float(images: torch.Tensor, image_size: int | None, name: str) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 in [0, 1], downscaled by area averaging if asked."""
    pixels = images.contiguous().float().div_(255.0)
    native = images.shape[-1]
    if image_size is None or image_size == native:
        return pixels
    if not MIN_IMAGE_SIZE <= image_size <= native:
        raise ValueError(f"image_size {image_size} is not possible for {name}, whose images are "
                         f"{native}x{native}: images can only be downscaled, so image_size must "
                         f"be from {MIN_IMAGE_SIZE} to {native}")
    return F.interpolate(pixels, size=(image_size, image_size), mode="area")


# ---- fashion-mnist-mini: the subset shipped in the repository ------------------------------------

def _load_mini(root: Path) -> _RawData:
    path = root / MINI_FILE_NAME
    if not path.is_file():
        raise DatasetNotFoundError(
            f"the embedded dataset file {path} is missing. It is part of the resnet_explorer "
            "repository (data/fashion-mnist-mini.npz): use a full clone installed with "
            "`pip install -e .`, restore it with `git checkout -- data/fashion-mnist-mini.npz`, "
            "or rebuild it with `python data/make_fashion_mnist_mini.py` (needs Debian's "
            "dataset-fashion-mnist package).")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        train_images, test_images = arrays["train_images"], arrays["test_images"]
        if train_images.dtype != np.uint8 or train_images.ndim != 3 or test_images.ndim != 3:
            raise ValueError(f"unexpected image arrays {train_images.dtype} {train_images.shape}")
        class_names = [str(class_name) for class_name in arrays["class_names"]]
        _check_consistent(train_images, arrays["train_labels"], test_images, arrays["test_labels"],
                          class_names)
        train_labels = torch.from_numpy(arrays["train_labels"].astype(np.int64))
        test_labels = torch.from_numpy(arrays["test_labels"].astype(np.int64))
    except (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile,
            zlib.error) as error:
        raise CorruptDatasetError(
            f"the embedded dataset file {path} cannot be read ({error}). Restore it with "
            "`git checkout -- data/fashion-mnist-mini.npz` or rebuild it with "
            "`python data/make_fashion_mnist_mini.py`.") from error
    return _RawData(
        train_images=torch.from_numpy(train_images).unsqueeze(1),
        train_labels=train_labels,
        test_images=torch.from_numpy(test_images).unsqueeze(1),
        test_labels=test_labels,
        class_names=class_names,
        source=(f"Fashion-MNIST (Zalando Research, MIT licence): class-balanced subset of "
                f"{len(train_labels)} train / {len(test_labels)} test images in {path}; "
                "see data/README.md"),
    )


def _check_consistent(train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray,
                      test_labels: np.ndarray, class_names: list[str]) -> None:
    """``ValueError`` unless images and labels agree: one integer label per image, each naming a
    class, and the same image size in both splits."""
    for split, images, labels in (("training", train_images, train_labels),
                                  ("test", test_images, test_labels)):
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise ValueError(f"the {split} labels are {labels.dtype} of shape {labels.shape}, "
                             "not one whole number per image")
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} {split} images but {len(labels)} labels")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise ValueError(f"{split} labels from {labels.min()} to {labels.max()}, but "
                             f"{len(class_names)} class names")
    if train_images.shape[1:] != test_images.shape[1:]:
        raise ValueError("the training images are {}x{} but the test images {}x{}".format(
            *train_images.shape[1:], *test_images.shape[1:]))


# ---- fashion-mnist: the whole dataset through torchvision ----------------------------------------

_FASHION_FILES = {  # file name in FashionMNIST/raw -> number of dimensions of its IDX array
    "train-images-idx3-ubyte": 3, "train-labels-idx1-ubyte": 1,
    "t10k-images-idx3-ubyte": 3, "t10k-labels-idx1-ubyte": 1,
}


def _load_fashion_mnist(root: Path, download: bool) -> _RawData:
    from torchvision.datasets import FashionMNIST

    torchvision_root, where = _find_fashion_mnist(root, download)
    try:
        with _download_timeout():
            splits = [FashionMNIST(str(torchvision_root), train=train, download=where is None)
                      for train in (True, False)]
    except (URLError, RuntimeError, OSError) as error:
        if where is not None:
            raise CorruptDatasetError(_fashion_unreadable_message(torchvision_root, error)) from error
        raise DatasetNotFoundError(
            _fashion_missing_message(root, f"downloading failed ({_why_download_failed(error)})")
        ) from error
    except (AssertionError, ValueError, TypeError) as error:
        raise CorruptDatasetError(_fashion_unreadable_message(torchvision_root, error)) from error
    train, test = splits
    return _RawData(
        train_images=train.data.unsqueeze(1), train_labels=train.targets.long(),
        test_images=test.data.unsqueeze(1), test_labels=test.targets.long(),
        class_names=list(train.classes),
        source=f"Fashion-MNIST (Zalando Research, MIT licence) from "
               f"{where or root / 'FashionMNIST' / 'raw'}, read by torchvision.datasets.FashionMNIST",
    )


def _fashion_unreadable_message(torchvision_root: Path, error: Exception) -> str:
    return (f"torchvision could not read the Fashion-MNIST files in "
            f"{torchvision_root / 'FashionMNIST' / 'raw'} ({error!r}). Delete them and copy them "
            "again (Debian's copy: `apt-get install --reinstall dataset-fashion-mnist`).")


def _find_fashion_mnist(root: Path, download: bool) -> tuple[Path, Path | None]:
    """A folder that torchvision's FashionMNIST can read, and where the files really came from.

    The second item is None when the files are nowhere on disk and torchvision must download them.

    torchvision reads uncompressed IDX files from ``<root>/FashionMNIST/raw/``. Files already
    there are used in place; gzipped ones, and Debian's copy (gzipped, in another layout), are
    decompressed once into a cache folder that is laid out the way torchvision expects.
    """
    raw_folder = root / "FashionMNIST" / "raw"
    if all((raw_folder / name).is_file() for name in _FASHION_FILES):
        for name, ndim in _FASHION_FILES.items():
            _check_idx(raw_folder / name, ndim, fix="delete it and copy it again")
        return root, raw_folder
    for source in (raw_folder, DEBIAN_FASHION_MNIST_DIR):
        if all(_idx_source(source, name) for name in _FASHION_FILES):
            return _stage_fashion_mnist(source), source
    if download:
        return root, None
    raise DatasetNotFoundError(_fashion_missing_message(root, "the files were not found"))


def _fashion_missing_message(root: Path, reason: str) -> str:
    raw_folder = root / "FashionMNIST" / "raw"
    names = ", ".join(_FASHION_FILES)
    return (f"Fashion-MNIST: {reason}. Looked in {raw_folder} and {DEBIAN_FASHION_MNIST_DIR} for "
            f"{names} (plain or .gz). To fix: `apt-get install -y dataset-fashion-mnist` (Debian), "
            f"or put the four files in {raw_folder}, or call load_dataset(\"fashion-mnist\", "
            f"root=..., download=True) on a machine that is online (about 30 MB). {_OFFLINE_HINT}")


def _idx_source(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "resnet_explorer"


def _stage_fashion_mnist(source: Path) -> Path:
    """Decompress (or copy) the four files of `source` into a cache folder torchvision can read."""
    tag = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:12]
    staged_root = _cache_dir() / f"fashion-mnist-{tag}"
    raw_folder = staged_root / "FashionMNIST" / "raw"
    try:
        raw_folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatasetNotFoundError(
            f"Fashion-MNIST: cannot write the decompressed copy of {source} to {raw_folder} "
            f"({error.strerror or error}). Set XDG_CACHE_HOME to a folder you can write (it is "
            f"{os.environ.get('XDG_CACHE_HOME') or 'unset, so ~/.cache is used'}), or put the four "
            "files, uncompressed, in <root>/FashionMNIST/raw/.") from error
    for name, ndim in _FASHION_FILES.items():
        original = _idx_source(source, name)
        staged = raw_folder / name
        fix = (f"copy {original} again (Debian's copy: "
               "`apt-get install --reinstall dataset-fashion-mnist`)")
        if staged.exists() and staged.stat().st_mtime >= original.stat().st_mtime:
            try:
                _check_idx(staged, ndim, fix)
                continue
            except CorruptDatasetError:
                pass  # a damaged copy in the cache: make it again below
        partial = staged.with_suffix(".partial")
        try:
            if original.suffix == ".gz":
                with gzip.open(original, "rb") as file_in, open(partial, "wb") as file_out:
                    shutil.copyfileobj(file_in, file_out)
            else:
                shutil.copyfile(original, partial)
        except (OSError, EOFError, zlib.error) as error:
            partial.unlink(missing_ok=True)
            raise CorruptDatasetError(f"Fashion-MNIST file {original} cannot be read ({error}); "
                                      f"{fix}") from error
        os.replace(partial, staged)  # atomic, so an interrupted run leaves no half file
        _check_idx(staged, ndim, f"it was made from {original}; {fix}")
    return staged_root


def _check_idx(path: Path, ndim: int, fix: str) -> None:
    """Check an IDX file's header and length, so a damaged file is named before torchvision reads it."""
    with open(path, "rb") as file:
        header = file.read(4 + 4 * ndim)
    size = path.stat().st_size
    expected = None
    if len(header) == 4 + 4 * ndim and header[:3] == b"\x00\x00\x08" and header[3] == ndim:
        shape = [int.from_bytes(header[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
        expected = 4 + 4 * ndim + int(np.prod(shape))
    if expected != size:
        problem = ("is not an IDX file of unsigned bytes with the right number of dimensions"
                   if expected is None else f"has {size} bytes where its header promises {expected}")
        raise CorruptDatasetError(f"Fashion-MNIST file {path} {problem} (truncated or damaged): "
                                  f"{fix}.")


# ---- cifar10: through torchvision ------------------------------------------------------------------

def _load_cifar10(root: Path, download: bool) -> _RawData:
    from torchvision.datasets import CIFAR10

    folder = root / CIFAR10.base_folder
    expected = [name for name, _ in CIFAR10.train_list + CIFAR10.test_list]
    expected.append(CIFAR10.meta["filename"])
    missing = [name for name in expected if not (folder / name).is_file()]
    if missing and not download:
        raise DatasetNotFoundError(
            f"CIFAR-10 is not in {folder}: missing {', '.join(missing)}. To fix, either put the "
            f"extracted cifar-10-batches-py folder there (`tar xzf cifar-10-python.tar.gz -C "
            f"{root}`), or call load_dataset(\"cifar10\", root={str(root)!r}, download=True) on a "
            f"machine that is online (fetches about 170 MB into {root}). {_OFFLINE_HINT}")
    try:
        # torchvision checks every file's MD5 against the published one as it loads.
        with _download_timeout():
            splits = [CIFAR10(str(root), train=train, download=download) for train in (True, False)]
    except (URLError, RuntimeError, OSError) as error:
        if isinstance(error, URLError) or missing:  # a download was needed and failed
            raise DatasetNotFoundError(
                f"CIFAR-10: downloading into {root} failed ({_why_download_failed(error)}). Copy "
                f"the extracted cifar-10-batches-py folder to {folder} instead. {_OFFLINE_HINT}"
            ) from error
        raise _corrupt_cifar_error(folder, error) from error
    except (pickle.UnpicklingError, EOFError, KeyError, ValueError, TypeError) as error:
        raise _corrupt_cifar_error(folder, error) from error
    train, test = splits
    return _RawData(
        train_images=torch.from_numpy(train.data).permute(0, 3, 1, 2),  # HWC -> CHW, a view
        train_labels=torch.tensor(train.targets, dtype=torch.int64),
        test_images=torch.from_numpy(test.data).permute(0, 3, 1, 2),
        test_labels=torch.tensor(test.targets, dtype=torch.int64),
        class_names=list(train.classes),
        source=f"CIFAR-10 (Krizhevsky 2009) from {folder}, read by torchvision.datasets.CIFAR10",
    )


@contextlib.contextmanager
def _download_timeout():
    """Give every socket opened in the block ``DOWNLOAD_TIMEOUT`` seconds to answer.

    torchvision's downloads call ``urlopen`` without a timeout, so a server that accepts the
    connection and never answers would make them wait forever. The default timeout is the
    process's, set only for the block and restored after.
    """
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _why_download_failed(error: Exception) -> str:
    """Why a download failed, in words: a timeout says so, anything else as it is."""
    reason = getattr(error, "reason", error)
    if isinstance(error, TimeoutError) or isinstance(reason, TimeoutError):
        return f"no answer from the server within {DOWNLOAD_TIMEOUT:g} s"
    return str(error)


def _corrupt_cifar_error(folder: Path, error: Exception) -> CorruptDatasetError:
    """Name the first CIFAR-10 file whose MD5 differs from torchvision's table (else the folder)."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import check_integrity

    table = [*CIFAR10.train_list, *CIFAR10.test_list, [CIFAR10.meta["filename"], CIFAR10.meta["md5"]]]
    bad = next((folder / name for name, md5 in table if not check_integrity(str(folder / name), md5)),
               folder)
    return CorruptDatasetError(
        f"CIFAR-10 file {bad} is damaged ({error}): its checksum or content is not that of the "
        "published file (a partial download or copy?). Delete the folder "
        f"{folder} and download it again with download=True, or copy it again from a good copy.")
