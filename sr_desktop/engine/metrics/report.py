"""Writing a :class:`~sr_desktop.engine.metrics.evaluate.BenchReport`: text table, JSON,
CSV and a PSNR-vs-time plot. Files are written atomically (temp file + rename)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from sr_desktop.engine.core.errors import ImageWriteError, SRDesktopError
from sr_desktop.engine.core.text import counted
from sr_desktop.engine.imageio.atomic import atomic_write, file_target_refusal
from sr_desktop.engine.metrics.evaluate import BenchReport


def _fmt(value: float | None, digits: int, missing: str = "-") -> str:
    """`value` with `digits` decimals; `missing` for none (the table's "-", the CSV's empty
    cell: a "-" made pandas read the whole column as text)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    if math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def _perceptual_names(report: BenchReport) -> list[str]:
    """The perceptual distances the report's protocol scored (``lpips``, ``dists``), in order."""
    return [metric.name for metric in report.protocol.perceptual]


def protocol_words(report: BenchReport) -> str:
    """"Y BT.601, 2 px shaved, 8-bit output, fp32" (and "Y rounded", "float output"): the
    table's and the plot's words for the protocol (two reports of different protocols
    read the same there; the JSON alone recorded it)."""
    protocol = report.protocol
    shave = protocol.shave if protocol.shave is not None else report.scale
    words = ["Y BT.601" + (" rounded" if protocol.round_y else ""), f"{shave} px shaved",
             "8-bit output" if protocol.quantize_output else "float output", report.precision]
    return ", ".join(words)


def format_table(report: BenchReport) -> str:
    """Plain-text table: one row per model with mean PSNR/SSIM (Y), RGB PSNR, NIQE, seconds
    (and MS-SSIM, LPIPS / DISTS when the protocol scored them)."""
    names = _perceptual_names(report)
    ms = report.protocol.ms_ssim
    extra = (f" {'MS-SSIM':>7}" if ms else "") + "".join(f" {name.upper():>6}" for name in names)
    header = (f"{'model':<24} {'PSNR-Y':>8} {'SSIM-Y':>7} {'PSNR-RGB':>9} {'NIQE':>6}{extra} "
              f"{'seconds':>9} {'MP/s':>7}")
    notes = table_notes(report)
    route_marks = {m.model: "*" * (i + 1) for i, m in enumerate(m for m in report.models if m.scale_route)}
    lines = [
        f"dataset {report.dataset}  ×{report.scale}  degradation {report.degradation}  "
        f"({counted(len(report.models[0].images) if report.models else 0, 'image')}; {protocol_words(report)})",
        header,
        "-" * len(header),
    ]
    for m in report.models:
        means = m.perceptual
        values = (f" {_fmt(m.ms_ssim_y, 4):>7}" if ms else "") + "".join(
            f" {_fmt(means.get(name), 4):>6}" for name in names)
        label = m.model + route_marks.get(m.model, "")
        lines.append(
            f"{label:<24} {_fmt(m.psnr_y, 2):>8} {_fmt(m.ssim_y, 4):>7} "
            f"{_fmt(m.psnr_rgb, 2):>9} {_fmt(m.niqe, 2):>6}{values} {m.timing.seconds:>9.2f} "
            f"{m.timing.input_mp_per_s:>7.3f}"
        )
    return "\n".join(lines + notes)


def table_notes(report: BenchReport) -> list[str]:
    """The lines under a table of `report`'s means: each model without the scale of its own
    (marked ``*``, ``**`` … in the order of the table's rows), and the images its PSNR means
    leave out."""
    notes = []
    for m in report.models:
        if m.scale_route:
            notes.append(f"{'*' * (len(notes) + 1)} {m.model} has no ×{report.scale}: {m.scale_route} "
                         "(not the protocol of the published tables)")
    # (the rule: `BenchReport.leave_out_exact_images`)
    left = set().union(*(m.left_out_y for m in report.models))
    if left:
        notes.append("PSNR means leave out the images a model reproduced exactly (PSNR inf): " + ", ".join(
            f"{image} ({', '.join(models)})" for image, models in report.exact_by().items() if image in left))
    own = [m.model for m in report.models if not m.left_out_y and 0 < m.exact_images < len(m.images)]
    if own:
        notes.append(f"{', '.join(own)}: PSNR mean without its own exact images only (no other image would be left)")
    return notes


#: the picture formats of `write_plot`
PLOT_SUFFIXES = ("png", "svg", "pdf", "jpg", "jpeg")


