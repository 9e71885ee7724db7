"""Tests for resnet_explorer.data: the embedded default, torchvision's loaders on real file formats,
subsets, downscaling and the messages for bad input. No test uses the network."""

from __future__ import annotations

import gzip
import hashlib
import pickle
import socket
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.datasets import CIFAR10

from resnet_explorer import data
from resnet_explorer.data import (
    DATA_DIR,
    DATASET_NAMES,
    CorruptDatasetError,
    Dataset,
    DatasetNotFoundError,
    load_dataset,
)

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                 "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture(scope="module")
def mini() -> Dataset:
    return load_dataset()


@pytest.fixture(scope="module")
def mini_pixels() -> dict[str, np.ndarray]:
    with np.load(DATA_DIR / data.MINI_FILE_NAME) as archive:
        return {key: archive[key] for key in archive.files}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Keep the decompressed Fashion-MNIST copies of these tests out of the user's ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def as_pixels(dataset: Dataset, images: torch.Tensor) -> np.ndarray:
    """Standardized images back to uint8 pixels."""
    return (dataset.to_display(images) * 255).round().to(torch.uint8).numpy()


def class_counts(labels: torch.Tensor) -> list[int]:
    return torch.bincount(labels, minlength=10).tolist()


# ---- file writers for the real on-disk formats -----------------------------------------------------

def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    """An IDX file of unsigned bytes: 0x0000, type 0x08, ndim, big-endian sizes, then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    content = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(content))
    else:
        path.write_bytes(content)


def make_fashion_files(folder: Path, labels_train: np.ndarray, labels_test: np.ndarray,
                       compress: bool = False, seed: int = 0) -> dict[str, np.ndarray]:
    """Fashion-MNIST's four IDX files with random 28x28 images, as torchvision's raw/ folder holds."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (len(labels_train), 28, 28), np.uint8),
        "train-labels-idx1-ubyte": labels_train.astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (len(labels_test), 28, 28), np.uint8),
        "t10k-labels-idx1-ubyte": labels_test.astype(np.uint8),
    }
    for name, array in arrays.items():
        write_idx(folder / name, array, compress)
    return arrays


