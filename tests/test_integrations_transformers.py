"""hplists.integrations.transformers: real Trainer runs of a tiny BERT (built from a config,
nothing downloaded) on random token sequences, with hplists' NAdamW and schedule."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    Trainer,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)

import hplists
from hplists.exceptions import HplistsError, InvalidParameterError
from hplists.integrations import transformers as hf
from hplists.optim.schedule import warmup_cosine_factor, warmup_steps
from hplists.torch import NAdamW

VOCAB, LENGTH = 16, 6
LISTS = Path(__file__).resolve().parent / "data" / "lists"
POINT = hplists.HParams(learning_rate=3e-3, beta1=0.85, beta2=0.98, eps=1e-7, weight_decay=0.05,
                        warmup_fraction=0.25, dropout_rate=0.1, label_smoothing=0.2)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Tokens(torch.utils.data.Dataset):
    """Random sequences; the label says whether the first token is in the vocabulary's lower half."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randint(0, VOCAB, (n, LENGTH), generator=g)
        self.y = (self.x[:, 0] < VOCAB // 2).long()

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.x[i], "labels": self.y[i]}


class Stream(torch.utils.data.IterableDataset):
    def __iter__(self):
        return iter(Tokens(8, 0))


def bert(point: hplists.HParams) -> BertForSequenceClassification:
    config = BertConfig(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=LENGTH, num_labels=2,
                        hidden_dropout_prob=point.dropout_rate,
                        attention_probs_dropout_prob=point.dropout_rate)
    return BertForSequenceClassification(config)


def arguments(tmp_path, **changes) -> TrainingArguments:
    kw = dict(output_dir=str(tmp_path), per_device_train_batch_size=16,
              per_device_eval_batch_size=64, use_cpu=True, report_to=[], save_strategy="no",
              logging_strategy="no", disable_tqdm=True, max_grad_norm=0.0)
    return TrainingArguments(**{**kw, **changes})


class Record(TrainerCallback):
    """What each run of the Trainer did: its arguments, optimizer, learning rates, evaluations."""

    def __init__(self) -> None:
        self.runs: list[dict] = []

    def on_train_begin(self, args, state, control, optimizer=None, model=None, **kwargs):
        self.runs.append({"args": args, "optimizer": optimizer, "model": model, "lrs": [],
                          "evaluations": []})

    def on_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
        self.runs[-1]["lrs"].append(optimizer.param_groups[0]["lr"])  # the lr of this update

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
        self.runs[-1]["evaluations"].append((dict(metrics), model))


def point_of(method: str):
    """The first point of the example list of ``method`` (``tests/data/lists``)."""
    return hplists.get_list(str(LISTS / f"{method}-example.json"))[0]


def nadamw(optimizer) -> NAdamW:
    inner = getattr(optimizer, "optimizer", optimizer)  # accelerate wraps it
    assert isinstance(inner, NAdamW), type(inner)
    return inner


def schedule(point: hplists.HParams, total: int) -> list[float]:
    warm = warmup_steps(point.warmup_fraction, total)
    return [point.learning_rate * warmup_cosine_factor(t, warm, total) for t in range(total)]


def test_the_trainer_steps_hplists_nadamw_with_the_points_hyperparameters(tmp_path):
    rec = Record()
    trainer = hf.point_trainer(POINT, bert, arguments(tmp_path, max_steps=12), Tokens(64, 0),
                               Tokens(32, 1), callbacks=[rec])
    opt = nadamw(trainer.optimizer)
    decayed, rest = opt.param_groups
    model = trainer.model
    assert {id(p) for p in decayed["params"]} == {id(p) for p in model.parameters() if p.ndim >= 2}
    assert (decayed["weight_decay"], rest["weight_decay"]) == (0.05, 0.0)
    assert {(g["betas"], g["eps"], g["initial_lr"]) for g in opt.param_groups} == {
        ((0.85, 0.98), 1e-7, 3e-3)}
    assert trainer.args.output_dir == str(tmp_path / "point-1")
    # model_init(point) set the point's dropout in the config; every dropout layer has it.
    assert {m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)} == {0.1}

    trainer.train()
    assert nadamw(rec.runs[0]["optimizer"]) is opt  # the optimizer the Trainer stepped
    assert trainer.state.global_step == 12
    assert {s["step"] for s in opt.state.values()} == {12}
    assert len(opt.state) == sum(1 for p in model.parameters() if p.requires_grad)
    # Update t used lr * factor(t): 0 at the start, the peak after 3 warmup steps, 0 at the end.
    assert rec.runs[0]["lrs"] == pytest.approx(schedule(POINT, 12), rel=1e-12, abs=0)
    assert rec.runs[0]["lrs"][:4] == pytest.approx([0.0, 1e-3, 2e-3, 3e-3], rel=1e-12)
    assert [g["lr"] for g in opt.param_groups] == [0.0, 0.0]