def check_report_path(path: str | Path, plot: bool = False) -> Path:
    """`path` if a report (a plot with `plot`) can be written there, else one line
    (`SRDesktopError`): a folder, a folder that does not exist, a plot format matplotlib is
    not asked for. For checking before a long evaluation; nothing is created."""
    path = Path(path)
    if plot and path.suffix.lower().lstrip(".") not in PLOT_SUFFIXES:
        raise ImageWriteError(path, "plot format must be .png, .svg, .pdf or .jpg")
    if (why := file_target_refusal(path)) is not None:  # (/dev/stdout, a pipe: written into)
        raise SRDesktopError(f"cannot write {path}: {why}")
    return path


def _write_atomic(path: Path, data: bytes) -> None:
    check_report_path(path)
    try:
        atomic_write(path, lambda fh: fh.write(data))
    except OSError as exc:
        raise SRDesktopError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_json(report: BenchReport, path: str | Path) -> None:
    """The bench JSON (see ``sr-desktop bench --help``); inf PSNR is written as null."""
    text = json.dumps(report.to_json(), indent=2, allow_nan=False)
    _write_atomic(Path(path), (text + "\n").encode("utf-8"))


def write_csv(report: BenchReport, path: str | Path) -> None:
    """One row per model and image, plus a ``MEAN`` row per model (its ``seconds`` the mean
    per image, as every other column); ``ms_ssim_y``, ``lpips`` / ``dists`` columns follow
    ``niqe`` when the protocol scored them, then ``scale_route``: how a model without the
    scale reached it (empty at a scale of its own; the rows said nothing). A score that is
    not there (the JSON's null) is an empty cell."""
    names = _perceptual_names(report)

    def cell(value: float | None, digits: int) -> str:
        return _fmt(value, digits, missing="")

    ms = ["ms_ssim_y"] if report.protocol.ms_ssim else []
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["dataset", "scale", "degradation", "model", "image", "psnr_y", "ssim_y",
                     "psnr_rgb", "seconds", "niqe", *ms, *names, "scale_route"])
    for m in report.models:
        for ev in m.images:
            writer.writerow([report.dataset, report.scale, report.degradation, m.model, ev.name,
                             cell(ev.scores.psnr_y, 4), cell(ev.scores.ssim_y, 6),
                             cell(ev.scores.psnr_rgb, 4), f"{ev.timing.seconds:.4f}",
                             cell(ev.scores.niqe, 4), *([cell(ev.scores.ms_ssim_y, 6)] if ms else []),
                             *(cell(ev.scores.perceptual.get(name), 6) for name in names), m.scale_route or ""])
        means = m.perceptual
        writer.writerow([report.dataset, report.scale, report.degradation, m.model, "MEAN",
                         cell(m.psnr_y, 4), cell(m.ssim_y, 6), cell(m.psnr_rgb, 4),
                         f"{m.timing.seconds / max(1, len(m.images)):.4f}", cell(m.niqe, 4),
                         *([cell(m.ms_ssim_y, 6)] if ms else []),
                         *(cell(means.get(name), 6) for name in names), m.scale_route or ""])
    _write_atomic(Path(path), buf.getvalue().encode("utf-8"))


#: where a point's label may go, in points from the point (x, y, horizontal alignment), in
#: order of preference: models with close speed and PSNR (espcn and fsrcnn at ×4) would
#: otherwise print their names over each other
LABEL_OFFSETS = ((5, 4, "left"), (5, -11, "left"), (-5, 4, "right"), (-5, -11, "right"),
                 (5, 13, "left"), (5, -20, "left"), (-5, 13, "right"), (-5, -20, "right"),
                 (8, -3.5, "left"), (-8, -3.5, "right"),
                 (10, 24, "left"), (10, -31, "left"), (-10, 24, "right"), (-10, -31, "right"))


