"""The shipped lists hold the published numbers exactly, in order; the registry's contract."""

from __future__ import annotations

import dataclasses
import json
import shutil
from importlib import resources
from pathlib import Path

import pytest

import hplists
from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams
from hplists.lists import NamedList, available_lists, get_list, load_list, register_list

# Table 10 of arXiv 2503.03986 as printed: Base LR, warmup fraction, beta1, beta2,
# weight decay, dropout, label smoothing; in priority order.
PAPER_TABLE_10 = """
0.007188680089024849 0.1 0.9521079797438937 0.9545645606521953 0.020932289532959312 0.0 0.2
0.0011719210768906827 0.02 0.9641782560318817 0.9953311727740848 0.15957548811577366 0.1 0.0
0.001183374563441696 0.02 0.918959806679234 0.9941923836947718 0.028400661323288435 0.1 0.1
0.0014515212275017363 0.1 0.9600296609757403 0.889423091749684 0.031808785805059143 0.0 0.2
0.0005102205206215031 0.05 0.9120180064671332 0.9597041640569521 0.04833675039698776 0.1 0.0
"""

# mlcommons/algorithmic-efficiency, algorithms/baselines/external_tuning/
# tuning_search_space.json (commit 2c90454f), in the file's order and key order.
ALGOPERF_BASELINE = [
    {"dropout_rate": 0.0, "label_smoothing": 0.1, "learning_rate": 0.001308209823469072,
     "one_minus_beta1": 0.02686663061, "beta2": 0.9981232922116359,
     "weight_decay": 0.16375311233774334, "warmup_factor": 0.1},
    {"dropout_rate": 0.0, "label_smoothing": 0.2, "learning_rate": 0.0008445074561975979,
     "one_minus_beta1": 0.11042418465, "beta2": 0.9978504782314613,
     "weight_decay": 0.08135402759553023, "warmup_factor": 0.05},
    {"dropout_rate": 0.0, "label_smoothing": 0.0, "learning_rate": 0.001308209823469072,
     "one_minus_beta1": 0.02686663061, "beta2": 0.9981232922116359,
     "weight_decay": 0.16375311233774334, "warmup_factor": 0.1},
    {"dropout_rate": 0.0, "label_smoothing": 0.0, "learning_rate": 0.004958460849689891,
     "one_minus_beta1": 0.13625575743, "beta2": 0.6291854735396584,
     "weight_decay": 0.1147386261512052, "warmup_factor": 0.02},
    {"dropout_rate": 0.1, "label_smoothing": 0.0, "learning_rate": 0.0017486387539278373,
     "one_minus_beta1": 0.06733926164, "beta2": 0.9955159689799007,
     "weight_decay": 0.08121616522670176, "warmup_factor": 0.02},
]  # fmt: skip


def test_paper_list_is_table_10_digit_for_digit_in_priority_order():
    points = get_list("nadamw-paper").points
    rows = [line.split() for line in PAPER_TABLE_10.strip().splitlines()]
    assert len(points) == len(rows) == 5
    for p, row in zip(points, rows, strict=True):
        fields = (p.learning_rate, p.warmup_fraction, p.beta1, p.beta2, p.weight_decay,
                  p.dropout_rate, p.label_smoothing)  # fmt: skip
        assert [repr(x) for x in fields] == row
        assert p.eps == 1e-8


def test_algoperf_baseline_list_is_the_upstream_search_space_exactly():
    named = get_list("nadamw-algoperf-baseline")
    assert len(named) == 5
    assert [p.to_algoperf() for p in named.points] == ALGOPERF_BASELINE
    assert named.provenance["algoperf_points"] == ALGOPERF_BASELINE
    for p, d in zip(named.points, ALGOPERF_BASELINE, strict=True):
        assert p.beta1 == 1.0 - d["one_minus_beta1"]  # what AlgoPerf's baseline computes
        assert p.eps == 1e-8
    assert "tuning_search_space.json" in named.source and named.provenance["commit"]


def test_every_shipped_file_is_valid_and_named_after_its_file():
    files = [f for f in resources.files("hplists.lists.data").iterdir()
             if f.name.endswith(".json")]  # fmt: skip
    assert {f.name[:-5] for f in files} >= {"nadamw-paper", "nadamw-algoperf-baseline"}
    for f in files:
        d = json.loads(f.read_text())
        named = NamedList.from_dict(d)
        assert named.name == f.name[:-5]
        assert named.description and named.source and named.optimizer


@pytest.mark.parametrize("name", ["nadamw-paper", "nadamw-algoperf-baseline"])
def test_a_budget_of_k_gives_the_first_k_points(name):
    full = get_list(name).points
    for k in range(1, len(full) + 1):
        assert get_list(name, k=k).points == full[:k]
        assert get_list(name).first(k) == full[:k]


@pytest.mark.parametrize("k", [0, 6, -1, 2.5])
def test_k_outside_the_list_names_k_and_the_range(k):
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 5\]"):
        get_list("nadamw-paper", k=k)


