"""Search spaces and sampling: determinism, the built-in spaces, distributions, file errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import qmc

from hplists import HParams
from hplists.cli.main import main
from hplists.space import (
    Discrete,
    Fixed,
    Linear,
    Log,
    SearchSpace,
    available_spaces,
    get_space,
    load_space,
    sample,
    unit_sequence,
)

# ----- determinism ---------------------------------------------------------------------------


def test_first_points_of_nadamw_broad_seed_0_are_pinned():
    """The first Halton points of nadamw-broad, seed 0, are fixed forever (any machine)."""
    pts = get_space("nadamw-broad").sample(3, seed=0)
    assert pts == [
        HParams(learning_rate=0.002596866783593735, beta1=0.9879948831432177,
                beta2=0.9878949441726926, eps=1e-08, weight_decay=0.040270691260946505,
                warmup_fraction=0.1, dropout_rate=0.0, label_smoothing=0.2),
        HParams(learning_rate=0.00025968667835937347, beta1=0.9297936507229002,
                beta2=0.9650720741938842, eps=1e-08, weight_decay=0.0008387626488010233,
                warmup_fraction=0.05, dropout_rate=0.1, label_smoothing=0.0),
        HParams(learning_rate=0.008212013816191781, beta1=0.997947153893786,
                beta2=0.9958047214885983, eps=1e-08, weight_decay=0.41095955805334305,
                warmup_fraction=0.05, dropout_rate=0.1, label_smoothing=0.1),
    ]


def test_unit_sequence_is_pinned_scrambled_halton():
    """The unit coordinates are scipy's scrambled Halton driven by default_rng(seed)."""
    u = unit_sequence(7, 2, seed=0)
    assert u[0].tolist() == [0.7072248356860283, 0.46907967033587605, 0.47064436306603047,
                             0.9079549001148771, 0.7042471502713662, 0.9156422571648536,
                             0.17384269608460623]
    ref = qmc.Halton(7, scramble=True, seed=np.random.default_rng(0)).random(2)
    np.testing.assert_array_equal(u, ref)


def test_random_method_is_pinned_numpy_generator():
    """Plain random sampling is default_rng(seed).random((n, d)) mapped onto the space."""
    u = unit_sequence(7, 5, seed=3, method="random")
    np.testing.assert_array_equal(u, np.random.default_rng(3).random((5, 7)))
    p = get_space("nadamw-broad").sample(1, seed=0, method="random")[0]
    assert p.learning_rate == 0.0018789852661499486


@pytest.mark.parametrize("method", ["halton", "random"])
def test_same_space_and_seed_give_the_same_points(method):
    """Sampling twice (even from a freshly loaded space) returns identical points."""
    a = get_space("nadamw-broad").sample(20, seed=7, method=method)
    b = SearchSpace.from_dict(get_space("nadamw-broad").to_dict()).sample(20, seed=7,
                                                                           method=method)
    assert a == b


def test_halton_is_seeded_and_scrambled():
    """Different seeds give different points, and none is the unscrambled Halton sequence."""
    u0, u1 = unit_sequence(4, 16, seed=0), unit_sequence(4, 16, seed=1)
    plain = qmc.Halton(4, scramble=False).random(16)
    assert not np.array_equal(u0, u1)
    assert not np.allclose(u0, plain) and not np.allclose(u1, plain)
    assert np.all(u0[0] > 0)  # unscrambled Halton starts at the origin


def test_halton_is_a_prefix_sequence():
    """The first m of n points are the m points: growing a study keeps its earlier points."""
    space = get_space("nadamw-broad")
    assert space.sample(10, seed=4) == space.sample(25, seed=4)[:10]


def test_halton_and_random_differ():
    space = get_space("nadamw-broad")
    assert space.sample(8, seed=0) != space.sample(8, seed=0, method="random")


def test_fixed_dimensions_take_no_coordinate():
    """Adding a fixed dimension does not change the other dimensions' values."""
    a = SearchSpace("a", (Log("x", 1e-3, 1.0), Linear("y", 0.0, 1.0)), optimizer="any")
    b = SearchSpace("b", (Log("x", 1e-3, 1.0), Fixed("z", 5.0), Linear("y", 0.0, 1.0)),
                    optimizer="any")
    pa, pb = a.sample(6, seed=2), b.sample(6, seed=2)
    assert [{**p, "z": 5.0} for p in pa] == pb


# ----- distributions -------------------------------------------------------------------------


