"""The numbers of paper 001 that the report sets side by side with ours.

Kazemi et al., *Training neural networks faster with minimal tuning using
pre-computed lists of hyperparameters for NAdamW* (arXiv 2503.03986): Tables 2-14,
transcribed from the paper. ``inf`` is the paper's ``∞`` (target not reached).

The paper's workloads are the AlgoPerf workloads at full scale; ours are
their CPU-sized analogs with their own targets and budgets, so the numbers
are comparable in kind (how many targets a list reaches, how fast relative to
the budget), not in value. :data:`WORKLOADS` maps each built-in base workload
to the paper's column; a variant is matched to its base workload by name
(``<base>_<modification>``, e.g. ``image_resnet_silu``).

Example:
    >>> TABLE9["image_vit"], round(table9_cost(), 6)
    (0.809714, 0.856396)
    >>> paper_name("speech_rnn")
    'LibriSpeech DeepSpeech'
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = [
    "BUDGETS",
    "CLAIMS",
    "TABLE4",
    "TABLE5",
    "TABLE6",
    "TABLE7",
    "TABLE8",
    "TABLE9",
    "TABLE10",
    "TABLE12",
    "TABLE13",
    "TARGETS",
    "VARIANT_NAMES",
    "VARIANT_TARGETS",
    "WORKLOADS",
    "base_of",
    "paper_name",
    "table9_cost",
]

INF = math.inf

# Built-in base workload -> (the paper's name, metric, direction), in the paper's column order.
WORKLOADS: dict[str, tuple[str, str, str]] = {
    "ctr_dlrm": ("Criteo 1TB DLRMsmall", "CE", "min"),
    "mri_unet": ("fastMRI U-Net", "SSIM", "max"),
    "image_resnet": ("ImageNet ResNet-50", "Error rate", "min"),
    "image_vit": ("ImageNet ViT", "Error rate", "min"),
    "speech_conformer": ("LibriSpeech Conformer", "WER", "min"),
    "speech_rnn": ("LibriSpeech DeepSpeech", "WER", "min"),
    "graph_gnn": ("OGBG GNN", "mAP", "max"),
    "translate_transformer": ("WMT Transformer", "BLEU", "max"),
}

# Table 2: validation targets; Table 11: step budgets.
TARGETS = {"ctr_dlrm": 0.123649, "mri_unet": 0.723653, "image_resnet": 0.22569,
           "image_vit": 0.22691, "speech_conformer": 0.078477, "speech_rnn": 0.1162,
           "graph_gnn": 0.28098, "translate_transformer": 30.8491}
BUDGETS = {"ctr_dlrm": 10666, "mri_unet": 36189, "image_resnet": 186666, "image_vit": 186666,
           "speech_conformer": 80000, "speech_rnn": 48000, "graph_gnn": 80000,
           "translate_transformer": 133333}

# Table 3: the variant of each base workload and its target.
VARIANT_NAMES = {"ctr_dlrm": "+ LayerNorm", "mri_unet": "+ LayerNorm", "image_resnet": "+ SiLU",
                 "image_vit": "+ Post-LN", "speech_conformer": "+ GELU", "speech_rnn": "+ tanh",
                 "graph_gnn": "+ GELU", "translate_transformer": "+ Post-LN"}
VARIANT_TARGETS = {"ctr_dlrm": 0.123757, "mri_unet": 0.723284, "image_resnet": 0.24555,
                   "image_vit": 0.246880, "speech_conformer": 0.094114, "speech_rnn": 0.150883,
                   "graph_gnn": 0.27771, "translate_transformer": 30.0779}

# Table 4: of 200 points, how many reach the target; of those, how many also on >= 1 / >= 2 others.
TABLE4: dict[str, tuple[int, int, int]] = {
    "ctr_dlrm": (24, 14, 4), "mri_unet": (8, 3, 1), "image_resnet": (2, 2, 2),
    "image_vit": (17, 10, 4), "speech_conformer": (6, 6, 4), "speech_rnn": (23, 19, 8),
    "graph_gnn": (9, 6, 2), "translate_transformer": (7, 6, 1),
}


def _row(*values: float) -> dict[str, float]:
    return dict(zip(WORKLOADS, values, strict=True))


# Table 5: held-out step fractions (median over 5 repetitions) of the leave-one-out lists
# and the baselines. Vizier stands where our rows have Optuna's GP sampler.
TABLE5: dict[str, dict[str, float]] = {
    "Leave-one-out lists": _row(0.73889, 0.12968, 0.93967, 0.92967, 0.83, 0.79, 0.54, INF),
    "LR sweep (WD = 0.5)": _row(0.83874, INF, INF, INF, INF, INF, 0.72, INF),
    "LR sweep (WD = 1e-4)": _row(0.71892, INF, INF, INF, INF, INF, INF, 0.69983),
    "Vizier (budget = 5)": _row(INF, INF, 0.979653, INF, INF, INF, INF, 0.999752),
    "Vizier (budget = 10)": _row(INF, INF, 0.979653, INF, INF, INF, 0.94, 0.999752),
    "Metz et al": _row(INF, INF, INF, INF, INF, INF, INF, INF),
}

# Table 6: best validation metrics on the base workloads.
TABLE6: dict[str, dict[str, float]] = {
    "Leave-one-out lists": _row(0.123488, 0.723800, 0.22508, 0.22124, 0.079682, 0.116066,
                                 0.289699, 30.417497),
    "LR sweep (WD = 0.5)": _row(0.123542, 0.722731, 0.22684, 0.62042, 0.119027, 0.124449,
                                0.283971, 24.045937),
    "LR sweep (WD = 1e-4)": _row(0.123521, 0.722462, 0.25078, 0.25462, 0.106376, 0.125401,
                                 0.275011, 30.855032),
    "Vizier (budget = 5)": _row(0.123861, 0.711889, 0.22672, 0.24966, 0.084357, 0.124603,
                                0.280878, 30.755536),
    "Vizier (budget = 10)": _row(0.123861, 0.711889, 0.22672, 0.22956, 0.084357, 0.118377,
                                 0.280878, 30.855786),
    "Metz et al": _row(0.123719, 0.722440, 0.27878, 0.24284, 0.114179, 0.123489, 0.258499,
                       28.466302),
    "Random Search (budget = 5)": _row(0.123975, 0.721746, 0.260200, 0.259580, 0.122765,
                                       0.136830, 0.257632, 29.46569),
}

# Tables 7 and 8: the final list on the variants (keyed by base workload).
TABLE7 = _row(0.71892, 0.119705, 0.839703, INF, 0.72, 0.7, 0.3, 0.619847)
TABLE8 = _row(0.123536, 0.724563, 0.2245, 0.26942, 0.083247, 0.135851, 0.284199, 30.54408)

# Tables 9 and 14 (the same numbers): the final list on the base workloads.
TABLE9 = _row(0.75886, INF, 0.949664, 0.809714, 0.82, 0.79, 0.58, 0.659837)

# Table 10: the final list, in priority order (shipped as the list "nadamw-paper").
TABLE10: tuple[dict[str, float], ...] = (
    {"learning_rate": 0.007188680089024849, "warmup_fraction": 0.1,
     "beta1": 0.9521079797438937, "beta2": 0.9545645606521953,
     "weight_decay": 0.020932289532959312, "dropout_rate": 0.0, "label_smoothing": 0.2},
    {"learning_rate": 0.0011719210768906827, "warmup_fraction": 0.02,
     "beta1": 0.9641782560318817, "beta2": 0.9953311727740848,
     "weight_decay": 0.15957548811577366, "dropout_rate": 0.1, "label_smoothing": 0.0},
    {"learning_rate": 0.001183374563441696, "warmup_fraction": 0.02,
     "beta1": 0.918959806679234, "beta2": 0.9941923836947718,
     "weight_decay": 0.028400661323288435, "dropout_rate": 0.1, "label_smoothing": 0.1},
    {"learning_rate": 0.0014515212275017363, "warmup_fraction": 0.1,
     "beta1": 0.9600296609757403, "beta2": 0.889423091749684,
     "weight_decay": 0.031808785805059143, "dropout_rate": 0.0, "label_smoothing": 0.2},
    {"learning_rate": 0.0005102205206215031, "warmup_fraction": 0.05,
     "beta1": 0.9120180064671332, "beta2": 0.9597041640569521,
     "weight_decay": 0.04833675039698776, "dropout_rate": 0.1, "label_smoothing": 0.0},
)

# Table 12: penalty factor tau -> held-out workloads trained (5-point lists, of 8).
TABLE12: dict[float, int] = {1.0: 6, 1.11: 6, 1.22: 6, 1.33: 7, 1.44: 7, 1.55: 7, 1.66: 7,
                             1.77: 7, 1.88: 7, 2.0: 7}

# Table 13: strategy -> held-out workloads trained (lists/sets of 4 points, of 8).
TABLE13: dict[str, int] = {"greedy": 7, "exhaustive": 5}

# The claims of the closing note: key -> (the paper's count, how the paper states it).
CLAIMS: dict[str, tuple[int, str]] = {
    "held_out_trained": (7, "7 of 8 (Table 5)"),
    "three_x": (6, "6 of 8: at least 15 trials on all but Criteo 1TB and WMT (Sec. 4.1, "
                   "Appendix B)"),
    "rank": (1, "1 of 6 (Table 5: 7 targets; no baseline more than 3)"),
    "final_on_variants": (7, "7 of 8 (Table 7)"),
    "all_trained_at_k": (7, "from 7 points on (Sec. 4.2.1, Figure 2)"),
}


def paper_name(workload: str) -> str | None:
    """The paper's name of a built-in base workload (``None`` for other names)."""
    entry = WORKLOADS.get(workload)
    return None if entry is None else entry[0]


def base_of(workload: str, bases: Mapping[str, object] | None = None) -> str | None:
    """The base workload of a variant named ``<base>_<modification>`` (longest match).

    Example:
        >>> base_of("image_resnet_silu"), base_of("image_resnet"), base_of("mnist_relu")
        ('image_resnet', None, None)
    """
    names = WORKLOADS if bases is None else bases
    found = [b for b in names if workload.startswith(b + "_")]
    return max(found, key=len) if found else None


def table9_cost(tau: float = 2.0) -> float:
    """``C_tau`` of the paper's final list on the base workloads (Table 9)."""
    from hplists.scoring.cost import cost

    return cost(list(TABLE9.values()), tau=tau)