def test_unknown_list_name_lists_the_available_names():
    with pytest.raises(ValueError) as e:
        get_list("nadamw-papers")
    msg = str(e.value)
    assert "unknown list name 'nadamw-papers'" in msg
    assert "nadamw-paper" in msg and "nadamw-algoperf-baseline" in msg


def test_top_level_api():
    assert hplists.get_list is get_list
    assert "nadamw-paper" in hplists.available_lists()


def test_round_trip_through_a_file_and_registration(tmp_path):
    named = get_list("nadamw-paper", k=2)
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({**named.to_dict(), "name": "test-mine"}))
    loaded = load_list(path)
    assert loaded.points == named.points and loaded.name == "test-mine"
    register_list(loaded)
    try:
        assert get_list("test-mine", k=1).points == named.points[:1]
        assert "test-mine" in available_lists()
        with pytest.raises(ValueError, match="exists; pass overwrite=True"):
            register_list(loaded)
        with pytest.raises(ValueError, match="exists"):
            register_list(NamedList("nadamw-paper", "", named.points))
        register_list(loaded, overwrite=True)
    finally:
        from hplists.lists import registry

        registry._EXTRA.pop("test-mine", None)


def test_a_lists_budget_factor_round_trips_and_is_checked(tmp_path):
    """The budget a list was chosen for (3 T for the learning-rate-free lists) survives a
    file and a slice; NAdamW's lists keep 1 and write nothing; a bad factor names the field."""
    nadamw = get_list("nadamw-paper")
    assert nadamw.budget_factor == 1.0 and "budget_factor" not in nadamw.to_dict()
    three = dataclasses.replace(nadamw, name="three", budget_factor=3)
    path = tmp_path / "three.json"
    path.write_text(json.dumps(three.to_dict()))
    loaded = load_list(path)
    assert loaded.budget_factor == 3.0 and loaded[:2].budget_factor == 3.0
    assert loaded.budget(400) == 1200 and nadamw.budget(400) == 400
    for bad in (0, -1, "3", float("nan")):
        with pytest.raises(InvalidParameterError, match="'three': budget_factor"):
            NamedList.from_dict({**three.to_dict(), "budget_factor": bad})


@pytest.mark.parametrize(
    ("d", "message"),
    [
        ({"points": []}, "missing required key 'name'"),
        ({"name": "x", "points": []}, "list 'x' has no points"),
        ({"name": "x", "points": [{"learning_rate": 1e-3, "beta1": 0.9, "beta2": 1.0}]},
         "list 'x', point 0: beta2 must be in [0, 1)"),
    ],
)  # fmt: skip
def test_bad_list_files_are_rejected_with_the_point_and_field(d, message):
    with pytest.raises(ValueError) as e:
        NamedList.from_dict(d)
    assert message in str(e.value)


def test_points_are_hparams():
    assert all(isinstance(p, HParams) for p in get_list("nadamw-algoperf-baseline").points)


def test_the_shipped_cpu_list_is_the_study_sample_points_its_provenance_names(tmp_path):
    """nadamw-hplists-cpu is regenerable: its points are the nadamw-broad Halton sample's
    points at the recorded indices, as the committed store recorded them."""
    import json
    from importlib import resources

    from hplists.space import get_space, sample

    named = get_list("nadamw-hplists-cpu")
    raw = json.loads(resources.files("hplists.lists").joinpath(
        "data/nadamw-hplists-cpu.json").read_text())
    prov = raw["provenance"]
    assert (prov["space"], prov["sample"]["method"], prov["k"], prov["tau"]) == \
        ("nadamw-broad", "halton", 5, 2.0)
    drawn = sample(get_space(prov["space"]), prov["sample"]["points"], seed=prov["sample"]["seed"])
    # The store's recorded bits, each within RTOL of today's sample (hplists.study.samples).
    resolved = _resolved("study.db", "broad200", drawn, tmp_path)
    assert named.points == tuple(resolved[i] for i in prov["sample_indices"])
    assert len(prov["workloads"]) == 8 and set(prov["targets"]) == set(prov["workloads"])


# The learning-rate-free lists shipped from the committed study (hplists study lrfree).
LRFREE_LISTS = sorted(n for n in available_lists() if n.endswith(("-calibrated-cpu", "-list-cpu"))
                      and not n.startswith("nadamw"))
LRFREE_DB = Path(__file__).resolve().parents[1] / "stores" / "lrfree.db"
# Lists ship from samples of at least this many points per search; a smaller pass (the
# study's first, 64 points) completes searches whose lists do not ship.
SHIPPED_POINTS = 100


def _raw(name):
    return json.loads(resources.files("hplists.lists").joinpath(f"data/{name}.json").read_text())


def test_each_learning_rate_free_method_that_reaches_a_target_ships_a_default_and_a_list():
    """Both files or neither (the committed store's export decides which methods ship)."""
    methods = {get_list(n).optimizer for n in LRFREE_LISTS}
    for m in methods:
        assert {f"{m}-calibrated-cpu", f"{m}-list-cpu"} <= set(LRFREE_LISTS)
        assert len(get_list(f"{m}-calibrated-cpu")) == 1
        assert len(get_list(f"{m}-list-cpu")) == 5