def _place_labels(ax, points: list[tuple[float, float, str, tuple]], renderer) -> None:
    """Annotate each point (x, y, name, colour) with its name, in its colour, at the first
    offset of `LABEL_OFFSETS` where the label covers no other label and no other point and
    stays inside the axes; where none is free (a crowded corner), at the offset inside the
    axes that covers the least of them. A label set further off gets a thin leader line."""
    from matplotlib.transforms import Bbox

    inside = ax.get_window_extent(renderer)
    radius = 4 * ax.figure.dpi / 72  # the markers (s=36: 6 pt across) and a point of margin
    centres = [ax.transData.transform(point[:2]) for point in points]
    dots = [Bbox.from_extents(cx - radius, cy - radius, cx + radius, cy + radius) for cx, cy in centres]
    placed: list = []
    for i in sorted(range(len(points)), key=lambda k: points[k][:3]):
        x, y, name, colour = points[i]
        obstacles = placed + [dot for j, dot in enumerate(dots) if j != i]
        best = None  # (covered area, offset)
        for dx, dy, ha in LABEL_OFFSETS:
            label = _annotate(ax, x, y, name, colour, dx, dy, ha)
            box = label.get_window_extent(renderer)
            label.remove()
            if not (box.x0 >= inside.x0 and box.x1 <= inside.x1 and box.y0 >= inside.y0 and box.y1 <= inside.y1):
                continue
            covered = sum(shared.width * shared.height for other in obstacles
                          if (shared := Bbox.intersection(box, other)) is not None)
            if best is None or covered < best[0]:
                best = (covered, (dx, dy, ha))
            if covered == 0.0:
                break
        dx, dy, ha = best[1] if best is not None else LABEL_OFFSETS[0]
        placed.append(_annotate(ax, x, y, name, colour, dx, dy, ha).get_window_extent(renderer))


def _annotate(ax, x: float, y: float, name: str, colour, dx: float, dy: float, ha: str):
    far = abs(dy) > 11
    return ax.annotate(name, (x, y), textcoords="offset points", xytext=(dx, dy), ha=ha, fontsize=8,
                       color=colour, va="center" if far else "baseline",
                       arrowprops={"arrowstyle": "-", "lw": 0.5, "color": colour} if far else None)


def _label_seconds(ax) -> None:
    """Plain numbers on the log time axis ("0.02", not "2×10⁻²"): within a decade and a
    half the 2× and 5× ticks are labelled too (matplotlib's own minor labels ran into each
    other), beyond it the decades alone."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    plain = FuncFormatter(lambda value, _pos: f"{value:g}")
    ax.xaxis.set_major_formatter(plain)
    low, high = ax.get_xlim()
    if high / low < 30:
        ax.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        ax.xaxis.set_minor_formatter(plain)
    else:
        ax.xaxis.set_minor_formatter(NullFormatter())


def write_plot(report: BenchReport, path: str | Path) -> None:
    """PSNR (Y) vs total seconds, one labelled point per model (matplotlib, Agg backend)."""
    # Figure + the Agg canvas directly: no pyplot, no global backend switch (the GUI may
    # use matplotlib's Qt canvas in the same process).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = check_report_path(path, plot=True)
    suffix = path.suffix.lower().lstrip(".")
    fig = Figure(figsize=(6.4, 4.4), dpi=120)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    points, unplotted, routes = [], [], []
    for m in report.models:
        if not math.isfinite(m.psnr_y):
            unplotted.append(f"{m.model} ({'∞, identical to the HR' if m.psnr_y == math.inf else 'no PSNR'})")
            continue
        seconds = max(m.timing.seconds, 1e-4)
        dot = ax.scatter([seconds], [m.psnr_y], s=36)
        label = m.model
        if m.scale_route:  # marked as the table marks it (the point read as the model's own scale)
            label += "*"
            routes.append(f"{m.model}: {m.scale_route}")
        points.append((seconds, m.psnr_y, label, tuple(dot.get_facecolor()[0])))
    ax.set_xscale("log")
    _label_seconds(ax)
    ax.ticklabel_format(axis="y", useOffset=False)
    finite = [m.psnr_y for m in report.models if math.isfinite(m.psnr_y)]
    if finite and max(finite) - min(finite) < 0.5:  # keep tiny differences in proportion
        mid = 0.5 * (max(finite) + min(finite))
        ax.set_ylim(mid - 0.5, mid + 0.5)
    ax.set_xlabel("total seconds (log scale)")
    ax.set_ylabel("mean PSNR, Y channel (dB)")
    ax.set_title(f"{Path(report.dataset).name} ×{report.scale} ({report.degradation})\n{protocol_words(report)}",
                 fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if routes:  # under the chart, where no point lies
        ax.set_xlabel(f"total seconds (log scale)\n* not a scale of its own: {'; '.join(routes)}")
    if unplotted:  # (left out without a word, a chart of identical results was empty)
        ax.text(0.5, 0.02, f"not drawn: {', '.join(unplotted)}",
                transform=ax.transAxes, ha="center", va="bottom", fontsize=8, color="0.35", wrap=True)
    fig.tight_layout()
    _place_labels(ax, points, canvas.get_renderer())
    buf = io.BytesIO()
    fig.savefig(buf, format="jpeg" if suffix == "jpg" else suffix)
    _write_atomic(path, buf.getvalue())