def test_the_trainer_applies_the_points_label_smoothing_to_its_loss(tmp_path):
    trainer = hf.point_trainer(POINT, bert, arguments(tmp_path, max_steps=4), Tokens(64, 0))
    assert trainer.args.label_smoothing_factor == 0.2
    trainer.model.eval()  # no dropout: the same logits twice
    batch = trainer.data_collator([Tokens(32, 1)[i] for i in range(32)])
    with torch.no_grad():
        trainer.model.classifier.weight.mul_(100)  # confident logits, which smoothing penalizes
        loss = trainer.compute_loss(trainer.model, dict(batch))  # what training minimises
        logits = trainer.model(input_ids=batch["input_ids"]).logits
    smoothed = torch.nn.functional.cross_entropy(logits, batch["labels"], label_smoothing=0.2)
    plain = torch.nn.functional.cross_entropy(logits, batch["labels"])
    assert loss.item() == pytest.approx(smoothed.item(), rel=1e-6)
    assert abs(loss.item() - plain.item()) > 1e-3  # and tells the two apart


@pytest.mark.parametrize(("n", "batch", "accumulation", "epochs", "drop_last"), [
    (50, 8, 3, 2, False),   # 7 batches (the last partial), 3 steps per epoch
    (50, 8, 3, 2, True),    # 6 full batches, 2 steps per epoch
    (50, 8, 1, 1.5, False),  # fractional epochs round up
    (5, 8, 4, 3, False),    # fewer batches than accumulation steps: 1 step per epoch
])
def test_total_steps_is_the_trainers_own_count(tmp_path, n, batch, accumulation, epochs,
                                               drop_last):
    args = arguments(tmp_path, per_device_train_batch_size=batch, num_train_epochs=epochs,
                     gradient_accumulation_steps=accumulation, dataloader_drop_last=drop_last)
    data = Tokens(n, 0)
    trainer = Trainer(model=bert(POINT), args=args, train_dataset=data)
    trainers_count = trainer.set_initial_training_values(args, trainer.get_train_dataloader())[-1]
    assert hf.total_steps(args, data) == trainers_count
    assert hf.total_steps(arguments(tmp_path, max_steps=7), data) == 7


def test_an_epoch_horizon_ends_the_schedule_at_0_on_the_last_step(tmp_path):
    rec = Record()
    args = arguments(tmp_path, per_device_train_batch_size=8, num_train_epochs=2,
                     gradient_accumulation_steps=3)
    trainer = hf.point_trainer(POINT, bert, args, Tokens(50, 0), callbacks=[rec])
    trainer.train()
    assert trainer.state.global_step == 6  # 7 batches, 3 steps per epoch
    assert rec.runs[0]["lrs"] == pytest.approx(schedule(POINT, 6), rel=1e-12, abs=0)
    assert nadamw(trainer.optimizer).param_groups[0]["lr"] == 0.0
    # A Trainer that would take another number of steps is stopped before its first one.
    with pytest.raises(HplistsError, match="take 6 optimizer steps, but the schedule was built "
                                           "for 5"):
        hf._Horizon(5).on_train_begin(args, TrainerState(max_steps=6), TrainerControl())


