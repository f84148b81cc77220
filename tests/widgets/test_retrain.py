"""Correct -> retrain: Start again continues from the current weights with all strokes."""

from __future__ import annotations

import numpy as np
import pytest

from napari_greentea import train as train_module
from napari_greentea.data.scribbles import scribbles_from_ground_truth
from napari_greentea.widgets._annotate import AnnotateWidget
from napari_greentea.widgets._train import TrainWidget

pytestmark = pytest.mark.gui


def _press_start(qtbot, train, iterations):
    train._iter_spin.value = iterations
    train._on_start_clicked()
    assert train.worker is not None
    with qtbot.waitSignal(train.worker.finished, timeout=120_000):
        pass
    qtbot.waitUntil(lambda: train.worker is None, timeout=5_000)


@pytest.fixture
def built_trainers(monkeypatch):
    """Every Trainer the widget builds: labels, options and weights before training."""
    built = []
    original = train_module.Trainer.__init__

    def spy(self, spec, pairs, **kwargs):
        original(self, spec, pairs, **kwargs)
        initial = {k: np.array(v) for k, v in self.checkpoint().weights.items()}
        built.append((self, [np.array(p.labels) for p in pairs], kwargs, initial))

    monkeypatch.setattr(train_module.Trainer, "__init__", spy)
    return built


def test_correct_then_retrain_continues_from_the_weights(
        sample_viewer, qtbot, paint_scribbles, built_trainers):
    viewer = sample_viewer
    annotate, train = AnnotateWidget(viewer), TrainWidget(viewer)
    train._preview_check.value = False
    labels = paint_scribbles(viewer, annotate)
    assert train._continue_check.value  # the natural path is on by default
    _press_start(qtbot, train, 15)
    first = train.checkpoint
    assert first.iteration == 15 and len(built_trainers) == 1
    first_weights = {k: np.array(v) for k, v in first.weights.items()}

    # the user paints corrections: new strokes where the first model is wrong
    gt = np.asarray(viewer.layers["synthetic membranes ground truth"].data)
    more = scribbles_from_ground_truth(gt, fraction=0.02, seed=9)
    corrected = np.where(labels.data > 0, labels.data, more).astype(labels.data.dtype)
    assert (corrected > 0).sum() > (labels.data > 0).sum()
    labels.data = corrected
    _press_start(qtbot, train, 10)

    assert len(built_trainers) == 2
    _, used_labels, kwargs, initial = built_trainers[-1]
    assert kwargs["resume"] is first  # built from the first run's checkpoint ...
    np.testing.assert_array_equal(used_labels[0], corrected)  # ... with old + new strokes
    assert train.checkpoint.iteration == 25  # the iteration count continues
    assert train.checkpoint.history[:15] == first.history
    assert train.loss_plot.points[0][0] <= 15 < train.loss_plot.points[-1][0]  # one curve
    # the weights were not re-initialised: the second run began with the first's
    assert initial.keys() == first_weights.keys()
    for name, value in initial.items():
        np.testing.assert_array_equal(value, first_weights[name])
    assert any(not np.array_equal(v, built_trainers[0][3][k]) for k, v in initial.items())


def test_start_begins_afresh_when_unticked_or_the_network_changed(
        sample_viewer, qtbot, paint_scribbles, built_trainers):
    viewer = sample_viewer
    annotate, train = AnnotateWidget(viewer), TrainWidget(viewer)
    train._preview_check.value = False
    paint_scribbles(viewer, annotate)
    _press_start(qtbot, train, 5)
    train._continue_check.value = False
    _press_start(qtbot, train, 5)
    assert built_trainers[-1][2].get("resume") is None and train.checkpoint.iteration == 5
    train._continue_check.value = True
    train._knob_spins["base_fmaps"].value = 8  # another network: its weights cannot be continued
    _press_start(qtbot, train, 5)
    assert built_trainers[-1][2].get("resume") is None and train.checkpoint.iteration == 5
    assert train.checkpoint.spec.base_fmaps == 8


def _fresh_widget_and_saved_model(viewer, qtbot, paint_scribbles, folder, iterations):
    """A model trained ``iterations`` on painted strokes and saved, and a second Train
    widget (as after reopening napari) that has not loaded it yet."""
    annotate, train = AnnotateWidget(viewer), TrainWidget(viewer)
    train._preview_check.value = False
    paint_scribbles(viewer, annotate)
    _press_start(qtbot, train, iterations)
    saved = train._save(str(folder / "saved.npz"))
    fresh = TrainWidget(viewer)
    fresh._preview_check.value = False
    return fresh, saved


