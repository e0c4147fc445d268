"""``translate_transformer``: an encoder-decoder Transformer on the synthetic parallel corpus.

The CPU-scale analog of AlgoPerf's WMT Transformer (Vaswani et al., 2017, as
in the Flax WMT example AlgoPerf builds on): token embeddings plus sinusoidal
positions, encoder layers (self-attention, feed-forward), decoder layers
(causal self-attention, cross-attention, feed-forward), the target embedding
shared with the output layer, cross-entropy with label smoothing. Validation
BLEU (``sacrebleu.corpus_bleu``) is computed on greedy translations, decoded
with a key/value cache in a compiled fixed-length loop.

Layer normalization is the class attribute :attr:`TranslateTransformer.post_ln`:
Pre-LN here (``x + f(LN(x))``, a final LayerNorm on each stack), Post-LN in
the variant ``translate_transformer_post_ln`` (``LN(x + f(x))``, paper 001,
Table 3). One dropout rate (the point's) on the embeddings and every residual
branch; no dropout on attention weights or inside feed-forward layers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import sacrebleu

from hplists.workloads.cache import cached_dataset
from hplists.workloads.contract import Dataset, JaxWorkload, Metric
from hplists.workloads.layers import dropout, softmax_cross_entropy
from hplists.workloads.registry import register
from hplists.workloads.sequence import Dense, sinusoidal_positions
from hplists.workloads.translation import (
    BOS,
    GENERATOR_VERSION,
    PAD,
    Grammar,
    generate,
    make_grammar,
)

__all__ = ["Transformer", "TranslateTransformer", "TranslateTransformerPostLN"]


def _key(rng: jax.Array | None, i: int) -> jax.Array | None:
    return None if rng is None else jax.random.fold_in(rng, i)


def _attend(q: jax.Array, k: jax.Array, v: jax.Array, mask: jax.Array) -> jax.Array:
    """Softmax attention of ``q [b, tq, h, d]`` over ``k, v [b, tk, h, d]``; ``mask [b|1, 1, tq, tk]``."""
    logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(q.shape[-1]).astype(q.dtype)
    logits = jnp.where(mask, logits, jnp.finfo(logits.dtype).min)
    return jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(logits, axis=-1), v)


class _Attention(nn.Module):
    dim: int
    heads: int

    def setup(self):
        self.query = Dense(self.dim)
        self.kv = Dense(2 * self.dim)
        self.out = Dense(self.dim)

    def _split(self, x):
        return x.reshape(*x.shape[:2], self.heads, -1)

    def keys_values(self, x):
        k, v = jnp.split(self.kv(x), 2, axis=-1)
        return self._split(k), self._split(v)

    def __call__(self, x: jax.Array, kv: tuple[jax.Array, jax.Array], mask: jax.Array
                 ) -> jax.Array:
        """Attention of ``x`` over the (precomputed) keys and values ``kv``."""
        y = _attend(self._split(self.query(x)), *kv, mask)
        return self.out(y.reshape(*x.shape[:2], self.dim))


class _FeedForward(nn.Module):
    dim: int
    hidden: int

    @nn.compact
    def __call__(self, x):
        return Dense(self.dim)(nn.relu(Dense(self.hidden)(x)))


class _Sublayer(nn.Module):
    """Residual wrapper: ``x + drop(f(LN(x)))`` (Pre-LN) or ``LN(x + drop(f(x)))`` (Post-LN)."""

    post_ln: bool

    def setup(self):
        self.norm = nn.LayerNorm()

    def pre(self, x):
        return x if self.post_ln else self.norm(x)

    def post(self, x, y, rate, rng):
        y = x + dropout(y, rate, rng)
        return self.norm(y) if self.post_ln else y


class _EncoderLayer(nn.Module):
    dim: int
    heads: int
    hidden: int
    post_ln: bool

    def setup(self):
        self.attn = _Attention(self.dim, self.heads)
        self.ffn = _FeedForward(self.dim, self.hidden)
        self.sub1 = _Sublayer(self.post_ln)
        self.sub2 = _Sublayer(self.post_ln)

    def __call__(self, x, mask, rate, rng):
        h = self.sub1.pre(x)
        x = self.sub1.post(x, self.attn(h, self.attn.keys_values(h), mask), rate, _key(rng, 0))
        return self.sub2.post(x, self.ffn(self.sub2.pre(x)), rate, _key(rng, 1))


class _DecoderLayer(nn.Module):
    dim: int
    heads: int
    hidden: int
    post_ln: bool

    def setup(self):
        self.self_attn = _Attention(self.dim, self.heads)
        self.cross_attn = _Attention(self.dim, self.heads)
        self.ffn = _FeedForward(self.dim, self.hidden)
        self.sub1 = _Sublayer(self.post_ln)
        self.sub2 = _Sublayer(self.post_ln)
        self.sub3 = _Sublayer(self.post_ln)

    def __call__(self, y, self_kv, self_mask, cross_kv, cross_mask, rate, rng):
        """One layer; ``self_kv`` is None (computed from ``y``) or a decoding cache."""
        h = self.sub1.pre(y)
        kv = self.self_attn.keys_values(h) if self_kv is None else self_kv
        y = self.sub1.post(y, self.self_attn(h, kv, self_mask), rate, _key(rng, 0))
        y = self.sub2.post(y, self.cross_attn(self.sub2.pre(y), cross_kv, cross_mask), rate,
                           _key(rng, 1))
        return self.sub3.post(y, self.ffn(self.sub3.pre(y)), rate, _key(rng, 2))


class Transformer(nn.Module):
    """Encoder-decoder Transformer with a shared target embedding / output layer.

    Methods (call with ``Module.apply(params, ..., method=...)``):
    ``__call__(src, tgt_in, dropout_rate, rng)`` returns teacher-forced logits
    ``[b, t, target_vocab]``; :meth:`greedy` via :func:`greedy_decode`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> m = Transformer(source_vocab=7, target_vocab=9, dim=16, heads=2, hidden=32,
        ...                 max_len=6)
        >>> src = jnp.array([[3, 4, 5, 0, 0, 0]])
        >>> params = m.init(jax.random.key(0), src, src, 0.0, None)
        >>> m.apply(params, src, src, 0.0, None).shape
        (1, 6, 9)
        >>> greedy_decode(m, params, src).shape
        (1, 6)
    """

    source_vocab: int
    target_vocab: int
    dim: int = 64
    heads: int = 4
    hidden: int = 128
    encoder_layers: int = 2
    decoder_layers: int = 2
    max_len: int = 16
    post_ln: bool = False

    def setup(self):
        # Vaswani et al.: embeddings scaled by sqrt(dim) on input; small init so
        # that Adam's steps move them as fast (relatively) as the other weights.
        init = nn.initializers.normal(stddev=self.dim**-0.5)
        self.source_embed = nn.Embed(self.source_vocab, self.dim, embedding_init=init)
        self.target_embed = nn.Embed(self.target_vocab, self.dim, embedding_init=init)
        args = (self.dim, self.heads, self.hidden, self.post_ln)
        self.encoder = [_EncoderLayer(*args) for _ in range(self.encoder_layers)]
        self.decoder = [_DecoderLayer(*args) for _ in range(self.decoder_layers)]
        if not self.post_ln:
            self.encoder_norm = nn.LayerNorm()
            self.decoder_norm = nn.LayerNorm()
        self.positions = sinusoidal_positions(self.max_len, self.dim)

    def encode(self, src, rate, rng):
        """Encoder output and the cross-attention mask ``[b, 1, 1, s]``."""
        mask = (src != PAD)[:, None, None, :]
        x = self.source_embed(src) * np.sqrt(self.dim) + self.positions[: src.shape[1]]
        x = dropout(x, rate, _key(rng, 0))
        for i, layer in enumerate(self.encoder):
            x = layer(x, mask, rate, _key(rng, i + 1))
        return (x if self.post_ln else self.encoder_norm(x)), mask

    def cross_keys_values(self, enc):
        return [layer.cross_attn.keys_values(enc) for layer in self.decoder]

    def _logits(self, y):
        y = y if self.post_ln else self.decoder_norm(y)
        return self.target_embed.attend(y)

    def __call__(self, src, tgt_in, rate, rng):
        enc, cross_mask = self.encode(src, rate, _key(rng, 0))
        t = tgt_in.shape[1]
        causal = jnp.tril(jnp.ones((t, t), bool))[None, None]
        y = self.target_embed(tgt_in) * np.sqrt(self.dim) + self.positions[:t]
        y = dropout(y, rate, _key(rng, 1))
        for i, (layer, kv) in enumerate(zip(self.decoder, self.cross_keys_values(enc),
                                            strict=True)):
            y = layer(y, None, causal, kv, cross_mask, rate, _key(rng, i + 2))
        return self._logits(y)

    def decode_step(self, token, index, caches, cross_kvs, cross_mask):
        """Logits for position ``index`` given the previous ``token [b]``; updates the caches."""
        y = self.target_embed(token[:, None]) * np.sqrt(self.dim) + jax.lax.dynamic_slice_in_dim(
            jnp.asarray(self.positions), index, 1
        )
        seen = (jnp.arange(self.max_len) <= index)[None, None, None, :]
        new_caches = []
        for layer, (k_cache, v_cache), kv in zip(self.decoder, caches, cross_kvs, strict=True):
            k, v = layer.self_attn.keys_values(layer.sub1.pre(y))
            k_cache = jax.lax.dynamic_update_slice_in_dim(k_cache, k, index, axis=1)
            v_cache = jax.lax.dynamic_update_slice_in_dim(v_cache, v, index, axis=1)
            new_caches.append((k_cache, v_cache))
            y = layer(y, (k_cache, v_cache), seen, kv, cross_mask, 0.0, None)
        return self._logits(y)[:, 0], new_caches


def greedy_decode(model: Transformer, params: Any, src: jax.Array) -> jax.Array:
    """Greedy translation ``[b, max_len]`` of ``src [b, max_len]`` (no dropout).

    One decoder step per position in a ``lax.fori_loop``; self-attention keys
    and values of earlier positions come from a cache and the cross-attention
    keys and values are computed once, so decoding costs about one
    teacher-forced pass. Tokens after the first end token are not meaningful.
    """
    b = src.shape[0]
    enc, cross_mask = model.apply(params, src, 0.0, None, method=Transformer.encode)
    cross_kvs = model.apply(params, enc, method=Transformer.cross_keys_values)
    shape = (b, model.max_len, model.heads, model.dim // model.heads)
    caches = [(jnp.zeros(shape, enc.dtype), jnp.zeros(shape, enc.dtype))
              for _ in range(model.decoder_layers)]
    tokens = jnp.zeros((b, model.max_len), jnp.int32)

    def body(i, carry):
        tokens, caches = carry
        prev = jnp.where(i == 0, BOS, tokens[:, jnp.maximum(i - 1, 0)])
        logits, caches = model.apply(params, prev, i, caches, cross_kvs, cross_mask,
                                     method=Transformer.decode_step)
        tokens = tokens.at[:, i].set(jnp.argmax(logits, axis=-1).astype(jnp.int32))
        return tokens, caches

    tokens, _ = jax.lax.fori_loop(0, model.max_len, body, (tokens, caches))
    return tokens


@register
class TranslateTransformer(JaxWorkload):
    """Pre-LN Transformer translating the synthetic parallel corpus; validation BLEU (higher is better).

    Example:
        >>> from hplists.workloads.registry import get_workload
        >>> w = get_workload("translate_transformer")
        >>> w.metric, w.post_ln, get_workload("translate_transformer_post_ln").post_ln
        (Metric(name='bleu', mode='max'), False, True)
    """

    name: ClassVar[str] = "translate_transformer"
    version: ClassVar[str] = "1"
    task: ClassVar[str] = "translate sentences of a synthetic language pair"
    dataset: ClassVar[str] = (
        "synthetic parallel corpus from a hidden grammar (lexical mapping, agreement, "
        "adjective reordering, negation circumfix, contraction): 4096 training / 256 "
        "validation sentence pairs, up to 13 tokens"
    )
    model: ClassVar[str] = (
        "encoder-decoder Transformer, Pre-LN, 2+2 layers, width 64, 4 heads, FFN 128, "
        "shared target embedding"
    )
    loss: ClassVar[str] = "cross-entropy with label smoothing over non-padding target tokens"
    metric: ClassVar[Metric] = Metric("bleu", "max")
    step_budget: ClassVar[int] = 300
    batch_size: ClassVar[int] = 32
    regularizers: ClassVar[frozenset[str]] = frozenset({"dropout", "label_smoothing"})
    eval_batch_size: ClassVar[int] = 256
    batching: ClassVar[str] = "processes"
    post_ln: ClassVar[bool] = False
    dim: ClassVar[int] = 64
    hidden: ClassVar[int] = 128
    data_options: ClassVar[Mapping[str, Any]] = {}

    def make_data(self) -> Dataset:
        return cached_dataset("translation", generate, version=GENERATOR_VERSION,
                              seed=self.data_seed, **self.data_options)

    def grammar(self) -> Grammar:
        """The hidden grammar of the corpus (its target words spell the outputs)."""
        opts = {k: v for k, v in self.data_options.items() if k not in ("num_train", "num_valid")}
        return make_grammar(self.data_seed, **opts)

    def network(self) -> Transformer:
        g = self.grammar()
        return Transformer(
            source_vocab=len(g.source_words),
            target_vocab=len(g.target_words),
            dim=self.dim,
            hidden=self.hidden,
            max_len=g.max_len,
            post_ln=self.post_ln,
        )

    def init(self, rng: Any) -> Any:
        m = self.network()
        x = jnp.zeros((1, m.max_len), jnp.int32)
        return m.init(rng, x, x, 0.0, None)["params"]

    def loss_fn(
        self, params: Any, batch: Any, rng: Any, dropout_rate: Any, label_smoothing: Any
    ) -> Any:
        targets = batch["targets"]
        tgt_in = jnp.pad(targets[:, :-1], ((0, 0), (1, 0)), constant_values=BOS)
        # flax types apply's result as also (output, variables), which it is only with mutable=
        logits = cast(jax.Array, self.network().apply(
            {"params": params}, batch["inputs"], tgt_in, dropout_rate, rng
        ))
        return softmax_cross_entropy(logits, targets, label_smoothing, where=targets != PAD)

    def predict(self, params: Any, batch: Any) -> Any:
        return greedy_decode(self.network(), {"params": params}, batch["inputs"])

    def score(self, outputs: Any, valid: Mapping[str, np.ndarray]) -> dict[str, float]:
        g = self.grammar()
        hyps = [g.detokenize(row) for row in np.asarray(outputs)]
        refs = [g.detokenize(row) for row in valid["targets"]]
        exact = float(np.mean([h == r for h, r in zip(hyps, refs, strict=True)]))
        return {"bleu": float(sacrebleu.corpus_bleu(hyps, [refs]).score), "exact_match": exact}


@register
class TranslateTransformerPostLN(TranslateTransformer):
    """``translate_transformer`` with Post-LN instead of Pre-LN (paper 001, Table 3)."""

    name: ClassVar[str] = "translate_transformer_post_ln"
    base: ClassVar[str | None] = "translate_transformer"
    model: ClassVar[str] = TranslateTransformer.model.replace("Pre-LN", "Post-LN")
    post_ln: ClassVar[bool] = True
