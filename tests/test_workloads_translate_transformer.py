"""translate_transformer: the hidden grammar of the corpus, contract, model shapes, cached
greedy decoding, BLEU, learning, divergence, determinism, and the Post-LN variant."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from helpers import checks as wc
from hplists.workloads import translation
from hplists.workloads.registry import get_workload
from hplists.workloads.translate_transformer import (
    Transformer,
    TranslateTransformer,
    TranslateTransformerPostLN,
    greedy_decode,
)
from hplists.workloads.translation import BOS, EOS, PAD

# Tests that train share compiled programs (same step budget) in one worker process.
pytestmark = pytest.mark.xdist_group("translate_transformer")
SHORT = 100

GOOD = wc.PAPER_FIRST.replace(label_smoothing=0.2)

workload, data = wc.module_fixtures("translate_transformer")


@pytest.fixture(scope="module")
def grammar(workload):
    return workload.grammar()


def _lookup(grammar):
    """Target id -> (kind, lemma, gender, number) for nouns, adjectives and determiners."""
    info = {}
    for lemma, forms in enumerate(grammar.target_noun):
        for number, i in enumerate(forms):
            info[int(i)] = ("noun", lemma, int(grammar.gender[lemma]), number)
    for lemma, by_gender in enumerate(grammar.target_adj):
        for g in (0, 1):
            for number in (0, 1):
                info[int(by_gender[g, number])] = ("adj", lemma, g, number)
    for definite in (0, 1):
        for g in (0, 1):
            for number in (0, 1):
                i = int(grammar.target_det[definite, g, number])
                # Plural articles do not mark gender.
                info[i] = ("det", definite, None if number else g, number)
    return info


def test_corpus_is_deterministic_and_validation_is_unseen():
    a = translation.generate(3, num_train=64, num_valid=16)
    b = translation.generate(3, num_train=64, num_valid=16)
    np.testing.assert_array_equal(a.train["inputs"], b.train["inputs"])
    np.testing.assert_array_equal(a.valid["targets"], b.valid["targets"])
    train = {tuple(r) for r in a.train["inputs"]}
    assert not any(tuple(r) in train for r in a.valid["inputs"])


def test_corpus_layout(data, grammar):
    for split in (data.train, data.valid):
        src, tgt = split["inputs"], split["targets"]
        assert src.shape[1] == tgt.shape[1] == grammar.max_len == 13
        assert src.dtype == tgt.dtype == np.int32
        n_src, n_tgt = (src != PAD).sum(1), (tgt != PAD).sum(1)
        # No padding in the middle; one end token, last.
        assert np.all((src != PAD) == (np.arange(13) < n_src[:, None]))
        assert np.all((tgt != PAD) == (np.arange(13) < n_tgt[:, None]))
        assert np.all(tgt[np.arange(len(tgt)), n_tgt - 1] == EOS)
        assert np.all((tgt == EOS).sum(1) == 1) and not np.any(tgt == BOS)
        assert n_src.min() >= 5 and src.max() < len(grammar.source_words)
        assert tgt.max() < len(grammar.target_words)


def test_target_side_agreement_reordering_negation_and_contraction(data, grammar):
    info = _lookup(grammar)
    src_adj = {int(i) for i in grammar.source_adj}
    src_noun = {int(i) for i in grammar.source_noun.ravel()}
    contractions = 0
    for src, tgt in zip(data.train["inputs"][:500], data.train["targets"][:500], strict=True):
        src, tgt = src[src != PAD].tolist(), tgt[tgt != PAD].tolist()
        # Source adjectives precede their noun; target adjectives follow it and agree.
        for i, tok in enumerate(src):
            if tok in src_adj:
                assert src[i + 1] in src_noun
        for i, tok in enumerate(tgt):
            kind = info.get(tok, ("other",))[0]
            if kind == "noun":
                _, _, g, n = info[tok]
                prev = tgt[i - 1]
                if prev == grammar.contraction:
                    assert (g, n) == (0, 0)
                    contractions += 1
                else:
                    det = info[prev]
                    assert det[0] == "det" and det[3] == n and det[2] in (None, g)
                nxt = info.get(tgt[i + 1], ("other",))
                if nxt[0] == "adj":
                    assert nxt[2:] == (g, n)
        # Negation: `not V` <-> `ne V pas`.
        negated = grammar.source_not in src
        assert negated == (grammar.target_ne in tgt) == (grammar.target_pas in tgt)
        if negated:
            j = tgt.index(grammar.target_ne)
            assert tgt[j + 2] == grammar.target_pas
    assert contractions > 0


def test_registered_with_its_contract(workload):
    wc.check_contract(workload, "translate_transformer", TranslateTransformer, "bleu", "max",
                      {"dropout", "label_smoothing"})
    assert not workload.post_ln


def test_model_shapes_and_loss(workload, data):
    params = workload.init(jax.random.key(0))
    batch = wc.rows(data.valid, 6)
    out, base = wc.check_model_shapes(workload, params, batch, (6, 13), dropout_rate=0.0,
                                      label_smoothing=0.0, num_params=(100_000, 300_000))
    assert out.dtype == jnp.int32
    # An untrained model is close to uniform over the target vocabulary.
    assert abs(float(base) - np.log(len(workload.grammar().target_words))) < 1.5
    # Label smoothing and dropout reach the loss; the key only drives dropout.
    wc.check_regularizers_reach_the_loss(workload, params, batch)


@pytest.mark.parametrize("post_ln", [False, True])
def test_cached_greedy_decoding_equals_teacher_forced_argmax(post_ln):
    m = Transformer(source_vocab=12, target_vocab=12, dim=16, heads=2, hidden=32, max_len=7,
                    post_ln=post_ln)
    src = jax.random.randint(jax.random.key(0), (32, 7), 3, 12)
    params = m.init(jax.random.key(1), src, src, 0.0, None)
    # A few steps of learning to copy the source make greedy outputs vary along the sentence.
    tx = optax.adam(2e-2)

    @jax.jit
    def step(params, opt):
        def loss(p):
            tgt_in = jnp.pad(src[:, :-1], ((0, 0), (1, 0)), constant_values=BOS)
            logits = m.apply(p, src, tgt_in, 0.0, None)
            return optax.softmax_cross_entropy_with_integer_labels(logits, src).mean()

        updates, opt = tx.update(jax.grad(loss)(params), opt)
        return optax.apply_updates(params, updates), opt

    opt = tx.init(params)
    for _ in range(30):
        params, opt = step(params, opt)
    tokens = jax.jit(lambda p, s: greedy_decode(m, p, s))(params, src)
    assert len(np.unique(np.asarray(tokens))) > 5
    tgt_in = jnp.pad(tokens[:, :-1], ((0, 0), (1, 0)), constant_values=BOS)
    logits = m.apply(params, src, tgt_in, 0.0, None)
    np.testing.assert_array_equal(np.asarray(jnp.argmax(logits, -1)), np.asarray(tokens))


def test_bleu_of_the_references_is_100(workload, data):
    refs = data.valid["targets"]
    assert workload.score(refs, data.valid) == {"bleu": pytest.approx(100.0), "exact_match": 1.0}
    # Anything after the first end token is ignored, as greedy decoding keeps going.
    noisy = np.where(refs == PAD, 7, refs)
    assert workload.score(noisy, data.valid)["bleu"] == pytest.approx(100.0)
    empty = workload.score(np.full_like(refs, EOS), data.valid)
    assert empty == {"bleu": 0.0, "exact_match": 0.0}


@pytest.mark.slow
def test_good_point_beats_chance_and_absurd_lr_diverges_alone(workload):
    good, _ = wc.train_good_absurd_tiny(workload, GOOD, SHORT, tiny=False)
    bleu = good.metric("bleu")
    assert bleu[0] < 1.0  # chance
    assert bleu.max() > 3.0 and bleu[-1] > bleu[: len(bleu) // 2].max()


def test_same_seed_same_curve_other_seed_other_curve(workload):
    wc.check_same_seed_same_curve(workload, GOOD.replace(dropout_rate=0.1), SHORT)


def test_post_ln_variant_differs_only_in_its_normalization(workload):
    variant = get_workload("translate_transformer_post_ln")
    wc.check_variant_settings(workload, variant, TranslateTransformerPostLN, "post_ln",
                              (False, True), same=("dim", "hidden", "data_options", "batching"))
    pre, post = workload.init(jax.random.key(0)), variant.init(jax.random.key(0))
    # Post-LN has no final LayerNorm on either stack; every other parameter is shared.
    removed, added = wc.check_parameters_differ_only_under(pre, post, "encoder_norm",
                                                           "decoder_norm")
    assert removed and not added
