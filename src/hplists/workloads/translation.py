"""A synthetic parallel corpus: a source language and its translation by a hidden grammar.

WMT is out of reach on a 2-core CPU, so ``translate_transformer`` translates
sentences of two made-up languages whose relation has what makes translation
a sequence-to-sequence problem rather than word substitution:

* a vocabulary mapping: every source lemma has a target lemma (pseudo-words);
* morphology and agreement: target nouns have a hidden gender; determiners and
  adjectives agree with their noun in gender and number; verbs agree with the
  subject in number; plural nouns take a gender-dependent suffix;
* reordering: adjectives follow the noun in the target (with
  ``max_adjectives=2``, two adjectives also swap their order);
* a discontinuous construction: negation ``not V`` becomes ``ne V pas``;
* a contraction: the first preposition followed by a masculine singular
  definite article fuse into one word (as French ``de le`` -> ``du``);
* Zipf-like word frequencies, so rare words (and their genders) are learned late.

Sentences are ``subject [not] verb object [preposition noun-phrase]`` with
noun phrases ``determiner [adjective] noun``: 5-11 source words, up to 12
target words and an end token (13 tokens), padded. Token ids: source ``0`` is
padding; target ``0`` padding, ``1`` begin, ``2`` end.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from hplists._check import check_int
from hplists.workloads.contract import Dataset

__all__ = ["BOS", "EOS", "PAD", "Grammar", "generate", "make_grammar"]

PAD, BOS, EOS = 0, 1, 2
GENERATOR_VERSION = "2"

_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"


def _pseudo_words(rng: np.random.Generator, n: int, taken: set[str]) -> list[str]:
    """``n`` distinct pronounceable words of 2-3 syllables, none in ``taken``."""
    out: list[str] = []
    while len(out) < n:
        syllables = int(rng.integers(2, 4))
        w = "".join(rng.choice(list(_CONSONANTS)) + rng.choice(list(_VOWELS))
                    for _ in range(syllables))
        if w not in taken:
            taken.add(w)
            out.append(w)
    return out


@dataclasses.dataclass(frozen=True)
class Grammar:
    """The hidden grammar relating the two languages (see the module docstring).

    ``source_words[i]`` / ``target_words[i]`` spell token ``i``. The other
    fields hold token ids: ``*_noun[lemma, number]``, ``target_adj[lemma,
    gender, number]``, ``*_verb[lemma, number]``, ``source_det[definite,
    number]``, ``target_det[definite, gender, number]``, ``*_prep[prep]``, the
    negation tokens, ``contraction`` and the hidden ``gender`` of each noun.
    """

    source_words: tuple[str, ...]
    target_words: tuple[str, ...]
    gender: np.ndarray
    source_noun: np.ndarray
    target_noun: np.ndarray
    source_adj: np.ndarray
    target_adj: np.ndarray
    source_verb: np.ndarray
    target_verb: np.ndarray
    source_det: np.ndarray
    target_det: np.ndarray
    source_prep: np.ndarray
    target_prep: np.ndarray
    source_not: int
    target_ne: int
    target_pas: int
    contraction: int
    max_adjectives: int = 1
    max_len: int = 13

    def sample(self, rng: np.random.Generator) -> tuple[list[int], list[int]]:
        """One sentence pair (source ids, target ids without the end token)."""
        src: list[int] = []
        tgt: list[int] = []

        def zipf(n: int) -> np.ndarray:
            p = 1.0 / (np.arange(n) + 2.0)
            return p / p.sum()

        def noun_phrase(max_adj: int, after_prep: int | None = None) -> int:
            noun = int(rng.choice(len(self.gender), p=zipf(len(self.gender))))
            number = int(rng.integers(2))
            definite = int(rng.integers(2))
            n_adj = int(rng.choice(3, p=[0.5, 0.35, 0.15])) if max_adj else 0
            n_adj = min(n_adj, max_adj)
            adjs = [int(a) for a in rng.choice(len(self.source_adj), size=n_adj, replace=False,
                                                p=zipf(len(self.source_adj)))]
            g = int(self.gender[noun])
            if after_prep is not None:
                src.append(int(self.source_prep[after_prep]))
            src.append(int(self.source_det[definite, number]))
            src.extend(int(self.source_adj[a]) for a in adjs)
            src.append(int(self.source_noun[noun, number]))
            if after_prep == 0 and definite and g == 0 and number == 0:
                tgt.append(self.contraction)
            else:
                if after_prep is not None:
                    tgt.append(int(self.target_prep[after_prep]))
                tgt.append(int(self.target_det[definite, g, number]))
            tgt.append(int(self.target_noun[noun, number]))
            tgt.extend(int(self.target_adj[a, g, number]) for a in reversed(adjs))
            return number

        number = noun_phrase(max_adj=self.max_adjectives)
        negated = rng.random() < 0.25
        verb = int(rng.choice(len(self.source_verb), p=zipf(len(self.source_verb))))
        if negated:
            src.append(self.source_not)
            tgt.append(self.target_ne)
        src.append(int(self.source_verb[verb, number]))
        tgt.append(int(self.target_verb[verb, number]))
        if negated:
            tgt.append(self.target_pas)
        noun_phrase(max_adj=self.max_adjectives)
        if rng.random() < 0.4:
            noun_phrase(max_adj=self.max_adjectives - 1, after_prep=int(rng.integers(len(self.source_prep))))
        return src, tgt

    def detokenize(self, ids: np.ndarray) -> str:
        """Target ids to text: words up to the first end token, padding and begin dropped.

        Example:
            >>> g = make_grammar(0)
            >>> g.detokenize(np.array([g.target_ne, EOS, g.target_pas])) == g.target_words[g.target_ne]
            True
        """
        words = []
        for i in np.asarray(ids).tolist():
            if i == EOS:
                break
            if i > EOS:
                words.append(self.target_words[i])
        return " ".join(words)


@functools.cache
def make_grammar(
    seed: int = 0,
    num_nouns: int = 24,
    num_adjectives: int = 12,
    num_verbs: int = 12,
    max_adjectives: int = 1,
) -> Grammar:
    """The grammar drawn from ``seed`` (cheap and cached: scoring needs the target words).

    Example:
        >>> g = make_grammar(0)
        >>> len(g.source_words), len(g.target_words)
        (93, 136)
    """
    seed = check_int("seed", seed, low=0)
    num_nouns = check_int("num_nouns", num_nouns, low=2)
    num_adjectives = check_int("num_adjectives", num_adjectives, low=2)
    num_verbs = check_int("num_verbs", num_verbs, low=1)
    max_adjectives = check_int("max_adjectives", max_adjectives, low=1, high=2)
    rng = np.random.default_rng([seed, 0x7A11])
    taken: set[str] = set()
    src_words = ["<pad>"]
    tgt_words = ["<pad>", "<s>", "</s>"]

    def add(table: list[str], words: list[str]) -> np.ndarray:
        start = len(table)
        table.extend(words)
        return np.arange(start, len(table))

    # Source: nouns and verbs have two number forms, written as suffixes of one stem.
    stems = _pseudo_words(rng, num_nouns + num_adjectives + num_verbs + 3 + 4 + 1, taken)
    n_stems = stems[:num_nouns]
    a_stems = stems[num_nouns : num_nouns + num_adjectives]
    v_stems = stems[num_nouns + num_adjectives : num_nouns + num_adjectives + num_verbs]
    rest = stems[num_nouns + num_adjectives + num_verbs :]
    source_noun = add(src_words, [s + x for s in n_stems for x in ("", "s")]).reshape(-1, 2)
    source_adj = add(src_words, a_stems)
    source_verb = add(src_words, [s + x for s in v_stems for x in ("s", "")]).reshape(-1, 2)
    # Definite / indefinite x singular / plural: "the", "the", "a", "some".
    the, a, some = rest[:3]
    source_det = np.zeros((2, 2), np.int64)
    ids = add(src_words, [the, a, some])
    source_det[1, :] = ids[0]
    source_det[0, 0], source_det[0, 1] = ids[1], ids[2]
    source_prep = add(src_words, rest[3:7])
    source_not = int(add(src_words, [rest[7]])[0])

    t_stems = _pseudo_words(rng, num_nouns + num_adjectives + num_verbs + 6 + 4 + 3, taken)
    tn = t_stems[:num_nouns]
    ta = t_stems[num_nouns : num_nouns + num_adjectives]
    tv = t_stems[num_nouns + num_adjectives : num_nouns + num_adjectives + num_verbs]
    trest = t_stems[num_nouns + num_adjectives + num_verbs :]
    gender = rng.integers(0, 2, size=num_nouns)
    plural = ("s", "en")  # by gender
    target_noun = add(
        tgt_words, [s + x for s, g in zip(tn, gender, strict=True) for x in ("", plural[g])]
    ).reshape(-1, 2)
    suffix = (("", "s"), ("e", "es"))  # [gender][number]
    target_adj = add(
        tgt_words, [s + suffix[g][n] for s in ta for g in (0, 1) for n in (0, 1)]
    ).reshape(-1, 2, 2)
    target_verb = add(tgt_words, [s + x for s in tv for x in ("t", "nt")]).reshape(-1, 2)
    target_det = add(tgt_words, trest[:6]).reshape(2, 3)
    # [definite, gender, number]: plural articles do not mark gender.
    target_det = target_det[:, [[0, 2], [1, 2]]]
    target_prep = add(tgt_words, trest[6:10])
    target_ne, target_pas, contraction = (int(i) for i in add(tgt_words, trest[10:13]))
    return Grammar(
        source_words=tuple(src_words),
        target_words=tuple(tgt_words),
        gender=gender,
        source_noun=source_noun,
        target_noun=target_noun,
        source_adj=source_adj,
        target_adj=target_adj,
        source_verb=source_verb,
        target_verb=target_verb,
        source_det=source_det,
        target_det=target_det,
        source_prep=source_prep,
        target_prep=target_prep,
        source_not=source_not,
        target_ne=target_ne,
        target_pas=target_pas,
        contraction=contraction,
        max_adjectives=max_adjectives,
        # subject, negation (2), verb, object, preposition phrase, end token
        max_len=(1 + max_adjectives + 1) * 2 + 3 + (1 + max_adjectives) + 1 + 1,
    )


def generate(
    seed: int = 0, *, num_train: int = 4096, num_valid: int = 256, **grammar: int
) -> Dataset:
    """The parallel corpus of ``make_grammar(seed)`` (deterministic in ``seed``).

    Splits hold ``inputs`` (source ids) and ``targets`` (target ids followed by
    the end token), int32 ``[n, max_len]``, padded with 0. Validation
    sentences never occur in the training split. ``meta`` holds the vocabulary
    sizes and ``max_len``.

    Args:
        seed: draws the grammar (:func:`make_grammar`) and the sentences.
        num_train, num_valid: sentence pairs per split.
        grammar: passed to :func:`make_grammar` (``num_nouns``,
            ``num_adjectives``, ``num_verbs``, ``max_adjectives``).

    Example:
        >>> d = generate(0, num_train=16, num_valid=4)
        >>> d.train["inputs"].shape, d.meta["target_vocab"]
        ((16, 13), 136)
        >>> g = make_grammar(0)
        >>> n = int((d.train["targets"][0] > 0).sum())
        >>> int(d.train["targets"][0, n - 1]) == EOS
        True
    """
    seed = check_int("seed", seed, low=0)
    num_train = check_int("num_train", num_train, low=1)
    num_valid = check_int("num_valid", num_valid, low=1)
    g = make_grammar(seed, **grammar)
    rng = np.random.default_rng([seed, 0xC0A9])
    seen: set[tuple[int, ...]] = set()

    def split(n: int) -> dict[str, np.ndarray]:
        inputs = np.zeros((n, g.max_len), np.int32)
        targets = np.zeros((n, g.max_len), np.int32)
        i = 0
        while i < n:
            src, tgt = g.sample(rng)
            if tuple(src) in seen:  # keep validation sentences out of training
                continue
            seen.add(tuple(src))
            inputs[i, : len(src)] = src
            targets[i, : len(tgt) + 1] = [*tgt, EOS]
            i += 1
        return {"inputs": inputs, "targets": targets}

    train = split(num_train)
    valid = split(num_valid)
    meta = {
        "source_vocab": len(g.source_words),
        "target_vocab": len(g.target_words),
        "max_len": g.max_len,
    }
    return Dataset(train, valid, meta)
