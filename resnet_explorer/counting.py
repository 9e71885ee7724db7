"""Parameters and multiply-adds, counted the way the paper counts them (Table 1, Section 4.2).

The paper's "FLOPs" are multiply-adds of the convolutional and fully connected layers;
BN, activations, additions and pooling are left out. (torch's own
``torch.utils.flop_counter.FlopCounterMode`` counts a multiply-add as two FLOPs; the tests
check that its total is twice ``count_flops``.) Counting runs one blank image through the model
where it is, in eval mode, and leaves every module's mode as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .checks import check_images, check_model, check_whole_number, expected_in_channels, model_name
from .device import model_device
from .hooks import hooked

InputSize = tuple[int, int, int]  # (channels, height, width) of one image


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (BN's learnable scale and shift included, running stats not)."""
    check_model(model, what="count_params")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _multiply_adds(module: nn.Module, output: torch.Tensor) -> int:
    """Multiply-adds of one conv or linear module for one image (0 for any other module)."""
    if isinstance(module, nn.Conv2d):
        per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        return output[0].numel() * per_output
    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features
    return 0


def _as_input_size(model: nn.Module, input_size) -> InputSize:
    """``(channels, height, width)`` from a side, ``(height, width)`` or the full triple."""
    sizes = (input_size,) if isinstance(input_size, int) else input_size
    try:
        sizes = tuple(sizes)
    except TypeError:
        sizes = ()
    if len(sizes) not in (1, 2, 3):
        raise ValueError(f"input_size must be an int, (height, width) or (channels, height, "
                         f"width); got {input_size!r}")
    sizes = tuple(check_whole_number("input_size", size, minimum=1) for size in sizes)
    if len(sizes) == 1:
        sizes = sizes * 2
    if len(sizes) == 2:
        sizes = (expected_in_channels(model) or 3, *sizes)
    return sizes


def _run_with_hooks(model: nn.Module, input_size, hook, what: str) -> None:
    """One forward pass of a single blank image in eval mode, with ``hook`` on every module.

    The image is checked like any input (channels, the net's smallest size) and made where the
    model is.
    """
    check_model(model, what=what)
    size = _as_input_size(model, input_size)
    image = check_images(model, torch.zeros(1, *size, device=model_device(model)))
    with hooked(model, dict.fromkeys(model.modules(), hook), training=False), torch.no_grad():
        model(image)


def count_flops(model: nn.Module, input_size=(3, 224, 224)) -> int:
    """Multiply-adds of every conv and fully connected layer for one image of ``input_size``.

    ``input_size`` is ``(channels, height, width)``, ``(height, width)`` or a side length.
    ResNet-20 at 32x32 gives about 40.6 million; ResNet-50 at 224x224 about 3.86 billion.
    """
    total = 0

    def add(module, inputs, output):
        nonlocal total
        total += _multiply_adds(module, output)

    _run_with_hooks(model, input_size, add, "count_flops")
    return total


@dataclass
class ModuleRow:
    """One row of ``describe``: the stem, a block, or a module of the head."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    multiply_adds: int


@dataclass
class ModelDescription:
    """The table ``describe`` returns; shows as an HTML table in a notebook."""

    model_name: str
    input_size: InputSize
    rows: list[ModuleRow]

    @property
    def total_params(self) -> int:
        return sum(row.params for row in self.rows)

    @property
    def total_multiply_adds(self) -> int:
        return sum(row.multiply_adds for row in self.rows)

    def to_text(self) -> str:
        header = f"{'module':<22}{'kind':<20}{'output':>16}{'params':>12}{'mult-adds':>16}"
        lines = [self.model_name, header]
        for row in self.rows:
            shape = "x".join(str(s) for s in row.output_shape)
            lines.append(
                f"{row.name:<22}{row.kind:<20}{shape:>16}{row.params:>12,}{row.multiply_adds:>16,}"
            )
        lines.append(f"{'total':<58}{self.total_params:>12,}{self.total_multiply_adds:>16,}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><td>{r.name}</td><td>{r.kind}</td><td>{'x'.join(map(str, r.output_shape))}</td>"
            f"<td style='text-align:right'>{r.params:,}</td>"
            f"<td style='text-align:right'>{r.multiply_adds:,}</td></tr>"
            for r in self.rows
        )
        return (
            f"<b>{self.model_name}</b><table><tr><th>module</th><th>kind</th><th>output</th>"
            f"<th>params</th><th>multiply-adds</th></tr>{cells}"
            f"<tr><td><b>total</b></td><td></td><td></td>"
            f"<td style='text-align:right'><b>{self.total_params:,}</b></td>"
            f"<td style='text-align:right'><b>{self.total_multiply_adds:,}</b></td></tr></table>"
        )


def _summary_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The stem, every block, and the head layers of a ResNet; else the model's direct children."""
    if hasattr(model, "stages"):
        rows = [("stem", model.stem)]
        for stage_index, stage in enumerate(model.stages()):
            rows += [(f"stage{stage_index + 1}.{name}", block) for name, block in stage.named_children()]
        rows += [(name, getattr(model, name)) for name in ("final_bn", "pool", "fc")]
        return [(name, module) for name, module in rows if not isinstance(module, nn.Identity)]
    return list(model.named_children())


def describe(model: nn.Module, input_size=(3, 32, 32)) -> ModelDescription:
    """A per-block table of output shape, parameters and multiply-adds, for one image.

    The totals equal ``count_params`` and ``count_flops`` for our ResNets.
    """
    check_model(model, what="describe")
    summary = _summary_modules(model)
    summary_ids = {id(module): name for name, module in summary}
    shapes: dict[str, tuple[int, ...]] = {}
    multiply_adds = {name: 0 for name, _ in summary}
    owner_of: dict[int, str] = {}
    for name, module in summary:
        for sub in module.modules():
            owner_of[id(sub)] = name

    def record(module, inputs, output):
        owner = owner_of.get(id(module))
        if owner is not None:
            multiply_adds[owner] += _multiply_adds(module, output)
        if id(module) in summary_ids:
            shapes[summary_ids[id(module)]] = tuple(output.shape[1:])

    _run_with_hooks(model, input_size, record, "describe")
    rows = [
        ModuleRow(
            name=name,
            kind=type(module).__name__,
            output_shape=shapes.get(name, ()),
            params=count_params(module),
            multiply_adds=multiply_adds[name],
        )
        for name, module in summary
    ]
    return ModelDescription(model_name(model), _as_input_size(model, input_size), rows)
