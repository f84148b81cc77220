"""Named method configurations for bench_scribbles.py (phase-1 prototypes)."""

from __future__ import annotations

from scribble_proto import Method

OLD = Method("old")  # the Train widget's settings: U d2 f16, histeq, Adam 1e-3, 128 px

METHODS = {
    "old": OLD,
    "bf16": OLD.with_(name="bf16", bf16=True),
    "cl": OLD.with_(name="cl", channels_last=True),
    "bf16cl": OLD.with_(name="bf16cl", bf16=True, channels_last=True),
    "d3": OLD.with_(name="d3", depth=3),
    "d3bf16": OLD.with_(name="d3bf16", depth=3, bf16=True),
    "weights": OLD.with_(name="weights", balance="weights"),
    "strong": OLD.with_(name="strong", augment="strong"),
    "wd": OLD.with_(name="wd", weight_decay=1e-2),
    "crf": OLD.with_(name="crf", crf=0.3),
    "crf1": OLD.with_(name="crf1", crf=1.0),
    "crf01": OLD.with_(name="crf01", crf=0.1),
    "tta": OLD.with_(name="tta", tta=True),
    "holdout": OLD.with_(name="holdout", holdout=0.1),
    "ema": OLD.with_(name="ema", ema_eval=0.99),
    "ema995": OLD.with_(name="ema995", ema_eval=0.995),
    "strong_ema": OLD.with_(name="strong_ema", augment="strong", ema_eval=0.99),
    "crf_ema": OLD.with_(name="crf_ema", crf=0.3, ema_eval=0.99),
    "crf_sxy5": OLD.with_(name="crf_sxy5", crf=0.3, crf_sigma_xy=5.0, crf_radius=7),
    "crf_si01": OLD.with_(name="crf_si01", crf=0.3, crf_sigma_i=0.1),
    "crf_si03": OLD.with_(name="crf_si03", crf=0.3, crf_sigma_i=0.3),
    "lr3": OLD.with_(name="lr3", lr=3e-3),
    "crf_lr3": OLD.with_(name="crf_lr3", crf=0.3, lr=3e-3),
    "ema_lr3": OLD.with_(name="ema_lr3", ema_eval=0.99, lr=3e-3),
    "pseudo": OLD.with_(name="pseudo", pseudo=1.0),
    "pseudo_ema": OLD.with_(name="pseudo_ema", pseudo=1.0, ema_eval=0.99),
    "pseudo05_ema": OLD.with_(name="pseudo05_ema", pseudo=0.5, pseudo_conf=0.95, ema_eval=0.99),
    "f32_ema": OLD.with_(name="f32_ema", fmaps=32, ema_eval=0.99),
    "p64_ema": OLD.with_(name="p64_ema", patch=64, batch=8, ema_eval=0.99),
    "ema2": OLD.with_(name="ema2", ema_eval=0.99, threads=2),
    "feat_ema2": OLD.with_(name="feat_ema2", ema_eval=0.99, threads=2,
                           extra={"features": True}),
    "nb_ema2": OLD.with_(name="nb_ema2", ema_eval=0.99, threads=2,
                         extra={"neighbours": True}),
    "inv_ema2": OLD.with_(name="inv_ema2", ema_eval=0.99, threads=2,
                          extra={"inv_gamma": 1e-3}),
}