def test_halton_points_fill_log_ranges_and_discrete_values_evenly():
    """With 256 Halton points every log decade bin and every discrete value gets its share."""
    space = get_space("nadamw-broad")
    pts = space.sample(256, seed=0)
    lr = np.log10([p.learning_rate for p in pts])
    counts, _ = np.histogram(lr, bins=8, range=(-4, -2))
    assert counts.min() >= 28 and counts.max() <= 36  # 32 expected per bin
    wd = np.log10([p.weight_decay for p in pts])
    assert wd.min() < math.log10(1e-4) + 0.05 and wd.max() > math.log10(0.5) - 0.05
    for field, values in (("warmup_fraction", (0.02, 0.05, 0.1)),
                          ("label_smoothing", (0.0, 0.1, 0.2)),
                          ("dropout_rate", (0.0, 0.1))):
        got = [getattr(p, field) for p in pts]
        share = [got.count(v) / len(got) for v in values]
        assert set(got) == set(values)
        assert max(abs(s - 1 / len(values)) for s in share) < 0.03, (field, share)


def test_random_sampling_covers_every_discrete_value():
    pts = get_space("nadamw-broad").sample(200, seed=1, method="random")
    assert {p.label_smoothing for p in pts} == {0.0, 0.1, 0.2}
    assert {p.dropout_rate for p in pts} == {0.0, 0.1}


@pytest.mark.parametrize("name", available_spaces())
def test_builtin_points_lie_inside_their_space(name):
    space = get_space(name)
    for method in ("halton", "random"):
        pts = space.sample(64, seed=5, method=method)
        assert all(space.contains(p) for p in pts)


def test_discrete_mapping_is_floor_u_times_n():
    d = Discrete("x", (1.0, 2.0, 3.0))
    u = np.array([0.0, 0.3333, 0.3334, 0.6666, 0.6667, 0.999999])
    assert d.from_unit(u).tolist() == [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]


def test_log_and_linear_maps_hit_their_endpoints():
    assert Log("x", 1e-4, 1e-2).from_unit(np.array([0.0, 0.5, 1.0])).tolist() == [
        1e-4, 1e-3, 1e-2]
    assert Linear("x", -1.0, 3.0).from_unit(np.array([0.0, 0.25, 1.0])).tolist() == [
        -1.0, 0.0, 3.0]


# ----- the built-in spaces -------------------------------------------------------------------


def test_nadamw_broad_is_table_1_of_paper_001():
    s = get_space("nadamw-broad")
    assert s.optimizer == "nadamw"
    assert s.to_dict()["dimensions"] == {
        "learning_rate": {"scale": "log", "low": 1e-4, "high": 1e-2},
        "one_minus_beta1": {"scale": "log", "low": 1e-3, "high": 0.2},
        "one_minus_beta2": {"scale": "log", "low": 1e-3, "high": 0.2},
        "warmup_fraction": {"scale": "discrete", "values": [0.02, 0.05, 0.1]},
        "weight_decay": {"scale": "log", "low": 1e-4, "high": 0.5},
        "label_smoothing": {"scale": "discrete", "values": [0.0, 0.1, 0.2]},
        "dropout_rate": {"scale": "discrete", "values": [0.0, 0.1]},
    }


def test_one_minus_beta_is_mapped_to_beta():
    """Points store beta = 1 - (1 - beta): beta1 and beta2 of nadamw-broad lie in [0.8, 0.999]."""
    pts = get_space("nadamw-broad").sample(128, seed=0)
    for field in ("beta1", "beta2"):
        v = np.array([getattr(p, field) for p in pts])
        assert v.min() >= 0.8 - 1e-12 and v.max() <= 0.999 + 1e-12


def test_lr_free_spaces_with_and_without_learning_rate():
    with_lr, no_lr = get_space("lr-free-broad"), get_space("lr-free-broad-no-lr")
    p = with_lr.sample(1, seed=0)[0]
    q = no_lr.sample(1, seed=0)[0]
    assert isinstance(p, HParams) and 1e-4 <= p.learning_rate <= 5e-2
    assert isinstance(q, dict) and "learning_rate" not in q
    assert set(q) == {"warmup_fraction", "weight_decay", "beta1", "beta2", "dropout_rate",
                      "label_smoothing"}
    pts = no_lr.sample(200, seed=0)
    assert {x["label_smoothing"] for x in pts} == {0.0, 0.2}
    assert min(x["beta1"] for x in pts) >= 0.0 and max(x["beta1"] for x in pts) <= 0.999 + 1e-12
    assert "Table 3" in no_lr.source and "1-beta1" in no_lr.description


