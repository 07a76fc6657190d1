"""Named model sizes of the residual network, with their cost, computed without PyTorch.

The network (:mod:`ladderforge.enhance.model`) works on luma at the display grid. It folds each
``block`` x ``block`` square of pixels into channels (pixel unshuffle), runs ``layers`` 3x3
convolutions of ``channels`` features with ReLU between them, unfolds the output back into a
residual and adds it to its input. Folding lets a 3x3 convolution see a (3 x block)-pixel window
at 1/block² of the cost, which is what makes the tiny preset fast on a CPU.

A preset with ``factor_input`` (``tiny-f``, ``small-f``) takes the upscale factor (display
height over rung height) as a second input plane, folded into one more channel: one model
serves every rung, and learns how much to restore at each factor. Budget: the CPU preset
``small-f`` costs 4,779 MACs per output pixel (under the 5 kMAC aimed at), ``tiny-f`` 1,170.
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
    factor_input: bool = False
    """Whether the network takes the upscale factor as a second input plane (N x 2 x H x W:
    luma, then ``log2(factor)`` everywhere); False: luma only (N x 1 x H x W)."""

    @property
    def input_planes(self) -> int:
        """Planes of the network's input: luma, plus the factor plane with ``factor_input``."""
        return 2 if self.factor_input else 1

    @property
    def in_channels(self) -> int:
        """Channels after folding: one luma plane, plus one for the factor."""
        return self.block * self.block + int(self.factor_input)

    def conv_shapes(self) -> list[tuple[int, int]]:
        """(in, out) channels of each 3x3 convolution, first to last."""
        f = self.channels
        return [(self.in_channels, f)] + [(f, f)] * (self.layers - 2) + [(f, self.block**2)]

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
        extra = sum(o for _, o in shapes) * 2 - self.block**2  # bias + ReLU (none after last)
        return 2 * self.macs_per_pixel + extra / (self.block * self.block) + 1

    @property
    def multiple(self) -> int:
        """Frame sides are padded to a multiple of this (and cropped back)."""
        return self.block


PRESETS: dict[str, Preset] = {
    "tiny": Preset("tiny", block=4, channels=32, layers=3),
    "small": Preset("small", block=4, channels=48, layers=5),
    "tiny-f": Preset("tiny-f", block=4, channels=32, layers=3, factor_input=True),
    "small-f": Preset("small-f", block=4, channels=48, layers=5, factor_input=True),
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
