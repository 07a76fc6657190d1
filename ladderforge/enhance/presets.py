"""Named model sizes of the residual network, with their cost, computed without PyTorch.

The network (:mod:`ladderforge.enhance.model`) works on luma at the display grid. It folds each
``block`` x ``block`` square of pixels into channels (pixel unshuffle), runs ``layers`` 3x3
convolutions of ``channels`` features with ReLU between them, unfolds the output back into a
residual and adds it to its input. Folding lets a 3x3 convolution see a (3 x block)-pixel window
at 1/block² of the cost, which is what makes the tiny preset fast on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

from ladderforge.errors import UsageError

__all__ = ["DEFAULT_PRESET", "PRESETS", "Preset", "get_preset"]


@dataclass(frozen=True)
class Preset:
    """One size of the residual network."""

    name: str
    """Preset name (``tiny``, ``small``)."""
    block: int
    """Side of the pixel square folded into channels (pixel unshuffle factor)."""
    channels: int
    """Features of the hidden convolutions."""
    layers: int
    """Number of 3x3 convolutions (>= 2: one in, ``layers - 2`` hidden, one out)."""

    @property
    def in_channels(self) -> int:
        """Channels after folding one luma plane."""
        return self.block * self.block

    def conv_shapes(self) -> list[tuple[int, int]]:
        """(in, out) channels of each 3x3 convolution, first to last."""
        c, f = self.in_channels, self.channels
        return [(c, f)] + [(f, f)] * (self.layers - 2) + [(f, c)]

    @property
    def parameters(self) -> int:
        """Trainable parameters (weights and biases)."""
        return sum(9 * i * o + o for i, o in self.conv_shapes())

    @property
    def macs_per_pixel(self) -> float:
        """Multiply-accumulates per output pixel (convolutions only)."""
        return sum(9 * i * o for i, o in self.conv_shapes()) / (self.block * self.block)

    @property
    def flops_per_pixel(self) -> float:
        """Floating-point operations per output pixel: 2 x MACs, plus bias, ReLU and the residual
        addition."""
        shapes = self.conv_shapes()
        extra = sum(o for _, o in shapes) * 2 - self.in_channels  # bias + ReLU (none after last)
        return 2 * self.macs_per_pixel + extra / (self.block * self.block) + 1

    @property
    def multiple(self) -> int:
        """Frame sides are padded to a multiple of this (and cropped back)."""
        return self.block


PRESETS: dict[str, Preset] = {
    "tiny": Preset("tiny", block=4, channels=32, layers=3),
    "small": Preset("small", block=4, channels=48, layers=5),
}
"""The named presets; see :attr:`Preset.flops_per_pixel` for their cost."""

DEFAULT_PRESET = "tiny"


def get_preset(name: str) -> Preset:
    """The preset called ``name``; UsageError listing the names otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise UsageError(
            f"The 'preset' parameter must be one of {', '.join(PRESETS)}. Got {name!r} instead."
        ) from None
