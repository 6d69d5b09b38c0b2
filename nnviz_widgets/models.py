"""Small, well-known models for demos, tests and benchmarks."""

from __future__ import annotations

import itertools

from torch import nn

__all__ = ["MLP", "LeNet5"]


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998) with ReLU and max pooling, as commonly taught today.

    Expects ``(N, in_channels, 28, 28)`` images (the digits from
    :func:`nnviz_widgets.datasets.digits` with ``size=28``) and returns class logits.

    Parameters
    ----------
    num_classes : int
        Number of output classes.
    in_channels : int
        Channels of the input images.
    inplace : bool
        Use ``ReLU(inplace=True)``, which saves memory and is a classic trap for hooks.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, *, inplace: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=2)  # 6 x 28 x 28
        self.relu1 = nn.ReLU(inplace=inplace)
        self.pool1 = nn.MaxPool2d(2)  # 6 x 14 x 14
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)  # 16 x 10 x 10
        self.relu2 = nn.ReLU(inplace=inplace)
        self.pool2 = nn.MaxPool2d(2)  # 16 x 5 x 5
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.relu3 = nn.ReLU(inplace=inplace)
        self.fc2 = nn.Linear(120, 84)
        self.relu4 = nn.ReLU(inplace=inplace)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        """Class logits for a batch of images."""
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.flatten(x)
        x = self.relu3(self.fc1(x))
        x = self.relu4(self.fc2(x))
        return self.fc3(x)


class MLP(nn.Sequential):
    """A plain multilayer perceptron: ``Linear`` layers with an activation between them.

    Parameters
    ----------
    sizes : sequence of int
        Widths from input to output, e.g. ``(2, 8, 8, 1)``.
    activation : type of nn.Module
        The activation class put after every hidden layer.
    """

    def __init__(self, sizes=(2, 8, 8, 1), activation: type[nn.Module] = nn.ReLU):
        sizes = tuple(sizes)
        if len(sizes) < 2 or any(not isinstance(s, int) or s < 1 for s in sizes):
            raise ValueError(f"sizes must list at least two positive widths, got {sizes!r}")
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(activation())
        super().__init__(*layers)