def test_tune_trainer_trains_the_first_k_points_in_order_and_keeps_the_best(tmp_path):
    points = [hplists.HParams(1e-6, 0.9, 0.99),  # too small a step to learn anything
              hplists.HParams(3e-3, 0.9, 0.99, warmup_fraction=0.1),
              hplists.HParams(2e-3, 0.9, 0.99, dropout_rate=0.1, label_smoothing=0.2),
              hplists.HParams(1e-2, 0.9, 0.99)]  # beyond the budget k=3: never trained
    rec = Record()
    result = hf.tune_trainer(bert, arguments(tmp_path, max_steps=16), points, k=3,
                             train_dataset=Tokens(128, 0), eval_dataset=Tokens(64, 1),
                             callbacks=[rec])
    assert isinstance(result, hplists.TuneResult)
    assert [t.index for t in result.trials] == [1, 2, 3] and result.budget == 3
    assert [t.point for t in result.trials] == points[:3]
    assert (result.metric, result.mode) == ("eval_loss", "min")
    # Three Trainer runs, in list order, each with its point's optimizer, smoothing,
    # dropout and directory.
    assert [run["optimizer"].param_groups[0]["initial_lr"] for run in rec.runs] == \
        [1e-6, 3e-3, 2e-3]
    assert [run["args"].label_smoothing_factor for run in rec.runs] == [0.0, 0.0, 0.2]
    assert [run["args"].output_dir for run in rec.runs] == \
        [str(tmp_path / f"point-{i}") for i in (1, 2, 3)]
    assert [t.result["output_dir"] for t in result.trials] == \
        [str(tmp_path / f"point-{i}") for i in (1, 2, 3)]
    assert {m.p for m in rec.runs[2]["model"].modules() if isinstance(m, torch.nn.Dropout)} \
        == {0.1}
    assert [run["lrs"] for run in rec.runs] == [pytest.approx(schedule(p, 16), rel=1e-12, abs=0)
                                                for p in points[:3]]
    # The values are the Trainer's own evaluations...
    values = [t.value for t in result.trials]
    assert values == [run["evaluations"][-1][0]["eval_loss"] for run in rec.runs]
    # ...of the model's own loss, without the point's label smoothing (comparable across points).
    metrics, model = rec.runs[2]["evaluations"][-1]
    data = Tokens(64, 1)
    model.eval()
    with torch.no_grad():
        plain = torch.nn.functional.cross_entropy(model(input_ids=data.x).logits, data.y)
    assert metrics["eval_loss"] == pytest.approx(plain.item(), rel=1e-5)
    # The best is the lowest loss; a learning rate of 1e-6 learns nothing in 16 steps.
    assert result.best.value == min(values)
    assert result.best.index == 1 + values.index(min(values))
    assert result.best.index != 1 and values[0] > math.log(2) - 0.01
    assert "eval_loss" in str(result) and f"{result.best.index} *" in str(result)


def test_tune_trainer_ranks_by_metric_for_best_model_in_its_direction(tmp_path):
    def accuracy(pred) -> dict[str, float]:
        return {"accuracy": float((pred.predictions.argmax(-1) == pred.label_ids).mean())}

    args = arguments(tmp_path, max_steps=16, metric_for_best_model="accuracy")
    result = hf.tune_trainer(bert, args, [hplists.HParams(1e-6, 0.9, 0.99),
                                          hplists.HParams(3e-3, 0.9, 0.99)],
                             train_dataset=Tokens(128, 0), eval_dataset=Tokens(64, 1),
                             compute_metrics=accuracy)
    assert (result.metric, result.mode) == ("eval_accuracy", "max")
    values = [t.value for t in result.trials]
    assert result.best.value == max(values) and result.best.index == 1 + values.index(max(values))
    assert list(result.trials[0].metrics) == ["eval_accuracy", "eval_loss"]  # ranked first


def test_metric_and_mode_follow_the_trainers_rules(tmp_path):
    plain = arguments(tmp_path)
    assert hf.metric_and_mode(plain) == ("eval_loss", "min")
    assert hf.metric_and_mode(plain, "eval_bleu") == ("eval_bleu", "max")
    assert hf.metric_and_mode(plain, "loss", greater_is_better=True) == ("eval_loss", "max")
    own = arguments(tmp_path, metric_for_best_model="perplexity", greater_is_better=False)
    assert hf.metric_and_mode(own) == ("eval_perplexity", "min")
    assert hf.metric_and_mode(own, "accuracy") == ("eval_accuracy", "max")  # not args' metric
    with pytest.raises(InvalidParameterError, match="metric must be a key"):
        hf.metric_and_mode(plain, "")
    with pytest.raises(InvalidParameterError, match="greater_is_better must be True, False or "
                                                    "None, got 'yes'"):
        hf.metric_and_mode(plain, greater_is_better="yes")