class Python2Pickler(pickle._Pickler):
    """Writes str and bytes as Python 2 byte strings, as cPickle did when CIFAR-10 was made.

    Read with encoding="latin1" (as torchvision does) the keys are str ("data"); read with
    encoding="bytes" they are b"data": the same as the published files. A NumPy array's pixels
    are a byte string too, as in the published files.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def save_python2_string(self, text: str | bytes) -> None:
        raw = text.encode("latin1") if isinstance(text, str) else text
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(text)

    dispatch[str] = dispatch[bytes] = save_python2_string


def write_python2_pickle(path: Path, obj: object) -> None:
    with open(path, "wb") as file:
        Python2Pickler(file, protocol=2).dump(obj)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def cifar_root(tmp_path, monkeypatch) -> tuple[Path, dict[str, np.ndarray]]:
    """A small CIFAR-10 in its published layout: cifar-10-batches-py/ with six batches and meta.

    torchvision's CIFAR10 compares each file's MD5 with the published ones on every load, so the
    test puts the fixture's MD5s in that table (CIFAR10.train_list, test_list, meta): the load
    then runs through torchvision's own integrity check, exactly as for the real files.
    """
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    batches = {f"data_batch_{i}": 20 for i in range(1, 6)} | {"test_batch": 30}
    pixels, labels = {}, {}
    for name, count in batches.items():
        pixels[name] = rng.integers(0, 256, (count, 3072), np.uint8)
        labels[name] = [int(label) for label in rng.permutation(np.arange(count) % 10)]
        write_python2_pickle(folder / name, {
            "batch_label": f"{name} of a test fixture", "labels": labels[name],
            "data": pixels[name], "filenames": [f"image_{i}.png" for i in range(count)],
        })
    write_python2_pickle(folder / "batches.meta", {
        "num_cases_per_batch": 20, "label_names": CIFAR_CLASSES, "num_vis": 3072,
    })
    monkeypatch.setattr(CIFAR10, "train_list",
                        [[f"data_batch_{i}", md5(folder / f"data_batch_{i}")] for i in range(1, 6)])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5(folder / "test_batch")]])
    monkeypatch.setattr(CIFAR10, "meta", {"filename": "batches.meta", "key": "label_names",
                                          "md5": md5(folder / "batches.meta")})
    train = [f"data_batch_{i}" for i in range(1, 6)]
    return tmp_path, {
        "train_pixels": np.concatenate([pixels[name] for name in train]).reshape(-1, 3, 32, 32),
        "train_labels": np.concatenate([labels[name] for name in train]),
        "test_pixels": pixels["test_batch"].reshape(-1, 3, 32, 32),
        "test_labels": np.array(labels["test_batch"]),
    }


# ---- the embedded default ------------------------------------------------------------------------

def test_default_dataset_loads_offline_with_ten_balanced_classes(mini):
    assert mini.name == "fashion-mnist-mini"
    assert mini.train_images.shape == (10_000, 1, 28, 28)
    assert mini.test_images.shape == (2_000, 1, 28, 28)
    assert mini.train_images.dtype == mini.test_images.dtype == torch.float32
    assert mini.train_labels.dtype == mini.test_labels.dtype == torch.int64
    assert (mini.in_channels, mini.image_size, mini.num_classes) == (1, 28, 10)
    assert mini.class_names == FASHION_CLASSES
    assert class_counts(mini.train_labels) == [1_000] * 10
    assert class_counts(mini.test_labels) == [200] * 10
    assert "Fashion-MNIST" in mini.source and "MIT" in mini.source
    assert "10000" in repr(mini)


def test_default_dataset_is_standardized_with_training_statistics(mini, mini_pixels):
    assert abs(mini.train_images.mean().item()) < 1e-4
    assert abs(mini.train_images.std().item() - 1) < 1e-3
    train = mini_pixels["train_images"] / 255.0
    assert mini.mean[0] == pytest.approx(train.mean(), abs=1e-5)
    assert mini.std[0] == pytest.approx(train.std(), abs=1e-5)
    # The test split uses the training mean and std, not its own.
    expected_test = (mini_pixels["test_images"] / 255.0 - mini.mean[0]) / mini.std[0]
    np.testing.assert_allclose(mini.test_images[:, 0].numpy(), expected_test, atol=1e-5)


def test_to_display_gives_back_the_original_pixels_in_0_1(mini, mini_pixels):
    shown = mini.to_display(mini.train_images)
    assert shown.min() >= 0 and shown.max() <= 1
    np.testing.assert_allclose(shown[:, 0].numpy(), mini_pixels["train_images"] / 255.0, atol=1e-5)
    np.testing.assert_array_equal(as_pixels(mini, mini.test_images)[:, 0], mini_pixels["test_images"])
    one_image = mini.to_display(mini.test_images[7])
    assert one_image.shape == (1, 28, 28)
    np.testing.assert_array_equal(mini.test_labels.numpy(), mini_pixels["test_labels"])


def test_embedded_file_matches_the_sha256_in_its_readme():
    path = DATA_DIR / data.MINI_FILE_NAME
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest in (DATA_DIR / "README.md").read_text(), "rebuilt data file: update data/README.md"
    assert path.stat().st_size < 6_000_000
    assert (DATA_DIR / "LICENSE-fashion-mnist").is_file()


# ---- subsets and downscaling ---------------------------------------------------------------------

def test_subsets_have_the_asked_sizes_are_balanced_and_repeat_with_the_seed():
    first = load_dataset(train_size=103, test_size=50, seed=1)
    again = load_dataset(train_size=103, test_size=50, seed=1)
    other_seed = load_dataset(train_size=103, test_size=50, seed=2)
    assert first.train_images.shape == (103, 1, 28, 28) and first.test_images.shape == (50, 1, 28, 28)
    assert torch.equal(first.train_images, again.train_images)
    assert torch.equal(first.test_labels, again.test_labels)
    assert not torch.equal(first.train_images, other_seed.train_images)
    assert sorted(class_counts(first.train_labels)) == [10] * 7 + [11] * 3
    assert class_counts(first.test_labels) == [5] * 10
    # Standardized after subsetting, with the subset's own training statistics.
    assert abs(first.train_images.mean().item()) < 1e-4
    assert abs(first.train_images.std().item() - 1) < 1e-3
    # Asking for a test subset leaves the training subset as it was.
    train_only = load_dataset(train_size=103, seed=1)
    assert torch.equal(first.train_images, train_only.train_images)
    assert train_only.test_images.shape[0] == 2_000


def test_subset_method_picks_the_same_images_as_load_dataset_and_keeps_the_scaling(mini):
    part = mini.subset(train_size=200, test_size=30, seed=5)
    loaded = load_dataset(train_size=200, test_size=30, seed=5)
    assert part.train_images.shape == (200, 1, 28, 28) and part.test_images.shape == (30, 1, 28, 28)
    assert (part.mean, part.std) == (mini.mean, mini.std)
    np.testing.assert_array_equal(as_pixels(part, part.train_images),
                                  as_pixels(loaded, loaded.train_images))
    assert torch.equal(part.test_labels, loaded.test_labels)
    assert torch.equal(mini.subset(train_size=200, seed=5).train_images, part.train_images)
    assert "subset" in part.source


def test_test_image_of_picks_a_test_image_by_its_class(mini):
    image, label = mini.test_image_of("Sneaker")
    assert mini.class_names[label] == "Sneaker"
    first = int((mini.test_labels == label).nonzero()[0])
    assert torch.equal(image, mini.test_images[first])
    second, same = mini.test_image_of("sneaker", occurrence=1)  # any letter case
    assert same == label and not torch.equal(second, image)
    by_index, index_label = mini.test_image_of(label)
    assert index_label == label and torch.equal(by_index, image)


def test_test_image_of_explains_bad_classes_and_occurrences(mini):
    with pytest.raises(ValueError, match="unknown class 'Boot'.*Ankle boot"):
        mini.test_image_of("Boot")
    with pytest.raises(ValueError, match="index from 0 to 9"):
        mini.test_image_of(10)
    with pytest.raises(ValueError, match="200 test images of Sneaker; occurrence must be below 200"):
        mini.test_image_of("Sneaker", occurrence=200)


def test_subsets_stay_as_balanced_as_uneven_classes_allow(tmp_path):
    labels = np.concatenate([[0, 0], np.repeat(np.arange(1, 10), 10)])  # class 0 has two images
    make_fashion_files(tmp_path / "FashionMNIST" / "raw", labels, np.arange(20) % 10)
    subset = load_dataset("fashion-mnist", root=tmp_path, train_size=30)
    counts = class_counts(subset.train_labels)
    assert sum(counts) == 30 and counts[0] == 2
    assert max(counts[1:]) - min(counts[1:]) <= 1


def test_downscaling_averages_pixels_and_repeats(mini, mini_pixels):
    small = load_dataset(image_size=14, train_size=100, test_size=20, seed=3)
    assert small.train_images.shape == (100, 1, 14, 14) and small.test_images.shape == (20, 1, 14, 14)
    assert small.image_size == 14
    assert torch.equal(small.train_images, load_dataset(image_size=14, train_size=100,
                                                        test_size=20, seed=3).train_images)
    assert abs(small.train_images.std().item() - 1) < 1e-3
    # 28 -> 14 by area: each pixel is the mean of a 2x2 block of the original.
    full = load_dataset(train_size=100, test_size=20, seed=3)
    original = full.to_display(full.train_images)
    block_means = original.reshape(100, 1, 14, 2, 14, 2).mean(dim=(3, 5))
    torch.testing.assert_close(small.to_display(small.train_images), block_means, atol=1e-5, rtol=0)
    sixteen = load_dataset(image_size=16, train_size=50)
    assert sixteen.train_images.shape == (50, 1, 16, 16)
    assert 0 <= sixteen.to_display(sixteen.test_images).min() <= sixteen.to_display(
        sixteen.test_images).max() <= 1


# ---- torchvision's loaders on the real file formats -----------------------------------------------

def test_cifar10_fixture_is_in_the_published_pickle_format(cifar_root):
    root, _ = cifar_root
    with open(root / "cifar-10-batches-py" / "data_batch_1", "rb") as file:
        batch = pickle.load(file, encoding="bytes")
    assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (20, 3072)


def test_cifar10_loads_through_torchvision_and_pixels_round_trip(cifar_root):
    root, expected = cifar_root
    cifar = load_dataset("cifar10", root=root)
    assert cifar.train_images.shape == (100, 3, 32, 32) and cifar.test_images.shape == (30, 3, 32, 32)
    assert (cifar.in_channels, cifar.image_size, cifar.num_classes) == (3, 32, 10)
    assert cifar.class_names == CIFAR_CLASSES
    assert len(cifar.mean) == len(cifar.std) == 3
    np.testing.assert_array_equal(as_pixels(cifar, cifar.train_images), expected["train_pixels"])
    np.testing.assert_array_equal(as_pixels(cifar, cifar.test_images), expected["test_pixels"])
    np.testing.assert_array_equal(cifar.train_labels.numpy(), expected["train_labels"])
    np.testing.assert_array_equal(cifar.test_labels.numpy(), expected["test_labels"])
    channel_means = cifar.train_images.mean(dim=(0, 2, 3))
    torch.testing.assert_close(channel_means, torch.zeros(3), atol=1e-4, rtol=0)
    assert "cifar-10-batches-py" in cifar.source


def test_cifar10_downscales_and_subsets(cifar_root):
    root, expected = cifar_root
    small = load_dataset("cifar10", root=root, image_size=16, train_size=50, test_size=10, seed=4)
    assert small.train_images.shape == (50, 3, 16, 16) and small.test_images.shape == (10, 3, 16, 16)
    assert class_counts(small.train_labels) == [5] * 10
    whole = load_dataset("cifar10", root=root)
    part = whole.subset(train_size=50, test_size=10, seed=4)
    block_means = part.to_display(part.train_images).reshape(50, 3, 16, 2, 16, 2).mean(dim=(3, 5))
    torch.testing.assert_close(small.to_display(small.train_images), block_means, atol=1e-5, rtol=0)


def test_fashion_mnist_reads_idx_files_through_torchvision(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    arrays = make_fashion_files(raw, np.arange(40) % 10, np.arange(20) % 10)
    fashion = load_dataset("fashion-mnist", root=tmp_path)
    assert fashion.train_images.shape == (40, 1, 28, 28) and fashion.test_images.shape == (20, 1, 28, 28)
    assert fashion.class_names == FASHION_CLASSES
    np.testing.assert_array_equal(as_pixels(fashion, fashion.train_images)[:, 0],
                                  arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(fashion.test_labels.numpy(), arrays["t10k-labels-idx1-ubyte"])
    assert str(raw) in fashion.source


def test_fashion_mnist_reads_gzipped_idx_files(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    arrays = make_fashion_files(raw, np.arange(30) % 10, np.arange(10), compress=True)
    fashion = load_dataset("fashion-mnist", root=tmp_path)
    np.testing.assert_array_equal(as_pixels(fashion, fashion.test_images)[:, 0],
                                  arrays["t10k-images-idx3-ubyte"])
    assert sorted(p.name for p in raw.iterdir()) == sorted(f"{name}.gz" for name in arrays)
    assert str(raw) in fashion.source
    again = load_dataset("fashion-mnist", root=tmp_path)  # from the decompressed cache
    assert torch.equal(again.train_images, fashion.train_images)


def test_fashion_mnist_from_debian_package_and_the_mini_subset_is_taken_from_it(
        tmp_path, mini, mini_pixels):
    assert data.DEBIAN_FASHION_MNIST_DIR.is_dir(), (
        f"{data.DEBIAN_FASHION_MNIST_DIR} is missing: `apt-get install -y dataset-fashion-mnist`")
    fashion = load_dataset("fashion-mnist", root=tmp_path / "nothing here")
    assert fashion.train_images.shape == (60_000, 1, 28, 28)
    assert fashion.test_images.shape == (10_000, 1, 28, 28)
    assert class_counts(fashion.train_labels) == [6_000] * 10
    assert str(data.DEBIAN_FASHION_MNIST_DIR) in fashion.source
    for split in ("train", "test"):
        indices = torch.from_numpy(mini_pixels[f"{split}_indices"].astype(np.int64))
        images = getattr(fashion, f"{split}_images")[indices]
        np.testing.assert_array_equal(as_pixels(fashion, images)[:, 0], mini_pixels[f"{split}_images"])
        np.testing.assert_array_equal(getattr(fashion, f"{split}_labels")[indices].numpy(),
                                      mini_pixels[f"{split}_labels"])


# ---- bad input -----------------------------------------------------------------------------------

def test_unknown_dataset_name_lists_the_allowed_names():
    with pytest.raises(ValueError) as error:
        load_dataset("mnist")
    for name in DATASET_NAMES:
        assert repr(name) in str(error.value)


def test_missing_cifar10_says_where_to_put_it_and_how_to_download(tmp_path):
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset("cifar10", root=tmp_path)
    assert isinstance(error.value, FileNotFoundError)
    message = str(error.value)
    assert str(tmp_path / "cifar-10-batches-py") in message
    assert "download=True" in message and "170 MB" in message
    assert "fashion-mnist-mini" in message


def test_truncated_cifar10_file_is_named(cifar_root):
    root, _ = cifar_root
    damaged = root / "cifar-10-batches-py" / "data_batch_3"
    damaged.write_bytes(damaged.read_bytes()[:1000])
    with pytest.raises(CorruptDatasetError) as error:
        load_dataset("cifar10", root=root)
    assert str(damaged) in str(error.value)
    assert "download=True" in str(error.value) and "Delete" in str(error.value)


def test_unreadable_cifar10_pickle_with_a_matching_checksum_is_reported(cifar_root, monkeypatch):
    root, _ = cifar_root
    damaged = root / "cifar-10-batches-py" / "test_batch"
    damaged.write_bytes(damaged.read_bytes()[:1000])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5(damaged)]])
    with pytest.raises(CorruptDatasetError, match="cifar-10-batches-py"):
        load_dataset("cifar10", root=root)


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian-package")
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset("fashion-mnist", root=tmp_path)
    message = str(error.value)
    assert "apt-get install -y dataset-fashion-mnist" in message
    assert str(tmp_path / "FashionMNIST" / "raw") in message and "download=True" in message


@pytest.mark.parametrize("damage", ["truncate", "bad header"])
def test_damaged_idx_file_is_named(tmp_path, damage):
    raw = tmp_path / "FashionMNIST" / "raw"
    make_fashion_files(raw, np.arange(20) % 10, np.arange(10))
    damaged = raw / "train-images-idx3-ubyte"
    content = damaged.read_bytes()
    damaged.write_bytes(content[:-100] if damage == "truncate" else b"\x00\x00\x0d\x03" + content[4:])
    with pytest.raises(CorruptDatasetError) as error:
        load_dataset("fashion-mnist", root=tmp_path)
    assert str(damaged) in str(error.value)


def test_damaged_gzip_file_is_named(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    make_fashion_files(raw, np.arange(20) % 10, np.arange(10), compress=True)
    damaged = raw / "t10k-images-idx3-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:200])
    with pytest.raises(CorruptDatasetError) as error:
        load_dataset("fashion-mnist", root=tmp_path)
    assert str(damaged) in str(error.value)


def test_missing_or_damaged_embedded_file_says_how_to_restore_it(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="make_fashion_mnist_mini.py"):
        load_dataset(root=tmp_path)
    (tmp_path / data.MINI_FILE_NAME).write_bytes(b"not a zip file")
    with pytest.raises(CorruptDatasetError, match="git checkout"):
        load_dataset(root=tmp_path)


@pytest.mark.parametrize("sizes, message", [
    ({"train_size": 0}, "from 1 to 10000"),
    ({"train_size": 10_001}, "from 1 to 10000"),
    ({"test_size": -5}, "from 1 to 2000"),
    ({"test_size": 2_001}, "from 1 to 2000"),
    ({"image_size": 7}, "from 8 to 28"),
    ({"image_size": 29}, "from 8 to 28"),
])
def test_impossible_sizes_say_what_is_allowed(sizes, message):
    with pytest.raises(ValueError, match=message):
        load_dataset(**sizes)


@pytest.mark.parametrize("sizes", [{"train_size": 2.5}, {"test_size": True}, {"image_size": 16.0}])
def test_sizes_must_be_whole_numbers(sizes):
    with pytest.raises(TypeError, match="whole number"):
        load_dataset(**sizes)


def test_subset_larger_than_the_dataset_is_refused(mini):
    with pytest.raises(ValueError, match="from 1 to 2000"):
        mini.subset(test_size=5_000)


def test_with_classes_keeps_only_those_classes_relabelled():
    data = load_dataset()
    shoes = data.with_classes([5, 7, 9])
    assert shoes.class_names == ["Sandal", "Sneaker", "Ankle boot"]
    assert sorted(shoes.train_labels.unique().tolist()) == [0, 1, 2]
    assert len(shoes.train_images) == int((data.train_labels == 5).sum() * 3)
    first_sandal = data.train_images[data.train_labels == 5][0]
    torch.testing.assert_close(shoes.train_images[shoes.train_labels == 0][0], first_sandal)
    with pytest.raises(ValueError, match="distinct class indices in 0..9"):
        data.with_classes([3, 3])
    with pytest.raises(ValueError, match="distinct class indices"):
        data.with_classes([10])


def test_a_loaded_dataset_is_made_again_from_its_recipe(mini):
    steps = mini.subset(train_size=300, test_size=50, seed=2).with_classes([3, 1]).validation_split(20)
    again = Dataset.from_recipe(steps.recipe)
    assert [operation for operation, _ in again.recipe] == ["load_dataset", "subset", "with_classes",
                                                            "validation_split"]
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        assert torch.equal(getattr(again, name), getattr(steps, name)), name
    assert again.class_names == steps.class_names and again.mean == steps.mean


def test_a_dataset_made_by_hand_has_no_recipe_and_says_so(tiny_data):
    by_hand = tiny_data()
    assert by_hand.recipe == () and by_hand.subset(train_size=8).recipe == ()
    with pytest.raises(ValueError, match="this dataset has no recipe"):
        Dataset.from_recipe(by_hand.recipe)


def test_the_validation_split_holds_out_a_class_balanced_part_of_the_training_images(mini):
    split = mini.validation_split(1000, seed=1)
    assert len(split.train_images) == 9000 and len(split.test_images) == 1000
    assert class_counts(split.test_labels) == [100] * 10
    # Held out from the training images: none of them is trained on, none is a test image.
    trained = {tuple(image.flatten().tolist()) for image in split.train_images[:, :, ::4, ::4]}
    held_out = {tuple(image.flatten().tolist()) for image in split.test_images[:, :, ::4, ::4]}
    assert not trained & held_out
    assert split.mean == mini.mean
    with pytest.raises(ValueError, match="size 10000 would leave no training images"):
        mini.validation_split(10_000)


def test_with_classes_takes_numpy_ints_and_refuses_booleans(mini):
    assert mini.with_classes([np.int64(5), np.int32(7)]).class_names == ["Sandal", "Sneaker"]
    with pytest.raises(ValueError, match=r"distinct class indices in 0..9 .* got \[True, False\]"):
        mini.with_classes([True, False])
    with pytest.raises(ValueError, match="distinct class indices"):
        mini.with_classes([1.0, 2.0])


# ---- files that lie, folders that cannot be written, servers that never answer (issue 15) ---------

@pytest.mark.parametrize("change, message", [
    (lambda a: {"train_labels": a["train_labels"][:-1]}, "10000 training images but 9999 labels"),
    (lambda a: {"test_labels": np.where(a["test_labels"] == 9, 12, a["test_labels"])},
     r"labels from 0 to 12, but 10 class names"),
    (lambda a: {"test_images": a["test_images"][:, :20, :20]}, "training images are 28x28 but the test images 20x20"),
    (lambda a: {"class_names": a["class_names"][:3]}, r"labels from 0 to 9, but 3 class names"),
    (lambda a: {"train_labels": a["train_labels"].astype(np.float32)}, "labels are float32"),
])
def test_an_embedded_file_with_inconsistent_contents_is_named(change, message, tmp_path, mini_pixels):
    np.savez(tmp_path / data.MINI_FILE_NAME, **{**mini_pixels, **change(mini_pixels)})
    with pytest.raises(CorruptDatasetError, match=f"{data.MINI_FILE_NAME}.*{message}"):
        load_dataset(root=tmp_path)


def test_a_cache_folder_that_cannot_be_written_is_named_with_the_fix(tmp_path, monkeypatch):
    make_fashion_files(tmp_path / "FashionMNIST" / "raw", np.arange(30) % 10, np.arange(10),
                       compress=True)
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a-file" / "cache"))
    with pytest.raises(DatasetNotFoundError, match=r"cannot write .*a-file/cache/resnet_explorer.*"
                                                   r"XDG_CACHE_HOME"):
        load_dataset("fashion-mnist", root=tmp_path)


@pytest.fixture
def silent_server():
    """A real local server that accepts connections and never answers; yields its address."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted, stop = [], threading.Event()

    def accept_forever():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])  # kept open, never answered
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for connection in accepted:
        connection.close()
    listener.close()


