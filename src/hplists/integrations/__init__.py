"""Training frameworks with a list's points: each integration is a submodule imported on use.

* :mod:`hplists.integrations.transformers`: Hugging Face ``transformers.Trainer``
  (``optimizers``, ``point_trainer``, ``tune_trainer``); needs ``hplists[transformers]``.
* :mod:`hplists.integrations.lightning`: Lightning's ``configure_optimizers``
  (and a mixin); needs ``hplists[lightning]``.
* :mod:`hplists.integrations.algoperf`: AlgoPerf submissions (external-tuning
  ruleset) that run hplists' NAdamW and schedule exactly.
* :mod:`hplists.integrations.point_options`: what the first two hand
  :func:`hplists.torch.build` for a point of any list (NAdamW's default mask).

Importing this package imports none of the frameworks, so it is as cheap as ``import hplists``.
"""
