"""Settings and fixtures shared by the whole suite.

The fixtures give what many test modules need, made the same way everywhere:

- ``tiny_data(channels=1, classes=4, size=8, train_size=64, test_size=32)``: a ``Dataset`` of
  random images (seeded), small enough that a training run takes a fraction of a second;
- ``tiny_model(shortcut="A", seed=0, **build_model_options)``: ResNet-8 (or plain-8) with 4
  filters, 1 input channel and 4 classes, built right after ``torch.manual_seed(seed)``;
- ``run_cache``: a ``RunCache`` in the test's own temporary folder;
- ``dask_client``: a ``distributed.Client`` of a Dask ``LocalCluster`` with 2 single-thread
  worker processes, started once for the session, on first use;
- ``png_that_claims(width, height)``: the bytes of a PNG whose header declares that size, with
  almost no pixel data (a "decompression bomb").
"""

import logging
import struct
import zlib

import pytest
import torch

from resnet_explorer.data import Dataset
from resnet_explorer.models import build_model
from resnet_explorer.run_cache import RunCache


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Run the suite's small models on one thread.

    Tiny batches gain little from a second thread, and on two cores shared with other work
    (a JupyterLab kernel in the browser tests, a second process) two threads ran several
    times slower than one (measured: 249 s against 44 s for the attribution tests).
    ``rx.train`` uses at most torch's current thread count, so its runs here use one thread too.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def make_tiny_data(channels=1, classes=4, size=8, train_size=64, test_size=32) -> Dataset:
    generator = torch.Generator().manual_seed(0)
    return Dataset(
        name="tiny", source="random numbers",
        train_images=torch.randn(train_size, channels, size, size, generator=generator),
        train_labels=torch.arange(train_size) % classes,
        test_images=torch.randn(test_size, channels, size, size, generator=generator),
        test_labels=torch.arange(test_size) % classes,
        class_names=[f"class {i}" for i in range(classes)], mean=(0.0,) * channels,
        std=(1.0,) * channels)


def make_tiny_model(shortcut="A", seed=0, **options):
    torch.manual_seed(seed)
    options = {"in_channels": 1, "num_classes": 4, "width": 4, **options}
    return build_model(8, shortcut, **options)


@pytest.fixture
def tiny_data():
    """``tiny_data(channels=1, classes=4, ...)``: a small random ``Dataset``."""
    return make_tiny_data


@pytest.fixture
def tiny_model():
    """``tiny_model(shortcut="A", seed=0, **options)``: a freshly built 8-layer net of width 4."""
    return make_tiny_model


@pytest.fixture
def run_cache(tmp_path) -> RunCache:
    """An empty run cache in the test's temporary folder."""
    return RunCache(tmp_path / "runs")


@pytest.fixture(scope="session")
def dask_client():
    """A Dask ``LocalCluster`` of 2 worker processes with one thread each, and its client.

    Started on first use and kept for the session: each worker process imports torch once
    (seconds), which the cluster tests and the reproduce command's tests then share.
    """
    import distributed  # the dev extra installs it (dask[distributed], as the cluster extra)

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR)
    client = distributed.Client(cluster)
    client.run(__import__, "resnet_explorer.cluster")
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def png_that_claims():
    """``png_that_claims(width, height)``: a PNG declaring ``width`` x ``height`` pixels, a few bytes long."""
    def make(width: int, height: int) -> bytes:
        def chunk(kind: bytes, data: bytes) -> bytes:
            return (struct.pack(">I", len(data)) + kind + data
                    + struct.pack(">I", zlib.crc32(kind + data)))

        header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))

    return make