def _assert_new_run_from(model, built):
    """The Trainer ``built`` (a ``built_trainers`` entry) began a new run from every weight
    of ``model``, the classifier too, with its preprocessing."""
    _, _, kwargs, initial = built
    assert kwargs.get("resume") is None and kwargs["init_from"].iteration == 0
    assert kwargs["preprocess"] == model.preprocess
    for name, value in model.weights.items():
        np.testing.assert_array_equal(initial[name], value)


def test_a_loaded_model_starts_a_new_run_from_its_weights(
        sample_viewer, qtbot, paint_scribbles, built_trainers, tmp_path):
    """A model from disk (e.g. one trained on another stack) is a starting point: Start
    trains a new run on the strokes from all its weights; Start again then continues."""
    fresh, saved = _fresh_widget_and_saved_model(sample_viewer, qtbot, paint_scribbles,
                                                 tmp_path, iterations=6)
    starter = fresh._load(str(saved))
    assert "Start trains a new run from it" in fresh._status_label.value
    _press_start(qtbot, fresh, 4)
    _assert_new_run_from(starter, built_trainers[-1])
    assert fresh.checkpoint.iteration == 4  # a new run, not the starter's continuation
    assert fresh._pretrain_label.value == "training from the loaded model (6 iterations)"

    _press_start(qtbot, fresh, 3)  # its own model now: Start continues it
    assert built_trainers[-1][2]["resume"].iteration == 4
    assert fresh.checkpoint.iteration == 7


def test_a_loaded_model_that_does_not_fit_is_named_not_silently_dropped(
        sample_viewer, qtbot, paint_scribbles, built_trainers, tmp_path, monkeypatch):
    from napari.utils import notifications

    fresh, saved = _fresh_widget_and_saved_model(sample_viewer, qtbot, paint_scribbles,
                                                 tmp_path, iterations=2)
    warnings = []
    monkeypatch.setattr(notifications, "show_warning", warnings.append)
    fresh._load(str(saved))
    fresh._knob_spins["base_fmaps"].value = 8  # another network than the loaded one
    _press_start(qtbot, fresh, 2)
    assert built_trainers[-1][2].get("init_from") is None  # trained without it ...
    assert len(warnings) == 1 and "base_fmaps 16 (loaded) vs 8" in warnings[0]  # ... and said so


def test_the_builtin_starter_box_starts_a_new_run_from_the_shipped_model(
        sample_viewer, qtbot, paint_scribbles, built_trainers, monkeypatch):
    from napari_greentea.starters import starter
    from napari_greentea.widgets import _pretrain

    monkeypatch.setattr(_pretrain, "STARTER_ON_BY_DEFAULT", True)
    monkeypatch.setattr(_pretrain, "ON_BY_DEFAULT", True)  # the starter replaces pretraining
    annotate, train = AnnotateWidget(sample_viewer), TrainWidget(sample_viewer)
    train._preview_check.value = False
    paint_scribbles(sample_viewer, annotate)
    qtbot.waitUntil(lambda: train._pretrain_label.value.startswith(
        "Start trains from the built-in EM membrane model"), timeout=10_000)
    assert train.pretraining.job is None  # no background pretraining meanwhile
    assert not train._pretrain_check.enabled  # its box is greyed out

    shipped = starter("em-membranes").load()
    _press_start(qtbot, train, 3)
    _assert_new_run_from(shipped, built_trainers[-1])
    assert train._pretrain_label.value == (
        f"training from the built-in EM membrane model ({shipped.iteration:,} iterations)")
    _press_start(qtbot, train, 2)  # its own model now: Start continues it
    assert built_trainers[-1][2]["resume"].iteration == 3


def test_the_builtin_starter_box_sets_the_network_to_the_shipped_model_s(
        sample_viewer, monkeypatch):
    """Ticked (here from the start), the network choices are the starter's, which is not
    the preset's, and the learning rate the recipe's for a trained model; unticked, the
    preset's network and learning rate again; a project's own network and rate are kept."""
    from napari_greentea.models import preset
    from napari_greentea.recipes import recipe
    from napari_greentea.starters import starter
    from napari_greentea.widgets import _pretrain

    shipped = starter("em-membranes").spec
    adapt_lr = recipe("interactive", from_model=True)[0].lr
    plain_lr = recipe("interactive")[0].lr
    assert adapt_lr < plain_lr
    monkeypatch.setattr(_pretrain, "STARTER_ON_BY_DEFAULT", True)
    train = TrainWidget(sample_viewer)
    assert train._read_config()["spec"] == shipped != preset("u", "interactive")
    assert train._read_config()["train"].lr == pytest.approx(adapt_lr)
    assert train._builtin_starter() is not None
    train._starter_check.value = False
    assert train._read_config()["spec"] == preset("u", "interactive")
    assert train._read_config()["train"].lr == pytest.approx(plain_lr)
    train._starter_check.value = True
    assert train._read_config()["spec"] == shipped
    assert train._read_config()["train"].lr == pytest.approx(adapt_lr)

    settings = train.project_settings()
    settings["spec"] = preset("u", "interactive", base_fmaps=8).to_dict()
    settings["widget"]["starter"] = False
    settings["train"]["lr"] = 5e-4
    train.apply_project_settings(settings)
    assert not train._starter_check.value
    assert train._read_config()["spec"].base_fmaps == 8  # not the preset's 16
    assert train._read_config()["train"].lr == pytest.approx(5e-4)


