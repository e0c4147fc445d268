"""Speech-like transcription: a synthetic corpus and the CTC task shared by the speech workloads.

LibriSpeech is out of reach on a 2-core CPU, so the speech workloads
(``speech_conformer``, ``speech_rnn``) transcribe utterances drawn from a
hidden generative model with the structure that makes speech recognition a
sequence problem:

* a lexicon of words, each a sequence of 2-4 phone-like *units*;
* every unit is a short trajectory between two feature templates (onset and
  steady state); units come in clusters of similar templates, so some are
  easily confused;
* speakers differ: each has a speaking rate (unit durations of 2-4 frames,
  scaled), a per-feature offset and gain, and an "accent" that perturbs every
  unit template; validation speakers are never seen in training;
* neighbouring frames blur together (coarticulation), words are sometimes
  separated by a short pause, utterances start and end with silence, and every
  frame carries additive noise;
* utterances of 2-4 words are padded to a fixed number of frames.

Targets are the unit sequences with a word-separator label between words (as
character-level LibriSpeech targets have a space). The model emits one CTC
distribution per (subsampled) frame; greedy decoding, splitting at separators
and comparing words gives the word error rate. Label ``0`` is the CTC blank.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import jax.numpy as jnp
import numpy as np
import optax

from hplists._check import check_int, check_real
from hplists.exceptions import InvalidParameterError
from hplists.workloads.cache import cached_dataset
from hplists.workloads.contract import Dataset, JaxWorkload, Metric
from hplists.workloads.ctc import greedy_decode
from hplists.workloads.edit_distance import word_error_rate

__all__ = ["BLANK", "SpeechWorkload", "generate", "split_words"]

BLANK = 0
NUM_UNITS = 16
NUM_TRAIN = 2048
_DATASET = (
    "synthetic speech-like corpus: {num_train} training / 256 validation utterances of 2-4 "
    "words, 48 frames x 16 features, unseen validation speakers"
)
_GENERATOR_VERSION = "1"


def _lexicon(rng: np.random.Generator, num_words: int, num_units: int) -> list[tuple[int, ...]]:
    """Distinct words of 2-4 units (ids 1..num_units), no unit repeated back to back."""
    words: set[tuple[int, ...]] = set()
    lexicon: list[tuple[int, ...]] = []
    while len(lexicon) < num_words:
        length = int(rng.integers(2, 5))
        word = [int(rng.integers(1, num_units + 1))]
        while len(word) < length:
            u = int(rng.integers(1, num_units + 1))
            if u != word[-1]:
                word.append(u)
        if tuple(word) not in words:
            words.add(tuple(word))
            lexicon.append(tuple(word))
    return lexicon


def generate(
    seed: int = 0,
    *,
    num_train: int = NUM_TRAIN,
    num_valid: int = 256,
    num_frames: int = 48,
    num_features: int = 16,
    num_units: int = NUM_UNITS,
    num_words: int = 40,
    max_words: int = 4,
    train_speakers: int = 200,
    valid_speakers: int = 16,
    noise: float = 0.4,
    spread: float = 1.2,
    accent: float = 0.2,
    pause: float = 0.5,
) -> Dataset:
    """Generates the speech-like corpus (deterministic in ``seed``).

    Returns a :class:`~hplists.workloads.contract.Dataset` whose splits hold
    ``inputs`` (float32, ``[n, num_frames, num_features]``), ``input_paddings``
    (1.0 on padded frames), ``labels`` (int32, units ``1..num_units``, word
    separator ``num_units + 1``, padded with 0) and ``label_paddings``.
    ``meta`` holds ``vocab_size`` (blank + units + separator), ``separator``
    and ``max_labels``. Features are normalized per dimension with training
    statistics; padded frames are zero.

    Args:
        seed: draws the hidden model (templates, lexicon, speakers) and the utterances.
        num_train, num_valid: utterances per split.
        num_frames, num_features: padded length and feature dimension of an utterance.
        num_units, num_words: phone-like units and lexicon size (words of 2-4 units).
        max_words: utterances have 2..max_words words.
        train_speakers, valid_speakers: disjoint speaker pools of the two splits.
        noise: standard deviation of the additive frame noise.
        spread: how far unit templates lie from their cluster centre (smaller:
            more confusable units).
        accent: standard deviation of a speaker's perturbation of every template.
        pause: probability of a short silence between two words.

    Example:
        >>> d = generate(0, num_train=8, num_valid=4)
        >>> d.train["inputs"].shape, d.valid["labels"].dtype.name, d.meta["vocab_size"]
        ((8, 48, 16), 'int32', 18)
        >>> sep = d.meta["separator"]
        >>> row = d.train["labels"][0][d.train["label_paddings"][0] == 0]
        >>> bool(row[0] != sep and row[-1] != sep and 0 not in row)
        True
    """
    seed = check_int("seed", seed, low=0)
    num_train = check_int("num_train", num_train, low=1)
    num_valid = check_int("num_valid", num_valid, low=1)
    num_frames = check_int("num_frames", num_frames, low=16)
    num_features = check_int("num_features", num_features, low=2)
    num_units = check_int("num_units", num_units, low=2)
    num_words = check_int("num_words", num_words, low=2)
    max_words = check_int("max_words", max_words, low=2)
    train_speakers = check_int("train_speakers", train_speakers, low=1)
    valid_speakers = check_int("valid_speakers", valid_speakers, low=1)
    noise = check_real("noise", noise, low=0.0)
    spread = check_real("spread", spread, low=0.0)
    accent = check_real("accent", accent, low=0.0)
    pause = check_real("pause", pause, 0.0, 1.0)
    if 4 * (num_units - 1) ** 3 < num_words:  # rough count of distinct words
        raise InvalidParameterError(f"num_words must be at most a few per unit, got {num_words}")

    rng = np.random.default_rng(seed)
    clusters = max(1, num_units // 4)
    centers = rng.normal(size=(clusters, num_features))
    cluster_of = rng.integers(0, clusters, size=num_units + 1)
    # Row 0 is silence; units 1..num_units are onset/steady templates near their cluster.
    onset = centers[cluster_of] + spread * rng.normal(size=(num_units + 1, num_features))
    steady = centers[cluster_of] + spread * rng.normal(size=(num_units + 1, num_features))
    onset[0] = steady[0] = 0.0
    lexicon = _lexicon(rng, num_words, num_units)
    word_p = 1.0 / (np.arange(num_words) + 3.0)  # Zipf-like frequencies
    word_p /= word_p.sum()
    separator = num_units + 1
    max_labels = max_words * 4 + max_words - 1

    def speakers(n: int) -> list[dict[str, Any]]:
        return [
            {
                "rate": float(rng.uniform(0.8, 1.25)),
                "offset": 0.5 * rng.normal(size=num_features),
                "gain": np.exp(0.25 * rng.normal(size=num_features)),
                "accent": accent * rng.normal(size=(2, num_units + 1, num_features)),
            }
            for _ in range(n)
        ]

    def utterance(spk: dict[str, Any]) -> tuple[np.ndarray, int, list[int]]:
        while True:
            n_words = int(rng.integers(2, max_words + 1))
            words = rng.choice(num_words, size=n_words, p=word_p)
            units: list[int] = []
            durs: list[int] = []
            labels: list[int] = []
            for i, w in enumerate(words):
                if i:
                    labels.append(separator)
                    if rng.random() < pause:  # a short pause between words
                        units.append(0)
                        durs.append(int(rng.integers(1, 3)))
                for u in lexicon[w]:
                    units.append(u)
                    labels.append(u)
                    durs.append(max(2, round(spk["rate"] * rng.choice([2, 3, 3, 4]))))
            lead, trail = (int(x) for x in rng.integers(0, 4, size=2))
            length = lead + sum(durs) + trail
            # CTC needs at least one (2x subsampled) frame per label.
            if length <= num_frames and math.ceil(length / 2) >= len(labels) + 1:
                break
        frames = np.zeros((length, num_features))
        t = lead
        for u, d in zip(units, durs, strict=True):
            a = onset[u] + spk["accent"][0, u]
            b = steady[u] + spk["accent"][1, u]
            w = np.linspace(0.0, 1.0, d)[:, None]
            frames[t : t + d] = (1 - w) * a + w * b
            t += d
        # Coarticulation: each frame leaks into its neighbours.
        padded = np.pad(frames, ((1, 1), (0, 0)), mode="edge")
        frames = 0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]
        frames = spk["gain"] * frames + spk["offset"]
        frames += noise * rng.normal(size=frames.shape)
        return frames, length, labels

    def split(n: int, pool: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        inputs = np.zeros((n, num_frames, num_features), np.float32)
        input_paddings = np.ones((n, num_frames), np.float32)
        labels = np.zeros((n, max_labels), np.int32)
        label_paddings = np.ones((n, max_labels), np.float32)
        for i in range(n):
            frames, length, lab = utterance(pool[int(rng.integers(len(pool)))])
            inputs[i, :length] = frames
            input_paddings[i, :length] = 0.0
            labels[i, : len(lab)] = lab
            label_paddings[i, : len(lab)] = 0.0
        return {
            "inputs": inputs,
            "input_paddings": input_paddings,
            "labels": labels,
            "label_paddings": label_paddings,
        }

    train = split(num_train, speakers(train_speakers))
    valid = split(num_valid, speakers(valid_speakers))
    # Per-feature normalization with training statistics, as ASR front ends do.
    mask = train["input_paddings"] == 0
    mean = train["inputs"][mask].mean(axis=0)
    std = train["inputs"][mask].std(axis=0)
    for s in (train, valid):
        s["inputs"] = ((s["inputs"] - mean) / std * (s["input_paddings"] == 0)[..., None]).astype(
            np.float32
        )
    meta = {
        "vocab_size": num_units + 2,
        "separator": separator,
        "max_labels": max_labels,
        "num_words": num_words,
    }
    return Dataset(train, valid, meta)


def split_words(labels: np.ndarray, separator: int) -> list[tuple[int, ...]]:
    """Splits a label sequence into words at ``separator`` (empty words dropped).

    Example:
        >>> split_words(np.array([3, 4, 9, 5, 9, 9, 6]), separator=9)
        [(3, 4), (5,), (6,)]
    """
    words: list[tuple[int, ...]] = []
    current: list[int] = []
    for x in np.asarray(labels).tolist():
        if x == separator:
            if current:
                words.append(tuple(current))
            current = []
        else:
            current.append(x)
    if current:
        words.append(tuple(current))
    return words


class SpeechWorkload(JaxWorkload):
    """The transcription task shared by the speech workloads: data, CTC loss, greedy WER.

    A subclass provides the acoustic model as :meth:`network`, a Flax module
    called as ``network(inputs, input_paddings, dropout_rate, rng)`` that returns
    ``(logits, output_paddings)`` (``rng=None`` means no dropout).
    """

    task: ClassVar[str] = "transcribe spoken-like feature sequences into words"
    dataset: ClassVar[str] = _DATASET.format(num_train=NUM_TRAIN)
    loss: ClassVar[str] = "CTC (optax.ctc_loss), summed over utterances / label count"
    metric: ClassVar[Metric] = Metric("wer", "min")
    regularizers: ClassVar[frozenset[str]] = frozenset({"dropout"})
    eval_batch_size: ClassVar[int] = 256
    data_options: ClassVar[Mapping[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "dataset" not in cls.__dict__:  # the description follows the corpus trained on
            cls.dataset = _DATASET.format(num_train=cls.data_options.get("num_train", NUM_TRAIN))

    def make_data(self) -> Dataset:
        return cached_dataset("speech", generate, version=_GENERATOR_VERSION,
                              seed=self.data_seed, **self.data_options)

    @property
    def separator(self) -> int:
        """The word-separator label (labels are blank 0, units 1..n, separator n + 1)."""
        return int(self.data_options.get("num_units", NUM_UNITS)) + 1

    @property
    def vocab_size(self) -> int:
        """Number of CTC output classes: blank, units and separator."""
        return self.separator + 1

    @abc.abstractmethod
    def network(self) -> Any:
        """The Flax acoustic model (see the class docstring)."""

    def init(self, rng: Any) -> Any:
        d = self.make_data()
        x = jnp.zeros((1, *d.train["inputs"].shape[1:]), jnp.float32)
        pad = jnp.zeros((1, x.shape[1]), jnp.float32)
        return self.network().init(rng, x, pad, 0.0, None)["params"]

    def loss_fn(
        self, params: Any, batch: Any, rng: Any, dropout_rate: Any, label_smoothing: Any
    ) -> Any:
        del label_smoothing  # CTC has no label smoothing (as in AlgoPerf)
        logits, paddings = self.network().apply(
            {"params": params}, batch["inputs"], batch["input_paddings"], dropout_rate, rng
        )
        per_seq = optax.ctc_loss(
            logits, paddings, batch["labels"], batch["label_paddings"], blank_id=BLANK
        )
        num_labels = jnp.sum(1.0 - batch["label_paddings"])
        return jnp.sum(per_seq) / jnp.maximum(num_labels, 1.0)

    def predict(self, params: Any, batch: Any) -> Any:
        logits, paddings = self.network().apply(
            {"params": params}, batch["inputs"], batch["input_paddings"], 0.0, None
        )
        # Padded frames decode to blank, so outputs are one int array.
        return jnp.where(paddings > 0, BLANK, jnp.argmax(logits, axis=-1)).astype(jnp.int32)

    def score(self, outputs: Any, valid: Mapping[str, np.ndarray]) -> dict[str, float]:
        sep = self.separator
        hyps = greedy_decode(np.asarray(outputs), blank=BLANK)
        refs = [
            labels[pad == 0] for labels, pad in zip(valid["labels"], valid["label_paddings"],
                                                    strict=True)
        ]
        wer = word_error_rate(
            [split_words(r, sep) for r in refs], [split_words(h, sep) for h in hyps]
        )
        # Label error rate: units and separators, like a character error rate.
        ler = word_error_rate([r.tolist() for r in refs], [h.tolist() for h in hyps])
        return {"wer": wer, "ler": ler}
