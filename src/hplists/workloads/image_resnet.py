"""``image_resnet``: a small ResNet on cluttered colour digits (the analog of AlgoPerf's ImageNet ResNet-50).

The model is a CIFAR-style ResNet (He et al. 2016, "Deep residual learning for
image recognition"): a 3x3 stem, then three stages of basic residual blocks
(two 3x3 convolutions, identity shortcut, or a strided 1x1 projection where
the shape changes) with widths ``w, 2w, 4w``, each later stage halving the
resolution, then global average pooling and a linear classifier.

Normalization is GroupNorm (Wu & He 2018) where the original has BatchNorm:
BatchNorm's running statistics are mutable state that the workload contract
(pure ``loss_fn``/``predict`` of the parameters) does not carry, and
GroupNorm does not depend on the batch. Unlike AlgoPerf's ResNet-50, the last
normalization of each residual branch starts with scale 1, not 0: at this
budget (a few hundred steps) a zero-initialized scale took most of the run to
grow and the network learned about 3x slower. Like AlgoPerf's ImageNet ResNet,
the loss is cross-entropy with label smoothing and there is no dropout.

The architectural knob of the variant is :attr:`ImageResNet.activation`
(``image_resnet_silu`` swaps ReLU for SiLU, as AlgoPerf's ``imagenet_resnet_silu``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from hplists._check import check_choice
from hplists.workloads import images
from hplists.workloads.contract import Batch, Dataset, JaxWorkload, Metric
from hplists.workloads.convolution import Conv
from hplists.workloads.layers import softmax_cross_entropy
from hplists.workloads.registry import register

__all__ = ["ACTIVATIONS", "ImageResNet", "ImageResNetSiLU", "ResNet"]

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "silu": nn.silu,
    "gelu": nn.gelu,
}


class _BasicBlock(nn.Module):
    features: int
    strides: int
    groups: int
    activation: Callable[[jax.Array], jax.Array]

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        y = Conv(self.features, (3, 3), strides=self.strides, use_bias=False)(x)
        y = self.activation(nn.GroupNorm(num_groups=self.groups)(y))
        y = Conv(self.features, (3, 3), use_bias=False)(y)
        y = nn.GroupNorm(num_groups=self.groups)(y)
        if x.shape[-1] != self.features or self.strides != 1:
            x = Conv(self.features, (1, 1), strides=self.strides, use_bias=False)(x)
            x = nn.GroupNorm(num_groups=self.groups)(x)
        return self.activation(x + y)


class ResNet(nn.Module):
    """A small ResNet with GroupNorm for NHWC images.

    Attributes:
        num_classes: outputs of the classifier.
        width: channels of the stem and the first stage (stage ``i`` has ``width * 2**i``).
        blocks: basic blocks per stage.
        groups: GroupNorm groups.
        activation: a key of :data:`ACTIVATIONS`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> net = ResNet(num_classes=10, width=4, blocks=(1, 1))
        >>> x = jnp.ones((2, 16, 16, 3))
        >>> net.apply(net.init(jax.random.key(0), x), x).shape
        (2, 10)
    """

    num_classes: int
    width: int = 8
    blocks: Sequence[int] = (1, 1, 1)
    groups: int = 2
    activation: str = "relu"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = ACTIVATIONS[check_choice("activation", self.activation, tuple(ACTIVATIONS))]
        x = Conv(self.width, (3, 3), use_bias=False)(x)
        x = act(nn.GroupNorm(num_groups=self.groups)(x))
        for stage, num_blocks in enumerate(self.blocks):
            for b in range(num_blocks):
                strides = 2 if stage > 0 and b == 0 else 1
                x = _BasicBlock(self.width * 2**stage, strides, self.groups, act)(x)
        x = jnp.mean(x, axis=(-3, -2))
        return nn.Dense(self.num_classes)(x)


@register
class ImageResNet(JaxWorkload):
    """Small GroupNorm ResNet on 16x16 cluttered colour digits; CE with label smoothing; error rate.

    Example:
        >>> wl = ImageResNet()
        >>> wl.metric, wl.step_budget, sorted(wl.regularizers)
        (Metric(name='error_rate', mode='min'), 400, ['label_smoothing'])
    """

    name = "image_resnet"
    version = "1"
    task = "image classification (10 classes, 16x16 RGB)"
    dataset = "cluttered colour digits: scikit-learn digits warped onto textured canvases"
    model = "ResNet (3 stages x 1 basic block, widths 8/16/32, GroupNorm)"
    loss = "softmax cross-entropy with label smoothing"
    metric = Metric("error_rate", "min")
    step_budget = 400
    batch_size = 32
    num_evals = 20
    regularizers = frozenset({"label_smoothing"})
    data_seed = 0
    eval_batch_size = 50
    # benchmarks/workloads.py, s/trial (CPU-s/trial): processes 1.91 (3.8), sequential
    # 1.94 (3.4); vmap over 16 points costs 5.2 CPU-s/trial.
    batching = "processes"

    num_train: ClassVar[int] = 3000
    num_valid: ClassVar[int] = 1000

    activation: ClassVar[str] = "relu"
    width: ClassVar[int] = 8
    blocks: ClassVar[tuple[int, ...]] = (1, 1, 1)

    @property
    def net(self) -> ResNet:
        return ResNet(
            num_classes=images.NUM_CLASSES,
            width=self.width,
            blocks=self.blocks,
            activation=self.activation,
        )

    def make_data(self) -> Dataset:
        return images.digit_images(
            self.data_seed, num_train=self.num_train, num_valid=self.num_valid
        )

    def init(self, rng: Any) -> Any:
        return self.net.init(rng, jnp.zeros((1, 16, 16, 3)))["params"]

    def loss_fn(
        self, params: Any, batch: Batch, rng: Any, dropout_rate: Any, label_smoothing: Any
    ) -> Any:
        # flax types apply's result as also (output, variables), which it is only with mutable=
        logits = cast(jax.Array, self.net.apply({"params": params}, batch["image"]))
        return softmax_cross_entropy(logits, batch["label"], label_smoothing)

    def predict(self, params: Any, batch: Batch) -> Any:
        return self.net.apply({"params": params}, batch["image"])

    def score(self, outputs: Any, valid: Mapping[str, np.ndarray]) -> dict[str, float]:
        return images.classification_scores(outputs, valid["label"])


@register
class ImageResNetSiLU(ImageResNet):
    """``image_resnet`` with SiLU instead of ReLU (AlgoPerf's ``imagenet_resnet_silu``)."""

    name = "image_resnet_silu"
    base = "image_resnet"
    model = "ResNet (3 stages x 1 basic block, widths 8/16/32, GroupNorm, SiLU)"
    activation = "silu"