def test_the_builtin_starter_is_skipped_for_a_network_it_does_not_fit(
        sample_viewer, qtbot, paint_scribbles, built_trainers, monkeypatch):
    from napari_greentea.widgets import _pretrain

    monkeypatch.setattr(_pretrain, "STARTER_ON_BY_DEFAULT", True)
    annotate, train = AnnotateWidget(sample_viewer), TrainWidget(sample_viewer)
    train._preview_check.value = False
    paint_scribbles(sample_viewer, annotate)
    qtbot.waitUntil(lambda: not train._pretrain_check.enabled, timeout=10_000)
    train._knob_spins["base_fmaps"].value = 8  # the shipped model has 16
    qtbot.waitUntil(lambda: train._pretrain_check.enabled, timeout=10_000)  # pretraining again
    _press_start(qtbot, train, 2)
    assert built_trainers[-1][2].get("init_from") is None
    assert train.checkpoint.spec.base_fmaps == 8


def test_the_builtin_starter_follows_classes_painted_the_other_way_round(
        sample_viewer, qtbot, paint_scribbles, built_trainers, monkeypatch):
    """Classes named otherwise and painted cell = 1, membrane = 2: the shipped model's
    classifier rows are swapped to the user's order, and the label says so."""
    from napari_greentea.starters import starter
    from napari_greentea.widgets import _pretrain

    monkeypatch.setattr(_pretrain, "STARTER_ON_BY_DEFAULT", True)
    annotate, train = AnnotateWidget(sample_viewer), TrainWidget(sample_viewer)
    train._preview_check.value = False
    labels = paint_scribbles(sample_viewer, annotate)
    labels.data = np.where(labels.data > 0, 3 - labels.data, 0).astype(labels.data.dtype)
    labels.metadata["class_names"] = ("inside", "boundary")
    _press_start(qtbot, train, 2)

    shipped = starter("em-membranes").load()
    initial = built_trainers[-1][3]
    for key in ("ip1.weight", "ip1.bias"):
        np.testing.assert_array_equal(initial[key], shipped.weights[key][::-1])
    np.testing.assert_array_equal(initial["conv1.weight"], shipped.weights["conv1.weight"])
    assert "classes matched to your strokes" in train._pretrain_label.value
    assert train.checkpoint.class_names == ("inside", "boundary")


def test_dense_labels_train_without_the_stroke_remedies(
        sample_viewer, qtbot, paint_scribbles, built_trainers, monkeypatch):
    """A finished annotation trains with the recipe's dense-label settings (no held-out
    strokes, no pull, a longer weight average) and the user is told; strokes do not."""
    import napari.utils.notifications as notifications

    told = []
    monkeypatch.setattr(notifications, "show_info", told.append)
    viewer = sample_viewer
    annotate, train = AnnotateWidget(viewer), TrainWidget(viewer)
    train._preview_check.value = False
    train._continue_check.value = False
    labels = paint_scribbles(viewer, annotate)
    _press_start(qtbot, train, 2)
    strokes_cfg = built_trainers[-1][2]["train"]
    assert strokes_cfg.holdout > 0 and not told

    labels.data = np.asarray(viewer.layers["synthetic membranes ground truth"].data).copy()
    _press_start(qtbot, train, 2)
    dense_cfg, dense_loss = built_trainers[-1][2]["train"], built_trainers[-1][2]["loss"]
    assert (dense_cfg.holdout, dense_cfg.anchor_decay, dense_cfg.average) == (0.0, 0.0, 0.998)
    assert dense_loss.class_balance == train._balance_combo.value  # the box still decides
    assert len(told) == 1 and told[0].startswith("dense labels (100% of the painted planes)")
    assert train._pretrain_label.value.endswith("dense labels (100%): no held-out strokes, "
                                                "no pull, average 0.998")
    train._continue_check.value = True  # Start again continues the run: one note, not two
    _press_start(qtbot, train, 2)
    assert built_trainers[-1][2]["resume"] is not None
    assert train._pretrain_label.value.count("dense labels") == 1