ALGOPERF_NADAMW = {  # algorithms/archived_paper_baselines/nadamw/tuning_search_space.json
    "learning_rate": {"min": 1e-4, "max": 1e-2, "scaling": "log"},
    "one_minus_beta1": {"min": 4e-3, "max": 0.1, "scaling": "log"},
    "beta2": {"feasible_points": [0.999]},
    "warmup_factor": {"feasible_points": [0.05]},
    "weight_decay": {"min": 5e-3, "max": 1.0, "scaling": "log"},
    "label_smoothing": {"feasible_points": [0.1, 0.2]},
    "dropout_rate": {"feasible_points": [0.0, 0.1]},
}


def test_algoperf_archived_space_matches_algoperf_file(tmp_path):
    """The shipped space equals AlgoPerf's JSON read through the AlgoPerf-format loader."""
    path = tmp_path / "tuning_search_space.json"
    path.write_text(json.dumps(ALGOPERF_NADAMW))
    loaded = load_space(path)
    shipped = get_space("nadamw-algoperf-archived")
    assert loaded.name == "tuning_search_space"
    assert loaded.dimensions == shipped.dimensions
    assert "2c90454fc05d5bdf3598b0c7651e611f132a7060" in shipped.source
    pts = shipped.sample(50, seed=0)
    assert {p.beta2 for p in pts} == {0.999} and {p.warmup_fraction for p in pts} == {0.05}
    assert {p.label_smoothing for p in pts} == {0.1, 0.2}
    assert shipped.n_coordinates == 5


def test_non_nadamw_spaces_give_plain_dicts():
    s = SearchSpace("sgd", (Log("learning_rate", 1e-3, 1.0), Log("one_minus_momentum", 1e-3, 1.0)),
                    optimizer="sgd")
    p = s.sample(1, seed=0)[0]
    assert isinstance(p, dict) and set(p) == {"learning_rate", "momentum"}


# ----- files and errors ----------------------------------------------------------------------


def test_json_and_toml_files_load_to_the_same_space(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps({
        "name": "mine", "optimizer": "nadamw", "dimensions": {
            "learning_rate": {"scale": "log", "low": 1e-4, "high": 1e-1},
            "one_minus_beta1": {"scale": "linear", "low": 0.01, "high": 0.2},
            "beta2": {"scale": "fixed", "value": 0.99},
            "dropout_rate": {"scale": "discrete", "values": [0.0, 0.1]}}}))
    (tmp_path / "s.toml").write_text(
        'name = "mine"\noptimizer = "nadamw"\n'
        '[dimensions.learning_rate]\nscale = "log"\nlow = 1e-4\nhigh = 1e-1\n'
        '[dimensions.one_minus_beta1]\nscale = "linear"\nlow = 0.01\nhigh = 0.2\n'
        '[dimensions.beta2]\nscale = "fixed"\nvalue = 0.99\n'
        '[dimensions.dropout_rate]\nscale = "discrete"\nvalues = [0.0, 0.1]\n')
    a, b = load_space(tmp_path / "s.json"), get_space(str(tmp_path / "s.toml"))
    assert a == b
    assert a.sample(5, seed=1) == b.sample(5, seed=1)
    assert SearchSpace.from_dict(json.loads(a.to_json())) == a


def _space(**dims):
    return {"name": "bad", "dimensions": {"learning_rate": {"scale": "log", "low": 1e-4,
                                                            "high": 1e-2},
                                          "beta1": {"scale": "fixed", "value": 0.9},
                                          "beta2": {"scale": "fixed", "value": 0.99}, **dims}}


@pytest.mark.parametrize(
    ("dims", "message"),
    [
        ({"learning_rate": {"scale": "exp", "low": 1, "high": 2}},
         "dimension 'learning_rate': scale must be one of 'log', 'linear', 'discrete', "
         "'fixed'; got 'exp'"),
        ({"weight_decay": {"scale": "log", "low": 0.0, "high": 0.5}},
         "dimension 'weight_decay': log scale needs low > 0, got 0.0"),
        ({"weight_decay": {"scale": "log", "low": -1e-3, "high": 0.5}},
         "dimension 'weight_decay': log scale needs low > 0"),
        ({"weight_decay": {"scale": "linear", "low": 0.5, "high": 0.5}},
         "dimension 'weight_decay': low must be < high, got low=0.5, high=0.5"),
        ({"weight_decay": {"scale": "log", "low": 0.5}},
         "dimension 'weight_decay': a log dimension needs ['high']"),
        ({"weight_decay": {"low": 0.1, "high": 0.5}}, "dimension 'weight_decay': missing 'scale'"),
        ({"weight_decay": {"scale": "log", "low": 0.1, "high": 0.5, "step": 2}},
         "dimension 'weight_decay': unknown field(s) ['step']"),
        ({"dropout_rate": {"scale": "discrete", "values": []}},
         "dimension 'dropout_rate': values must not be empty"),
        ({"dropout_rate": {"scale": "discrete", "values": [0.1, 0.1]}},
         "dimension 'dropout_rate': values must be distinct"),
        ({"dropout_rate": {"scale": "discrete", "values": [0.0, "high"]}},
         "dimension 'dropout_rate': values[1] must be a real number, got 'high'"),
        ({"weight_decay": {"scale": "fixed", "value": "nan"}},
         "dimension 'weight_decay': value must be a real number"),
        ({"momentum": {"scale": "fixed", "value": 0.9}},
         "unknown NAdamW hyperparameter(s) ['momentum']"),
        ({"dropout_rate": {"scale": "linear", "low": 0.0, "high": 1.0}},
         "dimension 'dropout_rate' = 1: dropout_rate must be in [0, 1)"),
    ],
)
def test_invalid_space_files_name_the_field(dims, message):
    with pytest.raises(ValueError, match=r"^space 'bad'") as e:
        SearchSpace.from_dict(_space(**dims))
    assert message in str(e.value)


