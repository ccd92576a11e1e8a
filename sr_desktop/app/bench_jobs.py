"""The dataset benchmark the window's Tools ▸ Benchmark a dataset… runs in a worker (no Qt
here): `sr-desktop bench`'s measurement (`evaluate_models`) of several models on a folder of
HR images, with one progress count over all of them and the models measured so far kept
when it is cancelled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sr_desktop.app.metrics_jobs import EvalRow
from sr_desktop.engine.core.errors import Cancelled
from sr_desktop.engine.core.progress import CancelToken, ProgressInfo
from sr_desktop.engine.metrics.degradation import Degradation
from sr_desktop.engine.metrics.evaluate import BenchReport, EvalProtocol, evaluate_models
from sr_desktop.engine.metrics.given_lr import hr_images

#: the stage of `DatasetBenchTask`'s progress reports
BENCH_STAGE = "bench"


@dataclass
class DatasetBenchTask:
    """Measure `model_ids` on the HR images of `dataset` at ×`scale` as ``sr-desktop bench``
    does by default (same protocol, same JSON: the default device, backend and tile, fp32).

    Progress reports count images over all models (``done`` of models × images), their
    message naming the model and the image just scored. ``run`` returns the `BenchReport`;
    when cancelled, the report of the models finished before is kept in `partial`.
    """

    dataset: Path
    model_ids: list[str]
    scale: int
    degradation: Degradation
    #: the dataset's own LR images (real pairs: `bench --lr-dataset`), upscaled instead of the degradation's
    lr_dataset: Path | None = None
    #: the models measured before a cancel (None: not cancelled, or before the first finished)
    partial: BenchReport | None = field(default=None, init=False)

    @property
    def model(self) -> str:  # Job.describe() reads options.model / options.scale
        return ", ".join(self.model_ids)

    def run(self, progress: Callable[[ProgressInfo], None] | None, cancel: CancelToken | None) -> BenchReport:
        start = time.perf_counter()
        images = len(hr_images(self.dataset, self.lr_dataset, self.scale))
        total = images * len(self.model_ids)
        stage, models_before, done = "", -1, 0  # the model measured now ("evaluate ID"), those before it

        def overall(info: ProgressInfo) -> None:
            nonlocal stage, models_before, done
            if progress is None:
                return
            if not info.stage.startswith("evaluate "):  # a notice (a backend measured): said, not counted
                progress(ProgressInfo(done, total, time.perf_counter() - start, None, BENCH_STAGE, info.message))
                return
            if info.stage != stage:
                stage, models_before = info.stage, models_before + 1
            done = models_before * images + info.done
            elapsed = time.perf_counter() - start
            eta = elapsed / done * (total - done) if done else None
            model = info.stage[len("evaluate "):]
            progress(ProgressInfo(done, total, elapsed, eta, BENCH_STAGE, f"{model}: {info.message}"))

        try:
            return evaluate_models(self.dataset, self.model_ids, self.scale, self.degradation, protocol=EvalProtocol(),
                                   progress=overall, cancel=cancel, lr_dataset=self.lr_dataset)
        except Cancelled as stop:
            self.partial = getattr(stop, "partial_report", None)
            raise


def leaderboard_rows(report: BenchReport) -> list[EvalRow]:
    """`report` as the window's leaderboard rows: each measured model's means over the dataset
    (PSNR-Y by `BenchReport.leave_out_exact_images`' rule, SSIM-Y, NIQE; the seconds of all its
    images), then a row with the error of each model that failed."""
    rows = []
    for m in report.models:
        rows.append(EvalRow(m.model, m.psnr_y, m.ssim_y, m.psnr_rgb, m.timing.seconds, niqe=m.niqe,
                            scale_route=m.scale_route, ran_on=m.timing.ran_on))
    rows += [EvalRow(model, error=error) for model, error in report.failed]
    return rows
