"""Build data/fashion-mnist-mini.npz, the small Fashion-MNIST subset shipped with resnet_explorer.

The lessons must run offline on a fresh machine, so the package ships a class-balanced subset of
the real Fashion-MNIST (Zalando Research, MIT licence) inside the repository. This script is how
that file was made, and running it again gives the same bytes:

    apt-get install -y dataset-fashion-mnist     # Debian's copy of the IDX files
    python data/make_fashion_mnist_mini.py       # writes data/fashion-mnist-mini.npz

The subset rule: for each split, a NumPy ``default_rng([SEED, split_number])`` (train 0, test 1)
draws ``PER_CLASS[split]`` images of each class without replacement from that class's images,
class 0 first; the chosen original indices are then sorted, so the subset keeps the original
order. The file holds the uint8 images, the labels, the original indices (to trace every image
back to the full dataset) and the class names. It needs only NumPy, not torch.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

SEED = 0
PER_CLASS = {"train": 1_000, "test": 200}
# Split name -> prefix of the IDX files, and a number that gives each split its own random stream.
SPLITS = {"train": ("train", 0), "test": ("t10k", 1)}
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
OUTPUT = Path(__file__).resolve().parent / "fashion-mnist-mini.npz"


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (plain or .gz) of unsigned bytes, the format Fashion-MNIST ships in."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as file:
        data = file.read()
    dtype_code, ndim = data[2], data[3]
    if data[:2] != b"\x00\x00" or dtype_code != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (header {data[:4].hex()})")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != np.prod(shape):
        raise ValueError(f"{path} holds {body.size} bytes of data, its header says {shape}")
    return body.reshape(shape)


def find_idx(source: Path, name: str) -> Path:
    """The IDX file `name` in `source`, compressed or not (Debian ships them gzipped)."""
    for candidate in (source / name, source / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{name}(.gz) not found in {source}; "
                            "install it with `apt-get install -y dataset-fashion-mnist`")


def balanced_subset(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of `per_class` images of each class, drawn without replacement."""
    chosen = [rng.choice(np.flatnonzero(labels == label), size=per_class, replace=False)
              for label in range(len(CLASS_NAMES))]
    return np.sort(np.concatenate(chosen))


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like np.savez_compressed, but byte-for-byte reproducible: fixed zip timestamps, level 9."""
    with zipfile.ZipFile(path, "w") as archive:
        for key, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            entry = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, buffer.getvalue(), compress_type=zipfile.ZIP_DEFLATED,
                             compresslevel=9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEBIAN_DIR,
                        help="folder with the four Fashion-MNIST IDX files (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="default: %(default)s")
    args = parser.parse_args()

    arrays: dict[str, np.ndarray] = {}
    for split, (prefix, split_number) in SPLITS.items():
        images = read_idx(find_idx(args.source, f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(find_idx(args.source, f"{prefix}-labels-idx1-ubyte"))
        rng = np.random.default_rng([SEED, split_number])
        indices = balanced_subset(labels, PER_CLASS[split], rng)
        arrays[f"{split}_images"] = images[indices]
        arrays[f"{split}_labels"] = labels[indices]
        arrays[f"{split}_indices"] = indices.astype(np.int32)
    arrays["class_names"] = np.array(CLASS_NAMES)

    write_npz(args.output, arrays)
    digest = hashlib.sha256(args.output.read_bytes()).hexdigest()
    print(f"wrote {args.output}: {args.output.stat().st_size:,} bytes, sha256 {digest}")
    for key, array in arrays.items():
        print(f"  {key}: {array.dtype} {array.shape}")


if __name__ == "__main__":
    main()