def test_bad_input_gets_a_clear_error(tmp_path):
    args = arguments(tmp_path, max_steps=2)
    data = {"train_dataset": Tokens(16, 0), "eval_dataset": Tokens(16, 1)}
    rec = Record()
    with pytest.raises(InvalidParameterError, match=r"k must be an integer in \[1, inf\], got 0"):
        hf.tune_trainer(bert, args, [POINT], k=0, callbacks=[rec], **data)
    # k is a budget of trials: no upper bound, by name as for a list of points
    with pytest.raises(InvalidParameterError, match=r"k must be an integer in \[1, inf\], got 0"):
        hf.tune_trainer(bert, args, "nadamw-paper", k=0, callbacks=[rec], **data)
    assert rec.runs == []  # refused before any training
    with pytest.raises(InvalidParameterError,
                       match=r"metric 'eval_nope' is not a key of trainer.evaluate\(\)'s result; "
                             r"allowed: \['epoch', 'eval_loss'\]"):
        hf.tune_trainer(bert, args, [POINT], metric="nope", **data)

    def no_dropout(point):
        return bert(point.replace(dropout_rate=0.0))

    with pytest.raises(InvalidParameterError, match=r"dropout layers \[.*\(p=0\)"):
        hf.point_trainer(POINT, no_dropout, args, data["train_dataset"])
    assert hf.point_trainer(POINT, no_dropout, args, data["train_dataset"], check_dropout=False)
    with pytest.raises(InvalidParameterError, match=r"point_trainer sets \['optimizers'\] itself"):
        hf.point_trainer(POINT, bert, args, data["train_dataset"], optimizers=(None, None))
    with pytest.raises(InvalidParameterError, match="auto_find_batch_size must be False"):
        hf.point_trainer(POINT, bert, arguments(tmp_path, auto_find_batch_size=True),
                         data["train_dataset"])
    with pytest.raises(InvalidParameterError, match=r"point must be a list's point \(an "
                                                    r"hplists\.HParams or a MethodPoint"):
        hf.optimizers(POINT.to_dict(), bert(POINT), 10)
    with pytest.raises(InvalidParameterError, match=r"rule 'momo_adam' sizes each step from "
                                                    r"the batch loss, which transformers\.Trainer "
                                                    r"does not hand optimizer\.step; point_trainer"):
        hf.optimizers(point_of("momo_adam"), bert(POINT), 10)
    with pytest.raises(InvalidParameterError, match="mask is NAdamW's option; the point's rule "
                                                    "'cocob' decays every parameter"):
        hf.optimizers(point_of("cocob"), bert(POINT), 10, mask=None)
    with pytest.raises(InvalidParameterError, match=r"max_steps is -1 and train_dataset has no "
                                                    r"length \(Stream\)"):
        hf.total_steps(arguments(tmp_path), Stream())
    assert hf.total_steps(arguments(tmp_path, max_steps=3), Stream()) == 3
    with pytest.raises(InvalidParameterError, match=r"0 examples for 3\.0 epochs"):
        hf.total_steps(arguments(tmp_path), Tokens(0, 0))


def test_a_point_of_another_rule_trains_its_rule_and_stops_at_its_horizon(tmp_path):
    """A COCOB point with horizon 0.5 of 12 steps: COCOB, 6 updates, the schedule at 0 there."""
    from hplists.optim.torch_cocob import COCOB

    point = point_of("cocob")
    rec = Record()
    trainer = hf.point_trainer(point, bert, arguments(tmp_path, max_steps=12), Tokens(64, 0),
                               callbacks=[rec])
    trainer.train()
    opt = getattr(trainer.optimizer, "optimizer", trainer.optimizer)
    assert isinstance(opt, COCOB)
    assert hplists.steps_to_run(point, 12) == 6 == trainer.state.global_step
    # COCOB's update times the relative schedule, over the 6 steps to the horizon
    warm = warmup_steps(point.warmup_fraction, 6)
    assert rec.runs[0]["lrs"] == pytest.approx([warmup_cosine_factor(t, warm, 6)
                                               for t in range(6)], rel=1e-12)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)  # 0 at the horizon
    assert trainer.args.label_smoothing_factor == point.label_smoothing == 0.2


def test_schedule_free_trains_its_sequence_and_evaluates_its_average(tmp_path):
    """The Trainer calls train() before each step and eval() before evaluating."""
    from hplists.optim.torch_schedule_free import ScheduleFreeAdamW

    trainer = hf.point_trainer(point_of("sfadamw"), bert, arguments(tmp_path, max_steps=6),
                               Tokens(64, 0), Tokens(32, 1))
    trainer.train()
    opt = getattr(trainer.optimizer, "optimizer", trainer.optimizer)
    assert isinstance(opt, ScheduleFreeAdamW) and trainer.state.global_step == 6
    assert all(g["train_mode"] for g in opt.param_groups)
    trainer.evaluate()
    assert not any(g["train_mode"] for g in opt.param_groups)


def test_momo_gets_the_loss_of_each_optimizer_step_from_point_trainer(tmp_path):
    """MoMo-Adam's step reads the sum of training_step's losses since its last step: with 2
    batches accumulated per step, the mean loss of the step's 2 batches, as logged."""
    from hplists.optim.torch_momo import MoMoAdam

    point = point_of("momo_adam")  # horizon 0.33: 2 of 9 steps
    trainer = hf.point_trainer(point, bert, arguments(
        tmp_path, max_steps=9, gradient_accumulation_steps=2, logging_strategy="steps",
        logging_steps=1), Tokens(64, 0))
    trainer.train()
    opt = getattr(trainer.optimizer, "optimizer", trainer.optimizer)
    assert isinstance(opt, MoMoAdam) and trainer.state.global_step == 2 == opt.param_groups[0][
        "step"]
    f1, f2 = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    b1 = point["beta1"]
    assert opt.param_groups[0]["loss_average"] == pytest.approx(
        b1 * (1 - b1) * f1 + (1 - b1) * f2, rel=1e-3)
