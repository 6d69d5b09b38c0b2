"""Small, well-known models for demos, tests and benchmarks."""

from __future__ import annotations

import itertools

import torch
from torch import nn

__all__ = ["MLP", "BasicBlock", "LeNet5", "ResNet", "ResNet18", "ResNet20", "TransformerLM"]


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


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3x3 convolutions with batch norm, and a shortcut.

    The shortcut is the identity, or a 1x1 convolution with batch norm where the block changes
    the size (``downsample``). Like torchvision's, one ``relu`` module is called twice per
    forward, and the shortcut is added in place.
    """

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(channels),
            )

    def forward(self, x):
        """The block's output: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))."""
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += shortcut
        return self.relu(out)


class ResNet(nn.Module):
    """A ResNet of basic blocks for small images (the CIFAR stem: a 3x3 first convolution, no
    max pooling), named as torchvision names its layers (``conv1``, ``layer1.0.conv1``, ...).

    Parameters
    ----------
    blocks : sequence of int
        Basic blocks per stage; ``(2, 2, 2, 2)`` is ResNet-18 (11.2M parameters with 10
        classes), ``(3, 3, 3)`` with ``width=16`` is ResNet-20 (0.27M).
    num_classes : int
        Number of output classes.
    in_channels : int
        Channels of the input images.
    width : int
        Channels of the first stage; each later stage doubles them and halves the resolution.
    """

    def __init__(
        self,
        blocks=(2, 2, 2, 2),
        num_classes: int = 10,
        in_channels: int = 3,
        *,
        width: int = 64,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        channels = width
        for stage, count in enumerate(blocks):
            out = width * 2**stage
            stride = 1 if stage == 0 else 2
            stage_blocks = []
            for k in range(count):
                stage_blocks.append(BasicBlock(channels, out, stride if k == 0 else 1))
                channels = out
            setattr(self, f"layer{stage + 1}", nn.Sequential(*stage_blocks))
        self.stages = len(blocks)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        """Class logits for a batch of images."""
        x = self.relu(self.bn1(self.conv1(x)))
        for stage in range(self.stages):
            x = getattr(self, f"layer{stage + 1}")(x)
        return self.fc(self.avgpool(x).flatten(1))


def ResNet18(num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """ResNet-18 with the CIFAR stem, for 32 x 32 images: 11.2M parameters with 10 classes."""
    return ResNet((2, 2, 2, 2), num_classes, in_channels)


def ResNet20(num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """ResNet-20 (He et al., 2016, for CIFAR-10): three stages of three blocks, 16 to 64
    channels, 0.27M parameters; 59 recorded layers, a test of the explorer's layer picker."""
    return ResNet((3, 3, 3), num_classes, in_channels, width=16)


class TransformerLM(nn.Module):
    """A GPT-style decoder-only language model, small enough for a CPU.

    Token and position embeddings (the position table is a parameter of the model itself, as in
    GPT-2 and nanoGPT), ``layers`` pre-norm blocks of causal ``nn.MultiheadAttention`` and a GELU
    MLP, a final ``LayerNorm`` and a head tied to the token embedding. With the defaults
    (vocabulary 8192, width 384, 6 layers, 6 heads) it has 13.8M parameters.

    Takes ``(N, T)`` token ids (``T`` at most ``context``) and returns ``(N, T, vocab_size)``
    logits.
    """

    def __init__(
        self,
        vocab_size: int = 8192,
        *,
        width: int = 384,
        layers: int = 6,
        heads: int = 6,
        context: int = 128,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, width)
        self.position = nn.Parameter(torch.zeros(context, width))
        nn.init.normal_(self.position, std=0.02)
        self.blocks = nn.ModuleList(_DecoderBlock(width, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab_size, bias=False)
        self.head.weight = self.embedding.weight  # tied, as in GPT-2
        mask = torch.triu(torch.full((context, context), float("-inf")), diagonal=1)
        self.register_buffer("causal_mask", mask, persistent=False)

    def forward(self, tokens):
        """Next-token logits for every position of ``tokens``."""
        length = tokens.shape[1]
        x = self.embedding(tokens) + self.position[:length]
        mask = self.causal_mask[:length, :length]
        for block in self.blocks:
            x = block(x, mask)
        return self.head(self.norm(x))


class _DecoderBlock(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )

    def forward(self, x, mask):
        h = self.norm1(x)
        x = x + self.attention(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))
