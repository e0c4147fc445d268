"""``image_vit``: a small Vision Transformer on cluttered colour digits (the analog of AlgoPerf's ImageNet ViT).

The images and metric are those of ``image_resnet`` (:mod:`hplists.workloads.images`).
The model follows AlgoPerf's ViT (itself big_vision's, Dosovitskiy et al. 2021,
"An image is worth 16x16 words"):

    tokens = patches(x) @ W_embed + posemb_sincos_2d          (4x4 patches: 16 tokens)
    tokens = dropout(tokens)
    block (Pre-LN):  h = h + dropout(MHSA(LN(h)));  h = h + dropout(MLP(LN(h)))
    MLP(h) = Dense(dropout(gelu(Dense(h))))
    logits = head(tanh(pre_logits(mean_tokens(LN(h)))))      (head initialized to zero)

Dropout sits where AlgoPerf's ViT has it (after the position embedding, inside
the MLP, and on both residual branches), with one rate per point. The loss is
cross-entropy with label smoothing. The budget is twice ``image_resnet``'s
(800 steps): without a convolution's built-in locality the ViT learns more
slowly per example (about 50% error after 400 steps at a good point, 37%
after 800), but a step costs about half as much.

The architectural knob of the variant is :attr:`ImageViT.post_ln`
(``image_vit_post_ln``: LayerNorm after each residual addition and no final
LayerNorm, as AlgoPerf's ``imagenet_vit_post_ln``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from hplists._check import check_int
from hplists.exceptions import InvalidParameterError
from hplists.workloads import images
from hplists.workloads.contract import Batch, Dataset, JaxWorkload, Metric
from hplists.workloads.layers import dropout, softmax_cross_entropy
from hplists.workloads.registry import register

__all__ = ["ImageViT", "ImageViTPostLN", "ViT", "posemb_sincos_2d"]


def posemb_sincos_2d(h: int, w: int, width: int, temperature: float = 10_000.0) -> jax.Array:
    """Fixed 2-D sine-cosine position embedding (MoCo v3, as in big_vision and AlgoPerf).

    For grid position ``(y, x)`` and ``omega_k = temperature ** (-k / (width / 4 - 1))``,
    ``k < width / 4``, the embedding is ``[sin(x omega), cos(x omega), sin(y omega), cos(y omega)]``.

    Example:
        >>> posemb_sincos_2d(4, 4, 8).shape
        (16, 8)
    """
    width = check_int("width", width, low=8)
    if width % 4:
        raise InvalidParameterError(f"width must be a multiple of 4 for the sin-cos embedding, got {width}")
    y, x = jnp.mgrid[:h, :w]
    omega = 1.0 / temperature ** (jnp.arange(width // 4) / (width // 4 - 1))
    y = y.reshape(-1, 1) * omega
    x = x.reshape(-1, 1) * omega
    return jnp.concatenate([jnp.sin(x), jnp.cos(x), jnp.sin(y), jnp.cos(y)], axis=1)


_dense = nn.initializers.xavier_uniform()
_bias = nn.initializers.normal(stddev=1e-6)


class _MlpBlock(nn.Module):
    mlp_dim: int

    @nn.compact
    def __call__(self, x: jax.Array, rate: Any, rng: jax.Array | None) -> jax.Array:
        d = x.shape[-1]
        x = nn.gelu(nn.Dense(self.mlp_dim, kernel_init=_dense, bias_init=_bias)(x))
        x = dropout(x, rate, rng)
        return nn.Dense(d, kernel_init=_dense, bias_init=_bias)(x)


class _EncoderBlock(nn.Module):
    num_heads: int
    mlp_dim: int
    post_ln: bool

    @nn.compact
    def __call__(self, x: jax.Array, rate: Any, rng: jax.Array | None) -> jax.Array:
        keys = [None] * 3 if rng is None else list(jax.random.split(rng, 3))
        attention = nn.MultiHeadDotProductAttention(num_heads=self.num_heads, kernel_init=_dense)
        mlp = _MlpBlock(self.mlp_dim)
        if self.post_ln:
            x = nn.LayerNorm()(x + dropout(attention(x), rate, keys[0]))
            return nn.LayerNorm()(x + dropout(mlp(x, rate, keys[1]), rate, keys[2]))
        x = x + dropout(attention(nn.LayerNorm()(x)), rate, keys[0])
        return x + dropout(mlp(nn.LayerNorm()(x), rate, keys[1]), rate, keys[2])


class ViT(nn.Module):
    """A small ViT classifier for NHWC images.

    Attributes:
        num_classes: outputs of the head.
        patch_size: side of the square patches (must divide the image side).
        width: token dimension (a multiple of 4 and of ``num_heads``).
        depth: encoder blocks.
        num_heads: attention heads.
        mlp_dim: hidden units of each MLP block.
        post_ln: LayerNorm after the residual additions (Post-LN) instead of
            before each branch plus a final one (Pre-LN).

    Calling the module with ``rng=None`` turns dropout off.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> vit = ViT(num_classes=10, width=16, depth=1, num_heads=2, mlp_dim=32)
        >>> x = jnp.ones((2, 16, 16, 3))
        >>> params = vit.init(jax.random.key(0), x, 0.0, None)
        >>> vit.apply(params, x, 0.1, jax.random.key(1)).shape
        (2, 10)
    """

    num_classes: int
    patch_size: int = 4
    width: int = 32
    depth: int = 3
    num_heads: int = 4
    mlp_dim: int = 64
    post_ln: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, dropout_rate: Any, rng: jax.Array | None) -> jax.Array:
        *lead, h, w, c = x.shape
        p = self.patch_size
        if h % p or w % p:
            raise InvalidParameterError(f"patch_size {p} must divide the image size {(h, w)}")
        # Non-overlapping patches, flattened in (row, col, channel) order: a
        # stride-p convolution as one matrix product.
        x = x.reshape(*lead, h // p, p, w // p, p, c).swapaxes(-4, -3)
        x = x.reshape(*lead, (h // p) * (w // p), p * p * c)
        x = nn.Dense(self.width, name="patch_embed")(x)
        x = x + posemb_sincos_2d(h // p, w // p, self.width).astype(x.dtype)
        keys = [None] * (self.depth + 1)
        if rng is not None:
            keys = list(jax.random.split(rng, self.depth + 1))
        x = dropout(x, dropout_rate, keys[0])
        for i in range(self.depth):
            x = _EncoderBlock(self.num_heads, self.mlp_dim, self.post_ln)(
                x, dropout_rate, keys[i + 1]
            )
        if not self.post_ln:
            x = nn.LayerNorm(name="encoder_norm")(x)
        x = jnp.mean(x, axis=-2)
        x = jnp.tanh(nn.Dense(self.width, name="pre_logits")(x))
        return nn.Dense(self.num_classes, kernel_init=nn.initializers.zeros_init(), name="head")(x)


@register
class ImageViT(JaxWorkload):
    """Small Pre-LN ViT on 16x16 cluttered colour digits; CE with label smoothing; error rate.

    Example:
        >>> wl = ImageViT()
        >>> wl.metric.name, sorted(wl.regularizers), wl.post_ln
        ('error_rate', ['dropout', 'label_smoothing'], False)
    """

    name = "image_vit"
    version = "1"
    task = "image classification (10 classes, 16x16 RGB)"
    dataset = "cluttered colour digits: scikit-learn digits warped onto textured canvases"
    model = "Pre-LN ViT (4x4 patches, width 32, 3 blocks, 4 heads, MLP 64)"
    loss = "softmax cross-entropy with label smoothing"
    metric = Metric("error_rate", "min")
    step_budget = 800
    batch_size = 32
    num_evals = 20
    regularizers = frozenset({"dropout", "label_smoothing"})
    data_seed = 0
    eval_batch_size = 50
    # s/trial (CPU-s/trial): processes/vmap 1.29 (2.6), vmap 1.86 (2.8), processes
    # 1.89 (3.7): vmapping 8 points pays here, unlike for the convolutional workloads.
    batching = "processes/vmap"
    vmap_size = 8

    num_train: ClassVar[int] = 3000
    num_valid: ClassVar[int] = 1000

    post_ln: ClassVar[bool] = False
    patch_size: ClassVar[int] = 4
    width: ClassVar[int] = 32
    depth: ClassVar[int] = 3
    num_heads: ClassVar[int] = 4
    mlp_dim: ClassVar[int] = 64

    @property
    def net(self) -> ViT:
        return ViT(
            num_classes=images.NUM_CLASSES,
            patch_size=self.patch_size,
            width=self.width,
            depth=self.depth,
            num_heads=self.num_heads,
            mlp_dim=self.mlp_dim,
            post_ln=self.post_ln,
        )

    def make_data(self) -> Dataset:
        return images.digit_images(
            self.data_seed, num_train=self.num_train, num_valid=self.num_valid
        )

    def init(self, rng: Any) -> Any:
        return self.net.init(rng, jnp.zeros((1, 16, 16, 3)), 0.0, None)["params"]

    def loss_fn(
        self, params: Any, batch: Batch, rng: Any, dropout_rate: Any, label_smoothing: Any
    ) -> Any:
        # flax types apply's result as also (output, variables), which it is only with mutable=
        logits = cast(jax.Array, self.net.apply({"params": params}, batch["image"],
                                                dropout_rate, rng))
        return softmax_cross_entropy(logits, batch["label"], label_smoothing)

    def predict(self, params: Any, batch: Batch) -> Any:
        return self.net.apply({"params": params}, batch["image"], 0.0, None)

    def score(self, outputs: Any, valid: Mapping[str, np.ndarray]) -> dict[str, float]:
        return images.classification_scores(outputs, valid["label"])


@register
class ImageViTPostLN(ImageViT):
    """``image_vit`` with Post-LN blocks (AlgoPerf's ``imagenet_vit_post_ln``)."""

    name = "image_vit_post_ln"
    base = "image_vit"
    model = "Post-LN ViT (4x4 patches, width 32, 3 blocks, 4 heads, MLP 64)"
    post_ln = True
