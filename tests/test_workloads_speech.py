"""The speech-like corpus, greedy CTC decoding and the word error rate shared by the speech workloads."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hplists.workloads import speech
from hplists.workloads.ctc import greedy_decode
from hplists.workloads.edit_distance import levenshtein, levenshtein_batch, word_error_rate


@pytest.fixture(scope="module")
def corpus():
    return speech.generate(0, num_train=256, num_valid=64)


def test_corpus_is_deterministic_in_its_seed():
    a = speech.generate(5, num_train=32, num_valid=8)
    b = speech.generate(5, num_train=32, num_valid=8)
    c = speech.generate(6, num_train=32, num_valid=8)
    for split in ("train", "valid"):
        for k in a.train:
            np.testing.assert_array_equal(getattr(a, split)[k], getattr(b, split)[k])
    assert not np.array_equal(a.train["labels"], c.train["labels"])


def test_corpus_arrays_paddings_and_labels(corpus):
    n_units = speech.NUM_UNITS
    sep = corpus.meta["separator"]
    assert sep == n_units + 1 and corpus.meta["vocab_size"] == n_units + 2
    for split in (corpus.train, corpus.valid):
        x, pad = split["inputs"], split["input_paddings"]
        assert x.dtype == np.float32 and x.shape[1:] == (48, 16)
        assert np.all(x[pad == 1] == 0)  # padded frames are silent zeros
        lengths = (pad == 0).sum(1)
        # Paddings only at the end.
        assert np.all(pad == (np.arange(48)[None, :] >= lengths[:, None]))
        labels, lpad = split["labels"], split["label_paddings"]
        n_labels = (lpad == 0).sum(1)
        assert np.all(labels[lpad == 1] == 0)
        real = labels[lpad == 0]
        assert real.min() >= 1 and real.max() <= sep
        # CTC can align every utterance: at least one subsampled frame per label.
        assert np.all(np.ceil(lengths / 2) >= n_labels + 1)
        for row, n in zip(labels, n_labels, strict=True):
            words = speech.split_words(row[:n], sep)
            assert 2 <= len(words) <= 4 and all(2 <= len(w) <= 4 for w in words)
            assert row[0] != sep and row[n - 1] != sep


def test_features_are_normalized_with_training_statistics(corpus):
    frames = corpus.train["inputs"][corpus.train["input_paddings"] == 0]
    np.testing.assert_allclose(frames.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(frames.std(0), 1.0, atol=1e-3)


def test_corpus_rejects_bad_options():
    with pytest.raises(ValueError, match="noise"):
        speech.generate(0, noise=-1.0)
    with pytest.raises(ValueError, match="num_frames"):
        speech.generate(0, num_frames=4)
    with pytest.raises(ValueError, match="pause"):
        speech.generate(0, pause=2.0)


def test_split_words_drops_empty_words():
    assert speech.split_words(np.array([9, 1, 2, 9, 9, 3, 9]), 9) == [(1, 2), (3,)]
    assert speech.split_words(np.array([], int), 9) == []


def test_greedy_decode_merges_repeats_drops_blanks_and_paddings():
    ids = np.array([[0, 1, 1, 0, 1, 2, 2, 2], [3, 0, 0, 3, 3, 4, 0, 4]])
    pad = np.array([[0] * 8, [0] * 6 + [1] * 2])
    out = greedy_decode(ids, pad)
    assert [o.tolist() for o in out] == [[1, 1, 2], [3, 3, 4]]
    scores = np.eye(5)[ids]  # [b, t, labels] scores decode like their argmax
    assert [o.tolist() for o in greedy_decode(scores, pad)] == [[1, 1, 2], [3, 3, 4]]
    with pytest.raises(ValueError, match="paddings"):
        greedy_decode(ids, pad[:, :3])
    with pytest.raises(ValueError, match="integer ids"):
        greedy_decode(ids.astype(float))


def _levenshtein_reference(a, b):
    d = np.zeros((len(a) + 1, len(b) + 1), int)
    d[:, 0], d[0, :] = np.arange(len(a) + 1), np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (a[i - 1] != b[j - 1]))
    return int(d[-1, -1])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 4), max_size=9), st.lists(st.integers(0, 4), max_size=9))
def test_levenshtein_matches_the_textbook_table(a, b):
    assert levenshtein(a, b) == _levenshtein_reference(a, b)
    assert levenshtein(a, b) == levenshtein(b, a)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(0, 3), max_size=8),
                          st.lists(st.integers(0, 3), max_size=8)), min_size=1, max_size=12))
def test_batched_distances_equal_pairwise_ones_whatever_the_padding(pairs):
    refs, hyps = [a for a, _ in pairs], [b for _, b in pairs]
    expected = [_levenshtein_reference(a, b) for a, b in pairs]
    assert levenshtein_batch(refs, hyps).tolist() == expected


def test_word_error_rate_counts_edits_over_reference_words():
    refs = [[(1, 2), (3,)], [(4,)]]
    assert word_error_rate(refs, refs) == 0.0
    assert word_error_rate(refs, [[], []]) == 1.0  # all deletions
    assert word_error_rate(refs, [[(1, 2), (3,), (5,)], [(4,), (5,), (6,)]]) == 1.0  # insertions
    assert word_error_rate(refs, [[(1, 2), (3, 3)], [(4,)]]) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="same length"):
        word_error_rate(refs, [[]])
    with pytest.raises(ValueError, match="at least one word"):
        word_error_rate([[]], [[]])
