"""How the optimized input is parameterized: a scaled Fourier spectrum squashed into the
data's range.

Optimizing pixels directly gives high-frequency noise that excites a unit without looking like
anything; optimizing the image's spectrum with each frequency scaled by ``1 / f ** decay``
makes low frequencies as easy to change as high ones are in pixel space, which gives smoother,
more natural pictures (Olah et al. 2017, "Feature Visualization", Distill; see
``docs/understanding.md``). The colours of a 3-channel input are not decorrelated (each channel
has its own spectrum): the inputs here are small grey or colour images of unknown statistics.
"""

from __future__ import annotations

import torch

__all__ = ["FourierImage"]


class FourierImage:
    """A batch of images parameterized by their Fourier spectra.

    Parameters
    ----------
    shape : tuple of int
        ``(batch, channels, height, width)`` of the images.
    value_range : (float, float)
        The images' values stay strictly inside this range (a sigmoid maps onto it).
    generator : torch.Generator
        Draws the small random initial spectrum (on the CPU).
    decay : float
        The spectrum's scale is ``1 / f ** decay``; 0 gives a plain pixel-like basis.
    device : torch.device
        Where the spectrum lives.
    """

    def __init__(
        self,
        shape: tuple[int, int, int, int],
        value_range: tuple[float, float],
        generator: torch.Generator,
        *,
        decay: float = 1.0,
        device: torch.device | str = "cpu",
    ) -> None:
        batch, channels, height, width = shape
        self.height, self.width = height, width
        self.low, self.high = float(value_range[0]), float(value_range[1])
        frequencies = _frequencies(height, width)
        # the lowest non-zero frequency bounds the scale of the constant term
        floor = 1.0 / max(height, width)
        self.scale = (1.0 / frequencies.clamp(min=floor) ** decay).to(device)
        self.scale = self.scale / self.scale.max()
        spectrum_shape = (batch, channels, height, width // 2 + 1, 2)
        initial = 0.01 * torch.randn(spectrum_shape, generator=generator)
        self.spectrum = initial.to(device).requires_grad_(True)

    def parameters(self) -> list[torch.Tensor]:
        """The tensors the optimizer changes."""
        return [self.spectrum]

    def images(self) -> torch.Tensor:
        """The images, ``(batch, channels, height, width)``, inside the value range."""
        spectrum = torch.view_as_complex(self.spectrum) * self.scale
        pixels = torch.fft.irfft2(spectrum, s=(self.height, self.width), norm="ortho")
        # the 1/f scaling shrinks the pixels' spread: bring it back near 1 before the sigmoid
        pixels = pixels * (self.height * self.width) ** 0.5 / 4.0
        return self.low + (self.high - self.low) * torch.sigmoid(pixels)


def _frequencies(height: int, width: int) -> torch.Tensor:
    """The magnitude of each frequency of ``rfft2`` on a ``height x width`` image."""
    rows = torch.fft.fftfreq(height)[:, None]
    columns = torch.fft.rfftfreq(width)[None, :]
    return torch.sqrt(rows**2 + columns**2)