def _resolved(store: str, study: str, drawn, tmp_path):
    """``drawn`` with the bits a copy of the committed ``stores/<store>`` recorded."""
    from hplists.store import open_store
    from hplists.study.samples import resolve_sample

    root = Path(__file__).resolve().parents[1] / "stores"
    for suffix in ("", "-wal"):  # opening a store may write to it (journal mode)
        if (root / f"{store}{suffix}").exists():
            shutil.copyfile(root / f"{store}{suffix}", tmp_path / f"{store}{suffix}")
    return resolve_sample(open_store(tmp_path / store, create=False), study, drawn)


@pytest.mark.parametrize("name", LRFREE_LISTS)
def test_learning_rate_free_lists_name_their_study_sample_and_date(name, tmp_path):
    """Provenance: the store and study the points came from, the sample, the date; the
    points are the sample's at the recorded indices, with the store's recorded bits."""
    import datetime

    from hplists.study.lrfree import ADAPTIVE_METHODS, SEARCHES, LrFreeConfig, Search

    prov = _raw(name)["provenance"]
    assert prov["store"] == "stores/lrfree.db" and prov["hplists"]
    assert prov["sample"]["method"] == "halton" and prov["sample"]["points"] >= SHIPPED_POINTS
    datetime.date.fromisoformat(prov["date"])
    # Every search the study may run: the adaptive step's 33%/66% searches too.
    adaptive = tuple(Search(m, h) for m in ADAPTIVE_METHODS for h in (0.33, 0.66))
    search = next(s for s in LrFreeConfig(points=prov["sample"]["points"],
                                          searches=(*SEARCHES, *adaptive)).searches
                  if s.study == prov["study"])
    drawn = _resolved(Path(prov["store"]).name, search.study,
                      search.points(prov["sample"]["points"], prov["sample"]["seed"]), tmp_path)
    indices = prov.get("sample_indices", [prov.get("sample_index")])
    assert list(get_list(name).points) == [drawn[i] for i in indices]


@pytest.mark.skipif(not LRFREE_DB.is_file(), reason="the committed lrfree store is not here")
def test_shipped_learning_rate_free_lists_are_what_the_committed_store_exports(tmp_path):
    """Regenerable: `hplists study export-list lrfree --points 100 -o DIR` on the committed
    store writes the shipped files' points (and nothing else)."""
    from hplists.store import open_store
    from hplists.study.lrfree import SEARCHES, LrFreeConfig, LrFreeStudy
    from hplists.workloads.registry import get_workload, workload_names

    if LRFREE_LISTS:
        prov = _raw(LRFREE_LISTS[0])["provenance"]
        workloads, points = prov["workloads"], prov["sample"]["points"]
    else:  # nothing ships until the committed study has a complete search that hits
        workloads = [n for n in workload_names(variants=False)
                     if type(get_workload(n)).__module__.startswith("hplists.")]
        points = SHIPPED_POINTS
    # The study's own workloads: other test modules register tiny ones in this process.
    config = LrFreeConfig(workloads=workloads, points=points, searches=SEARCHES)
    copy = tmp_path / "lrfree.db"  # opening a store may write to it (journal mode)
    shutil.copyfile(LRFREE_DB, copy)
    if LRFREE_DB.with_name("lrfree.db-wal").exists():
        shutil.copyfile(LRFREE_DB.with_name("lrfree.db-wal"), tmp_path / "lrfree.db-wal")
    study = LrFreeStudy(open_store(copy, create=False), config)
    if study.unfinished(["calibration", "candidates"]):  # its lists may still change
        assert LRFREE_LISTS == [], "lists ship only from a finished pass"
        return
    written = study.export_lists(str(tmp_path / "lists"))
    assert sorted(Path(w).stem for w in written) == LRFREE_LISTS
    for w in written:
        assert json.loads(Path(w).read_text())["points"] == _raw(Path(w).stem)["points"]


@pytest.mark.parametrize("name", LRFREE_LISTS)
def test_learning_rate_free_lists_run_from_pytorch_or_say_why_not(name):
    """Each point builds and steps on what computes its rule in PyTorch (hplists' own
    optimizer or the method's package; MoMo's steps with the batch loss), or the build
    names the reason there is none."""
    torch = pytest.importorskip("torch")
    from hplists import torch_lrfree
    from hplists.optim import lrfree

    named = get_list(name)
    net = torch.nn.Linear(3, 1)
    for point in named.points:
        if named.optimizer in torch_lrfree.UNSUPPORTED:
            with pytest.raises(ValueError, match=f"'{named.optimizer}' has no PyTorch path"):
                hplists.torch.build(point, net, 100, method=named.optimizer)
            continue
        pytest.importorskip({"dog-optimizer": "dog"}.get(p := torch_lrfree.PACKAGES[named.optimizer], p))
        opt, sched = hplists.torch.build(point, net, 100, method=named.optimizer, exact=False)
        loss = net(torch.ones(4, 3)).square().mean()
        loss.backward()
        if lrfree.get_method(named.optimizer).needs_loss:
            opt.step(loss=loss)
        else:
            opt.step()
        sched.step()
        assert all(torch.isfinite(p).all() for p in net.parameters())