@pytest.fixture
def refusing_address():
    """An address where nothing listens: what being offline looks like to a download."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def load_in_a_thread(seconds: float, *args, **kwargs):
    """``load_dataset(*args, **kwargs)`` in a thread, so that a download that hangs fails the test."""
    outcome = {}

    def load():
        try:
            outcome["value"] = load_dataset(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"load_dataset still waited for the server after {seconds} s"
    return outcome.get("error")


def test_a_cifar10_download_from_a_server_that_never_answers_fails_like_offline(
        tmp_path, monkeypatch, silent_server, refusing_address):
    monkeypatch.setattr(data, "DOWNLOAD_TIMEOUT", 1.0)
    monkeypatch.setattr(CIFAR10, "url", f"{refusing_address}/cifar-10-python.tar.gz")
    offline = load_in_a_thread(30, "cifar10", root=tmp_path, download=True)
    monkeypatch.setattr(CIFAR10, "url", f"{silent_server}/cifar-10-python.tar.gz")
    silent = load_in_a_thread(30, "cifar10", root=tmp_path, download=True)
    for error in (offline, silent):
        assert isinstance(error, DatasetNotFoundError)
        assert str(error).startswith(f"CIFAR-10: downloading into {tmp_path} failed")
        assert "Copy the extracted cifar-10-batches-py folder" in str(error)
    assert "no answer from the server within 1 s" in str(silent)
    assert socket.getdefaulttimeout() is None  # the timeout was only for the download


def test_a_fashion_mnist_download_from_a_server_that_never_answers_fails_like_offline(
        tmp_path, monkeypatch, silent_server):
    from torchvision.datasets import FashionMNIST

    monkeypatch.setattr(data, "DOWNLOAD_TIMEOUT", 1.0)
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian-package")
    monkeypatch.setattr(FashionMNIST, "mirrors", [f"{silent_server}/"])
    error = load_in_a_thread(30, "fashion-mnist", root=tmp_path, download=True)
    assert isinstance(error, DatasetNotFoundError)
    assert "no answer from the server within 1 s" in str(error) and "download=True" in str(error)
