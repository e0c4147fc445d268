"""hplists.integrations.lightning: real lightning.Trainer fits of a tiny module on random data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import lightning
import pytest
import torch

import hplists
from hplists.exceptions import InvalidParameterError
from hplists.integrations import lightning as hl
from hplists.optim.schedule import warmup_cosine_factor, warmup_steps
from hplists.torch import NAdamW, WarmupCosineFactor, param_groups

POINT = hplists.HParams(learning_rate=4e-3, beta1=0.85, beta2=0.98, eps=1e-7, weight_decay=0.05,
                        warmup_fraction=0.25, dropout_rate=0.1, label_smoothing=0.1)


LISTS = Path(__file__).resolve().parent / "data" / "lists"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Classifier(lightning.LightningModule):
    """An MLP with the point's dropout and label smoothing; records the lr of every update."""

    def __init__(self, point: hplists.HParams, total_steps: int | None = None) -> None:
        super().__init__()
        self.point, self.total_steps, self.lrs = point, total_steps, []
        self.net = torch.nn.Sequential(
            torch.nn.Linear(4, 16), torch.nn.LayerNorm(16), torch.nn.ReLU(),
            torch.nn.Dropout(point.dropout_rate), torch.nn.Linear(16, 2))
        self.loss = torch.nn.CrossEntropyLoss(label_smoothing=point.label_smoothing)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return self.loss(self.net(x), y)

    def on_before_optimizer_step(self, optimizer):
        self.lrs.append(optimizer.param_groups[0]["lr"])

    def configure_optimizers(self):
        return hl.configure_optimizers(self.point, self, self.total_steps)


class MixinClassifier(hl.PointOptimizers, Classifier):
    """The same module, its configure_optimizers from the mixin (first in the bases)."""


def point_of(method: str) -> Any:
    """The first point of the example list of ``method`` (``tests/data/lists``)."""
    return hplists.get_list(str(LISTS / f"{method}-example.json"))[0]


class Recorder(hl.PointOptimizers, Classifier):
    """The mixin's module; records the optimizer's mode in every training and validation
    step, and the loss each update read (MoMo's rules take it from Lightning's closure)."""

    def __init__(self, point: Any) -> None:
        super().__init__(point)
        self.modes: dict[str, list[bool]] = {"train": [], "validation": []}

    def _mode(self) -> bool:
        (opt,) = self.trainer.optimizers
        return all(g.get("train_mode", True) for g in opt.param_groups)

    def training_step(self, batch, batch_idx):
        self.modes["train"].append(self._mode())
        return super().training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        self.modes["validation"].append(self._mode())
        x, y = batch
        self.log("val_loss", self.loss(self.net(x), y))


def data(n: int, batch_size: int) -> torch.utils.data.DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] > 0).long()
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y),
                                       batch_size=batch_size)


def fit(module: lightning.LightningModule, loader, val=None, **options) -> lightning.Trainer:
    trainer = lightning.Trainer(accelerator="cpu", devices=1, logger=False,
                                enable_checkpointing=False, enable_progress_bar=False,
                                enable_model_summary=False, **options)
    trainer.fit(module, loader, val)
    return trainer


def schedule(point: hplists.HParams, total: int) -> list[float]:
    warm = warmup_steps(point.warmup_fraction, total)
    return [point.learning_rate * warmup_cosine_factor(t, warm, total) for t in range(total)]


def test_the_mixin_fits_with_nadamw_its_mask_and_a_per_step_schedule_to_0():
    module = MixinClassifier(POINT)
    trainer = fit(module, data(64, 8), max_steps=12)
    (opt,) = trainer.optimizers
    assert isinstance(opt, NAdamW)
    # The decay mask is hplists' param_groups rule: matrices decayed, vectors not.
    expected = param_groups(module)
    assert [[id(p) for p in g["params"]] for g in opt.param_groups] == \
        [[id(p) for p in g["params"]] for g in expected]
    assert [g["weight_decay"] for g in opt.param_groups] == [0.05, 0.0]
    assert {(g["betas"], g["eps"], g["initial_lr"]) for g in opt.param_groups} == {
        ((0.85, 0.98), 1e-7, 4e-3)}
    (config,) = trainer.lr_scheduler_configs
    assert (config.interval, config.frequency) == ("step", 1)
    assert config.scheduler.lr_lambdas[0].__dict__ == WarmupCosineFactor(3, 12).__dict__
    # 12 updates at lr * factor(t), stepped per step: 0, warmup to the peak at t=3, 0 after.
    assert trainer.global_step == 12 and {s["step"] for s in opt.state.values()} == {12}
    assert module.lrs == pytest.approx(schedule(POINT, 12), rel=1e-12, abs=0)
    assert module.lrs[3] == 4e-3
    assert [g["lr"] for g in opt.param_groups] == [0.0, 0.0]


