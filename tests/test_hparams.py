"""HParams: validation with field names and ranges, exact JSON and AlgoPerf round trips."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hplists.hparams import ALGOPERF_KEYS, HParams

unit_open = st.floats(0.0, 1.0, exclude_max=True)
points = st.builds(
    HParams,
    learning_rate=st.floats(1e-7, 10.0),
    beta1=unit_open,
    beta2=unit_open,
    eps=st.floats(0.0, 1e-3),
    weight_decay=st.floats(0.0, 10.0),
    warmup_fraction=st.floats(0.0, 1.0),
    dropout_rate=unit_open,
    label_smoothing=unit_open,
)


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("learning_rate", -1e-3, "(0, inf)"),
        ("learning_rate", 0.0, "(0, inf)"),
        ("beta1", 1.0, "[0, 1)"),
        ("beta1", -0.1, "[0, 1)"),
        ("beta2", 1.0, "[0, 1)"),
        ("eps", -1e-8, "[0, inf)"),
        ("weight_decay", -0.1, "[0, inf)"),
        ("warmup_fraction", 1.5, "[0, 1]"),
        ("warmup_fraction", -0.01, "[0, 1]"),
        ("dropout_rate", 1.0, "[0, 1)"),
        ("label_smoothing", 1.0, "[0, 1)"),
        ("learning_rate", math.nan, "(0, inf)"),
        ("weight_decay", math.inf, "[0, inf)"),
        ("learning_rate", "0.1", "(0, inf)"),
        ("beta2", True, "[0, 1)"),
    ],
)
def test_bad_values_raise_naming_the_field_and_its_allowed_range(field, value, allowed):
    kwargs = dict(learning_rate=1e-3, beta1=0.9, beta2=0.999)
    kwargs[field] = value
    with pytest.raises(ValueError) as e:
        HParams(**kwargs)
    assert str(e.value).startswith(field) and allowed in str(e.value)


def test_defaults_and_plain_float_storage():
    p = HParams(learning_rate=1, beta1=0.9, beta2=0.99)
    assert (p.eps, p.weight_decay, p.warmup_fraction, p.dropout_rate, p.label_smoothing) == (
        1e-8, 0.0, 0.0, 0.0, 0.0,
    )
    assert type(p.learning_rate) is float
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.beta1 = 0.5  # type: ignore[misc]
    assert hash(p) == hash(HParams(1.0, 0.9, 0.99))


@given(points)
def test_json_round_trip_is_exact(p):
    assert HParams.from_json(p.to_json()) == p
    assert HParams.from_dict(json.loads(p.to_json())) == p


@given(points)
def test_algoperf_round_trip_is_exact_for_beta1_at_least_one_half(p):
    """AlgoPerf computes beta1 = 1 - one_minus_beta1; below 1/2 that cannot hit every double."""
    d = p.to_algoperf()
    assert list(d) == list(ALGOPERF_KEYS)
    back = HParams.from_algoperf(d, eps=p.eps)
    if p.beta1 >= 0.5:
        assert back == p
    else:
        assert back.replace(beta1=p.beta1) == p
        assert abs(back.beta1 - p.beta1) <= 2.0**-53


@given(st.floats(0.5, 1.0, exclude_max=True))
def test_one_minus_beta1_complements_beta1_exactly(beta1):
    p = HParams(1e-3, beta1, 0.9)
    assert 1.0 - p.one_minus_beta1 == beta1


def test_one_minus_beta1_is_the_short_decimal():
    """AlgoPerf's one_minus_beta1 values come back digit for digit, not as 1 - beta1 noise."""
    assert HParams(1e-3, 0.9, 0.999).one_minus_beta1 == 0.1
    for short in (0.02686663061, 0.11042418465, 0.13625575743, 0.06733926164, 0.05):
        d = {"learning_rate": 1e-3, "one_minus_beta1": short, "beta2": 0.99,
             "weight_decay": 0.0, "warmup_factor": 0.0}
        assert HParams.from_algoperf(d).to_algoperf()["one_minus_beta1"] == short
        assert repr(HParams.from_algoperf(d).one_minus_beta1) == repr(short)
    assert HParams(1e-3, 0.9, 0.999).one_minus_beta2 == 0.001


def test_from_algoperf_accepts_beta1_and_defaults_the_regularizers():
    d = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.1,
         "warmup_factor": 0.05}
    p = HParams.from_algoperf(d)
    assert (p.beta1, p.warmup_fraction, p.dropout_rate, p.label_smoothing) == (0.9, 0.05, 0, 0)


@pytest.mark.parametrize(
    ("d", "message"),
    [
        ({"learning_rate": 1e-3, "beta1": 0.9}, "missing required HParams field(s) ['beta2']"),
        ({"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.9, "lr": 1},
         "unknown HParams field(s) ['lr']; allowed fields are"),
    ],
)  # fmt: skip
def test_from_dict_rejects_missing_and_unknown_fields(d, message):
    with pytest.raises(ValueError) as e:
        HParams.from_dict(d)
    assert message in str(e.value)


@pytest.mark.parametrize(
    ("d", "message"),
    [
        ({"learning_rate": 1e-3, "beta2": 0.9, "weight_decay": 0, "warmup_factor": 0},
         "needs 'one_minus_beta1'"),
        ({"learning_rate": 1e-3, "one_minus_beta1": 0.1, "beta2": 0.9, "warmup_factor": 0},
         "missing required key 'weight_decay'"),
        ({"learning_rate": 1e-3, "one_minus_beta1": 0.1, "beta2": 0.9, "weight_decay": 0,
          "warmup_factor": 0, "grad_clip": 1.0}, "unknown AlgoPerf key(s) ['grad_clip']"),
        ({"learning_rate": 1e-3, "one_minus_beta1": 0.0, "beta2": 0.9, "weight_decay": 0,
          "warmup_factor": 0}, "one_minus_beta1 must be in (0, 1]"),
        ({"learning_rate": 1e-3, "one_minus_beta1": 0.1, "beta2": 1.0, "weight_decay": 0,
          "warmup_factor": 0}, "beta2 must be in [0, 1)"),
        ({"learning_rate": 1e-3, "one_minus_beta1": 0.1, "beta2": 0.9, "weight_decay": 0,
          "warmup_factor": 2.0}, "warmup_fraction must be in [0, 1]"),
    ],
)  # fmt: skip
def test_from_algoperf_errors_name_the_key(d, message):
    with pytest.raises(ValueError) as e:
        HParams.from_algoperf(d)
    assert message in str(e.value)


def test_replace_validates():
    p = HParams(1e-3, 0.9, 0.999)
    assert p.replace(weight_decay=0.5).weight_decay == 0.5
    with pytest.raises(ValueError, match=r"beta2 must be in \[0, 1\)"):
        p.replace(beta2=1.0)
