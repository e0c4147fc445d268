"""Paper 002's methods as records: what each update rule takes, its literature defaults, and
what computes it in PyTorch.

One record per method (:class:`Method` in :data:`METHODS`) is all that the study, the report,
the docs' methods table and :mod:`hplists.torch_lrfree` read; :data:`TAKES` says which
hyperparameters each rule of :mod:`hplists.optim.lrfree` accepts. This module imports
neither JAX nor PyTorch, so both sides can read it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

__all__ = ["METHODS", "SCHEDULE_FREE", "SCHEDULE_KEYS", "TAKES", "VARIANTS", "Method",
           "get_method", "methods_markdown", "schedule_keys"]

# Keys every rule accepts: the relative schedule's and those the engine consumes.
SCHEDULE_KEYS = ("warmup_fraction", "warmup_steps", "relative_schedule", "horizon",
                 "dropout_rate", "label_smoothing")
# A Schedule-Free rule has a warmup and no schedule to scale or cut at a horizon.
_SF_SCHEDULE_KEYS = ("warmup_fraction", "warmup_steps", "dropout_rate", "label_smoothing")
SCHEDULE_FREE = ("sfadamw", "sfadamw_algoperf")
_MECHANIC = ("beta1", "beta2", "weight_decay", "eps", "mechanic_weight_decay", "s_init")
_SF = ("learning_rate", "beta1", "beta2", "weight_decay", "eps", "weight_lr_power")

#: Rule -> the hyperparameters it takes besides its schedule's keys (:func:`schedule_keys`):
#: what each rule checks, and what :mod:`hplists.torch_lrfree` accepts for it.
TAKES: dict[str, tuple[str, ...]] = {
    "dog": ("weight_decay", "init_step"),
    "dowg": ("weight_decay", "eps"),
    "dadapt_adamw": ("beta1", "beta2", "weight_decay", "eps", "estim_lr0"),
    "prodigy": ("beta1", "beta2", "weight_decay", "eps", "estim_lr0", "safeguard_warmup"),
    "mechanic": ("weight_decay", "mechanic_weight_decay", "s_init"),
    "mechanic_adam": _MECHANIC,
    "mechanic_nadam": _MECHANIC,
    "cocob": ("weight_decay", "alpha"),
    "momo": ("beta1", "weight_decay", "learning_rate"),
    "momo_adam": ("beta1", "beta2", "weight_decay", "eps", "learning_rate"),
    "sfadamw": _SF,
    "sfadamw_algoperf": (*_SF, "r"),
}

#: Rules that are a variant of a method of :data:`METHODS` (the same algorithm, set up as a
#: published submission ran it) -> that method.
VARIANTS: dict[str, str] = {"sfadamw_algoperf": "sfadamw"}


def schedule_keys(rule: str) -> tuple[str, ...]:
    """The schedule's keys that ``rule`` accepts besides :data:`TAKES` (horizon, warmup, ...).

    Example:
        >>> "horizon" in schedule_keys("prodigy"), "horizon" in schedule_keys("sfadamw")
        (True, False)
    """
    return _SF_SCHEDULE_KEYS if rule in SCHEDULE_FREE else SCHEDULE_KEYS


@dataclasses.dataclass(frozen=True)
class Method:
    """A method of paper 002: its rule, what it takes, and its literature defaults.

    Attributes:
        name: the update rule's registered name (:mod:`hplists.optim.rules`).
        label: the row label of paper 002's tables.
        hyperparameters: what the calibration searches (besides the warmup,
            dropout, label smoothing and horizon).
        defaults: the literature defaults ("out of the box": optax's defaults,
            regularization off, no relative schedule).
        sources: where each default comes from.
        weight_decay: what its weight decay means.
        state: optimizer-state floats per parameter (and what they are).
        horizon: whether it decays to 0 at a horizon.
        learning_rate_free: whether it has no base learning rate.
        torch: what computes the same algorithm in PyTorch, if anything
            (:mod:`hplists.torch_lrfree`): a package's pip name, or
            ``"hplists"`` for hplists' own implementation
            (:mod:`hplists.optim.torch_schedule_free`,
            :mod:`hplists.optim.torch_mechanic`).
        torch_missing: why there is no PyTorch path (exactly one of ``torch``
            and ``torch_missing`` is set).
    """

    name: str
    label: str
    hyperparameters: tuple[str, ...]
    defaults: Mapping[str, float]
    sources: Mapping[str, str]
    weight_decay: str
    state: str
    horizon: bool = True
    learning_rate_free: bool = True
    torch: str = ""
    torch_missing: str = ""

    def __post_init__(self) -> None:
        if bool(self.torch) == bool(self.torch_missing):
            raise ValueError(f"method {self.name!r}: give exactly one of torch (what computes it in "
                             "PyTorch) and torch_missing (why nothing does)")


_OFF = {"relative_schedule": 0.0, "weight_decay": 0.0, "dropout_rate": 0.0,
        "label_smoothing": 0.0}
_ADAM = {"beta1": 0.9, "beta2": 0.999}
_ADAM_SRC = "Adam's (0.9, 0.999), optax's default; paper 002 Sec. 4 keeps them"

METHODS: dict[str, Method] = {m.name: m for m in (
    Method("dog", "DoG", ("weight_decay",), {**_OFF, "init_step": 1e-6},
           {"init_step": "r_eps = 1e-6 (1 + ‖x_0‖): Ivgi et al. (2023), optax's "
                         "('heuristic', 1e-6)", "learning rate": "1 (paper 002 Table 1)"},
           "coupled (L2 added to the gradient)", "1 (x_0)", torch="dog-optimizer"),
    Method("dowg", "DoWG", ("weight_decay",), {**_OFF, "eps": 1e-4},
           {"eps": "initial squared distance = eps = 1e-4: optax's default (Khaled et al., "
                   "2023)", "learning rate": "1 (paper 002 Table 1)"},
           "coupled (L2 added to the gradient)", "1 (x_0)",
           torch_missing="no PyTorch package of DoWG is in the 'lrfree-torch' extra"),
    Method("dadapt_adamw", "D-Adapt (w. Adam)", ("beta1", "beta2", "weight_decay"),
           {**_OFF, **_ADAM, "estim_lr0": 1e-6},
           {"estim_lr0": "d_0 = 1e-6: Defazio & Mishchenko (2023), optax and `dadaptation`",
            "beta1, beta2": _ADAM_SRC},
           "decoupled (AdamW), multiplied by d_t s_t and the bias correction",
           "3 (m, v, s)", torch="dadaptation"),
    Method("prodigy", "Prodigy (w. Adam)", ("beta1", "beta2", "weight_decay"),
           {**_OFF, **_ADAM, "estim_lr0": 1e-6, "safeguard_warmup": 0},
           {"estim_lr0": "d_0 = 1e-6: Mishchenko & Defazio (2023), optax and `prodigyopt`",
            "safeguard_warmup": "off: optax's and prodigyopt's default (the calibration "
                                "turns it on with a warmup, paper 002 Sec. 2.3)",
            "beta1, beta2": _ADAM_SRC},
           "decoupled (AdamW), multiplied by d_t s_t and the bias correction",
           "4 (m, v, s, x_0)", torch="prodigyopt"),
    Method("mechanic", "Mechanic", ("weight_decay",),
           {**_OFF, "mechanic_weight_decay": 1e-2, "s_init": 1e-6},
           {"s_init": "1e-6: optax's default", "mechanic_weight_decay": "lambda = 0.01: "
            "Cutkosky et al. (2023), optax", "base": "SGD with learning rate 1 (paper 002 "
            "Table 1: schedule-based, peak lr 1)"},
           "coupled (L2 added to the gradient); Mechanic adds its own lambda ‖g‖ / ‖x‖ x",
           "1 (x_0)", torch="hplists"),
    Method("mechanic_adam", "Mechanic (w. Adam)", ("beta1", "beta2", "weight_decay"),
           {**_OFF, **_ADAM, "mechanic_weight_decay": 1e-2, "s_init": 1e-6},
           {"s_init": "1e-6: optax's default", "mechanic_weight_decay": "lambda = 0.01: "
            "Cutkosky et al. (2023), optax", "num_betas": "6: optax's default (paper 002 "
            "Sec. 2.3 keeps it)", "beta1, beta2": _ADAM_SRC},
           "decoupled in the base AdamW (times s_t and Mechanic's scale); Mechanic adds "
           "its own lambda ‖g‖ / ‖x‖ x", "3 (m, v of Adam; x_0)", torch="hplists"),
    Method("mechanic_nadam", "Mechanic (w. Nadam)", ("beta1", "beta2", "weight_decay"),
           {**_OFF, **_ADAM, "mechanic_weight_decay": 1e-2, "s_init": 1e-6},
           {"s_init": "1e-6: optax's default", "mechanic_weight_decay": "0.01: optax",
            "beta1, beta2": _ADAM_SRC},
           "as Mechanic (w. Adam), over NAdamW", "3 (m, v of NAdam; x_0)", torch="hplists"),
    Method("cocob", "COCOB", ("weight_decay",), {**_OFF, "alpha": 100.0},
           {"alpha": "100: Orabona & Tommasi (2017), optax"},
           "coupled (L2 added to the gradient)", "5 (x_0, sum g, L, sum |g|, reward)",
           torch_missing="no well-kept PyTorch package of COCOB is in the 'lrfree-torch' extra "
                         "(and the optax rule multiplies COCOB's output by the relative schedule, "
                         "which a learning rate cannot do: COCOB is invariant to it)"),
    Method("momo", "MoMo", ("beta1", "weight_decay"), {**_OFF, "beta1": 0.9,
                                                       "learning_rate": 1.0},
           {"learning_rate": "cap 1: Schaipp et al. (2023), optax; lower bound 0",
            "beta1": "0.9: optax"},
           "proximal (x / (1 + lr s_t wd))", "1 (momentum)",
           torch_missing="momo-opt divides the whole step by 1 + lr wd (x <- (x - tau d) / "
                         "(1 + lr wd)), optax.contrib.momo only x (x / (1 + lr wd) - tau d), and "
                         "its equivalence without weight decay is not verified; it is not in the "
                         "extra"),
    Method("momo_adam", "MoMo (w. Adam)", ("beta1", "beta2", "weight_decay"),
           {**_OFF, **_ADAM, "learning_rate": 1e-2},
           {"learning_rate": "cap 1e-2: Schaipp et al. (2023), optax; lower bound 0",
            "beta1, beta2": _ADAM_SRC},
           "proximal (x / (1 + lr s_t wd))", "2 (m, v)",
           torch_missing="momo-opt's MoMo-Adam decays weights as (x - tau d/D) / (1 + lr wd) "
                         "or x (1 - lr wd) - tau d/D, optax.contrib.momo_adam as x / (1 + lr wd) "
                         "- tau d/D, and its equivalence without weight decay is not verified; "
                         "it is not in the extra"),
    Method("sfadamw", "Schedule-Free AdamW",
           ("learning_rate", "beta1", "beta2", "weight_decay"),
           {"learning_rate": 0.0025, **_ADAM, "weight_decay": 0.0, "weight_lr_power": 2.0,
            "dropout_rate": 0.0, "label_smoothing": 0.0},
           {"learning_rate": "0.0025: optax's schedule_free_adamw (Defazio et al., 2024)",
            "weight_lr_power": "2: optax", "warmup": "none: optax's default"},
           "decoupled at y, multiplied by the warmed-up learning rate", "2 (z, v)",
           horizon=False, learning_rate_free=False, torch="hplists"),
)}


def get_method(name: str) -> Method:
    """The :class:`Method` registered as ``name``.

    Example:
        >>> get_method("prodigy").label
        'Prodigy (w. Adam)'
        >>> get_method("adam")
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: method must be one of 'dog', ...; got 'adam'
    """
    from hplists._check import check_choice

    return METHODS[check_choice("method", name, tuple(METHODS))]


def methods_markdown() -> str:
    """The methods as a Markdown table: defaults with their sources, weight decay, state size.

    ``docs/lrfree.md`` holds this table (a test keeps the two equal).

    Example:
        >>> methods_markdown().splitlines()[0].startswith("| rule | method |")
        True
    """
    def fmt(v: float) -> str:
        return f"{v:g}"

    rows = ["| rule | method | literature defaults | sources | weight decay | state "
            "(floats/param) | PyTorch package |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for m in METHODS.values():
        defaults = ", ".join(f"{k}={fmt(v)}" for k, v in m.defaults.items()
                             if k not in ("dropout_rate", "label_smoothing"))
        sources = "; ".join(f"{k}: {v}" for k, v in m.sources.items())
        torch = f"`{m.torch}`" if m.torch else "none"
        rows.append(f"| `{m.name}` | {m.label} | {defaults} | {sources} | {m.weight_decay} "
                    f"| {m.state} | {torch} |")
    return "\n".join(rows) + "\n"
