"""The fully connected nets of the shattered-gradients paper (Balduzzi et al. 2017, Section 1).

A scalar input, ``depth`` hidden layers of ``width`` ReLUs (200 in the paper), a scalar
output; He initialization. Two kinds, with the same linear layers:

- plain: ``h = relu(BN(W h))`` for every hidden layer;
- residual: the same layers, each but the first with a shortcut around it:
  ``h = h + relu(BN(W h))``. Only the shortcuts differ, as between He et al.'s plain nets
  and ResNets.

``batch_norm=False`` drops BN. Biases keep PyTorch's default (non-zero) initialization: with
zero biases and no BN, a ReLU net of a scalar input is positively homogeneous
(``f(x) = a x`` for x > 0 and ``b x`` for x < 0), so its gradient is piecewise constant
whatever the depth, and would show no shattering at all.
"""

from __future__ import annotations

from torch import nn

from .checks import check_choice, check_whole_number

KINDS = ("plain", "residual")


class FullyConnectedNet(nn.Module):
    """A scalar-in, scalar-out ReLU net of ``depth`` hidden layers, plain or residual."""

    def __init__(self, depth: int, residual: bool, width: int = 200, batch_norm: bool = True):
        super().__init__()
        self.depth = check_whole_number("depth", depth, minimum=1)
        self.width = check_whole_number("width", width, minimum=1)
        if not isinstance(residual, bool) or not isinstance(batch_norm, bool):
            raise ValueError(f"residual and batch_norm must be True or False, got {residual!r} and "
                             f"{batch_norm!r}")
        self.residual = residual
        self.batch_norm = batch_norm

        def norm() -> nn.Module:
            return nn.BatchNorm1d(width) if batch_norm else nn.Identity()

        self.input = nn.Sequential(nn.Linear(1, width), norm(), nn.ReLU())
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Linear(width, width), norm(), nn.ReLU()) for _ in range(depth - 1))
        self.output = nn.Linear(width, 1)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")

    @property
    def name(self) -> str:
        kind = "residual" if self.residual else "plain"
        return f"{kind} fully connected, depth {self.depth}" + ("" if self.batch_norm else ", no BN")

    def forward(self, x):
        h = self.input(x)
        for layer in self.layers:
            h = h + layer(h) if self.residual else layer(h)
        return self.output(h)


def fully_connected_net(depth: int, kind: str = "plain", *, width: int = 200,
                        batch_norm: bool = True) -> FullyConnectedNet:
    """Balduzzi et al.'s net: ``kind`` ``"plain"`` or ``"residual"``, ``depth`` hidden layers."""
    check_choice("kind", kind, KINDS)
    return FullyConnectedNet(depth, residual=kind == "residual", width=width, batch_norm=batch_norm)