def test_the_horizon_defaults_to_the_trainers_estimated_stepping_batches():
    module = Classifier(POINT)  # total_steps=None: from the Trainer
    trainer = fit(module, data(40, 8), max_epochs=2, accumulate_grad_batches=2)
    # 5 batches per epoch, 3 optimizer steps per epoch (the last accumulates 1), 2 epochs.
    assert trainer.estimated_stepping_batches == 6 == trainer.global_step
    assert trainer.lr_scheduler_configs[0].scheduler.lr_lambdas[0].total_steps == 6
    assert module.lrs == pytest.approx(schedule(POINT, 6), rel=1e-12, abs=0)
    assert trainer.optimizers[0].param_groups[0]["lr"] == 0.0


def test_bad_input_gets_a_clear_error():
    with pytest.raises(InvalidParameterError, match="Classifier is not attached to a Lightning "
                                                    "Trainer; pass total_steps"):
        hl.configure_optimizers(POINT, Classifier(POINT))
    with pytest.raises(InvalidParameterError, match=r"total_steps must be an integer in "
                                                    r"\[1, inf\], got 0"):
        hl.configure_optimizers(POINT, Classifier(POINT), 0)
    with pytest.raises(InvalidParameterError, match=r"point must be a list's point \(an "
                                                    r"hplists\.HParams or a MethodPoint"):
        hl.configure_optimizers(POINT.to_dict(), Classifier(POINT), 10)
    with pytest.raises(InvalidParameterError, match="mask is NAdamW's option; the point's rule "
                                                    "'sfadamw' decays every parameter"):
        hl.configure_optimizers(point_of("sfadamw"), Classifier(POINT), 10, mask=None)
    with pytest.raises(InvalidParameterError, match=r"module must be a torch\.nn\.Module"):
        hl.configure_optimizers(POINT, [torch.zeros(2, requires_grad=True)], 10)
    module = MixinClassifier(POINT)
    module.point = None
    with pytest.raises(InvalidParameterError, match=r"MixinClassifier.point must be a list's "
                                                    r"point"):
        module.configure_optimizers()
    # Endless training has no horizon for a schedule that decays to 0.
    with pytest.raises(InvalidParameterError, match="estimated_stepping_batches is inf"):
        fit(Classifier(POINT), data(16, 8), max_steps=-1, max_epochs=-1)


def test_importing_the_integrations_imports_no_framework():
    # hplists.integrations lists them; the lightning one reads module.trainer only, so that
    # it serves lightning and pytorch_lightning alike.
    code = ("import sys, hplists.integrations, hplists.integrations.lightning; "
            "print(sorted(m for m in ('transformers', 'lightning', 'pytorch_lightning', "
            "'accelerate') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert out.strip() == "[]"


def test_the_mixin_stops_at_the_horizon_and_momo_reads_the_closures_loss():
    """A point with horizon h trains int(h T) of the Trainer's T steps, its schedule ending
    there; MoMo-Adam's step takes the loss from the closure Lightning hands it."""
    from hplists.optim.torch_momo import MoMoAdam

    point = point_of("momo_adam")  # horizon 0.33
    module = Recorder(point)
    trainer = fit(module, data(160, 8), max_steps=30)
    (opt,) = trainer.optimizers
    assert isinstance(opt, MoMoAdam)
    assert module.stop_step == hplists.steps_to_run(point, 30) == 9
    assert trainer.global_step == 9 == opt.param_groups[0]["step"] == len(module.lrs)
    assert opt.param_groups[0]["loss_average"] > 0  # the closure's loss reached the step
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)  # schedule ends at 9


def test_the_mixin_trains_schedule_free_on_y_and_evaluates_its_average():
    """Training steps in train mode; validation, and the module after the fit, at the
    average x (optimizer.eval()), as hplists.torch.evaluating evaluates it."""
    from hplists.optim.torch_schedule_free import ScheduleFreeAdamW

    module = Recorder(point_of("sfadamw"))
    loader = data(64, 8)
    trainer = fit(module, loader, loader, max_steps=16, val_check_interval=4,
                  num_sanity_val_steps=0)
    (opt,) = trainer.optimizers
    assert isinstance(opt, ScheduleFreeAdamW) and trainer.global_step == 16
    assert module.modes["train"] == [True] * 16
    assert module.modes["validation"] and not any(module.modes["validation"])
    assert not module._mode()  # after the fit: the average is in the parameters
    after_fit = [p.detach().clone() for p in module.parameters()]
    opt.train()  # y, what it trained ...
    assert not all(torch.allclose(a, p, rtol=1e-5, atol=1e-6)
                   for a, p in zip(after_fit, module.parameters(), strict=True))
    with hplists.torch.evaluating(opt):  # ... and x again, as the framework-free loop has it
        assert all(torch.allclose(a, p, rtol=1e-5, atol=1e-6)  # the swaps round
                   for a, p in zip(after_fit, module.parameters(), strict=True))
    opt.eval()
    trainer.validate(module, loader, verbose=False)  # after a fit: stays at the average
    assert not module._mode()
