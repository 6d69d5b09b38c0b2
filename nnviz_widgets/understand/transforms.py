"""Random small transformations applied to the image at each optimization step.

A unit that is excited only by one exact arrangement of pixels gives a brittle, noisy picture;
asking the picture to excite the unit after a random shift, rescaling and rotation (different at
each step) keeps what is robust (Olah et al. 2017, "Transformation robustness"; see
``docs/understanding.md``). The amounts suit small inputs such as 28 x 28 digits. The random
numbers come from the caller's generator, never from torch's global one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["RandomTransform"]


@dataclass(frozen=True)
class RandomTransform:
    """Jitter, scale and rotate each image of a batch by its own random amounts.

    Attributes
    ----------
    jitter : float
        Largest shift, as a fraction of the image's side (both directions).
    scale : float
        Largest relative change of size (``1 - scale`` to ``1 + scale``).
    rotate : float
        Largest rotation in degrees (both directions).
    """

    jitter: float = 0.08
    scale: float = 0.1
    rotate: float = 10.0

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``images`` (N, C, H, W), each moved by its own draw; the border is filled with the
        nearest edge value."""
        batch = images.shape[0]
        draws = torch.rand((batch, 4), generator=generator) * 2.0 - 1.0
        angle = draws[:, 0] * math.radians(self.rotate)
        size = 1.0 + draws[:, 1] * self.scale
        shift = draws[:, 2:] * self.jitter * 2.0  # the grid spans [-1, 1]: 2 per side
        cos, sin = torch.cos(angle) / size, torch.sin(angle) / size
        theta = torch.stack(
            [
                torch.stack([cos, -sin, shift[:, 0]], dim=1),
                torch.stack([sin, cos, shift[:, 1]], dim=1),
            ],
            dim=1,
        ).to(images.device, images.dtype)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, padding_mode="border", align_corners=False)