def test_space_level_errors_name_the_key(tmp_path):
    with pytest.raises(ValueError, match=r"must set \['learning_rate'\]"):
        SearchSpace.from_dict({"name": "s", "dimensions": {"beta1": {"scale": "fixed",
                                                                      "value": 0.9},
                                                            "beta2": {"scale": "fixed",
                                                                      "value": 0.9}}})
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['dims'\]"):
        SearchSpace.from_dict({"name": "s", "dims": {}})
    with pytest.raises(ValueError, match="'dimensions' must be a non-empty object"):
        SearchSpace.from_dict({"name": "s", "dimensions": []})
    with pytest.raises(ValueError, match=r"several dimensions set \['beta1'\]"):
        SearchSpace.from_dict(_space(one_minus_beta1={"scale": "fixed", "value": 0.1}))
    with pytest.raises(ValueError, match=r"one_minus_x'.*must lie in \(0, 1\]"):
        SearchSpace("s", (Log("one_minus_x", 1e-3, 2.0),), optimizer="other")
    (tmp_path / "s.yaml").write_text("name: s")
    with pytest.raises(ValueError, match=r"suffix must be one of '\.json', '\.toml'; got '\.yaml'"):
        load_space(tmp_path / "s.yaml")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="is not valid json"):
        load_space(tmp_path / "broken.json")
    (tmp_path / "broken.toml").write_text("name = ")
    with pytest.raises(ValueError, match="is not valid toml"):
        load_space(tmp_path / "broken.toml")
    with pytest.raises(ValueError, match="does not exist"):
        load_space(tmp_path / "missing.json")


def test_bad_sampling_arguments_are_clear_errors():
    space = get_space("nadamw-broad")
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, inf\], got 0"):
        space.sample(0)
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, inf\], got -1"):
        space.sample(3, seed=-1)
    with pytest.raises(ValueError, match="method must be one of 'halton', 'algoperf-halton', "
                       "'random'; got 'sobol'"):
        sample(space, 3, method="sobol")
    with pytest.raises(ValueError, match=r"unknown search space 'nadamw' \(did you mean 'nadamw-broad'\?\); available spaces"):
        get_space("nadamw")


# ----- command line --------------------------------------------------------------------------


def test_cli_sample_json_matches_the_api(capsys):
    assert main(["sample", "nadamw-broad", "--n", "3", "--seed", "0", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == [p.to_dict() for p in get_space("nadamw-broad").sample(3, seed=0)]


def test_cli_sample_csv_and_table(capsys, tmp_path):
    assert main(["sample", "lr-free-broad-no-lr", "--n", "4", "--method", "random",
                 "--format", "csv", "-o", str(tmp_path / "p.csv")]) == 0
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0] == "index,warmup_fraction,weight_decay,beta1,beta2,dropout_rate,label_smoothing"
    assert len(lines) == 5
    first = get_space("lr-free-broad-no-lr").sample(1, seed=0, method="random")[0]
    assert [float(x) for x in lines[1].split(",")[1:]] == list(first.values())
    assert main(["sample", "nadamw-broad", "--n", "2"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:2] == ["index", "learning_rate"] and len(table) == 3


def test_cli_spaces_lists_and_describes(capsys):
    assert main(["spaces"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in available_spaces())
    assert main(["spaces", "nadamw-broad"]) == 0
    out = capsys.readouterr().out
    assert "one_minus_beta1  log" in out and "{0.02, 0.05, 0.1}" in out


def test_cli_bad_space_is_one_line_error(capsys):
    assert main(["sample", "nope", "--n", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hplists sample: error: unknown search space 'nope'")
