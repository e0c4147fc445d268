"""Greedy (best-path) decoding of CTC outputs.

CTC (Graves et al., 2006) emits one distribution per frame over the labels
plus a *blank*. Best-path decoding takes the most likely label of every
frame, merges runs of the same label and drops blanks: ``a a - b b - b``
decodes to ``a b b``. It is the decoding AlgoPerf's LibriSpeech workloads use
for their WER.
"""

from __future__ import annotations

import numpy as np

from hplists.exceptions import InvalidParameterError

__all__ = ["greedy_decode"]


def greedy_decode(
    outputs: np.ndarray, paddings: np.ndarray | None = None, *, blank: int = 0
) -> list[np.ndarray]:
    """Best-path CTC decoding of a batch.

    Args:
        outputs: per-frame label ids ``[batch, frames]`` (ints), or scores
            ``[batch, frames, labels]`` whose argmax is taken.
        paddings: ``[batch, frames]``, nonzero on padded frames (ignored);
            ``None`` means no padding.
        blank: the id of the CTC blank.

    Returns:
        One 1-D int array of decoded labels per example.

    Example:
        >>> ids = np.array([[1, 1, 0, 2, 2, 0, 2, 5], [0, 3, 3, 3, 0, 0, 0, 0]])
        >>> [d.tolist() for d in greedy_decode(ids, paddings=(ids == 5))]
        [[1, 2, 2], [3]]
    """
    outputs = np.asarray(outputs)
    if outputs.ndim == 3:
        outputs = outputs.argmax(axis=-1)
    if outputs.ndim != 2:
        raise InvalidParameterError(
            f"outputs must be [batch, frames] ids or [batch, frames, labels] scores, "
            f"got shape {outputs.shape}"
        )
    if not np.issubdtype(outputs.dtype, np.integer):
        raise InvalidParameterError(f"outputs of shape [batch, frames] must be integer ids, got {outputs.dtype}")
    keep = outputs != blank
    keep[:, 1:] &= outputs[:, 1:] != outputs[:, :-1]
    if paddings is not None:
        paddings = np.asarray(paddings)
        if paddings.shape != outputs.shape:
            raise InvalidParameterError(
                f"paddings must have the shape of the frames {outputs.shape}, got {paddings.shape}"
            )
        keep &= paddings == 0
    return [row[k] for row, k in zip(outputs, keep, strict=True)]
