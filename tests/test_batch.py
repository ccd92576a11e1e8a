"""Batch export engine: tree mirroring, naming, existing-output policies, bad files,
cancel, metadata, folder guards (bicubic on tiny images, so it is fast)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageCms

from sr_desktop.engine.batch.output_names import render_name
from sr_desktop.engine.batch.plan import BatchError, check_template
from sr_desktop.engine.batch.report import EXIT_CANCELLED, EXIT_OK, EXIT_SOME_FAILED, read_report
from sr_desktop.engine.batch.runner import BatchOptions, run_batch
from sr_desktop.engine.core.options import UpscaleOptions
from sr_desktop.engine.core.progress import CancelToken


def save_image(path: Path, size=(24, 16), seed=0, mode="RGB", **save_kwargs) -> Path:
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    image = PILImage.fromarray(pixels[:, :, 0] if channels == 1 else pixels, mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **save_kwargs)
    return path


UPSCALE_FIELDS = {f.name for f in dataclasses.fields(UpscaleOptions)}


def bicubic(**kwargs) -> BatchOptions:
    """Batch options for the bicubic model at ×2; upscale keywords (scale, tile...) go to
    its `UpscaleOptions`, the others to `BatchOptions`."""
    kwargs.setdefault("scale", 2)
    upscale = {k: kwargs.pop(k) for k in list(kwargs) if k in UPSCALE_FIELDS}
    return BatchOptions(upscale=UpscaleOptions(model="bicubic", **upscale), **kwargs)


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    save_image(src / "a.png", seed=1)
    save_image(src / "b.jpg", seed=2)
    save_image(src / "sub" / "c.webp", seed=3)
    save_image(src / "sub" / "deeper" / "d.tif", seed=4)
    return src


def test_recursive_batch_mirrors_the_tree(tree: Path, tmp_path: Path):
    out = tmp_path / "out"
    result = run_batch(tree, out, bicubic(recursive=True), report_path=tmp_path / "report.json")
    assert result.exit_code == EXIT_OK
    assert files_under(out) == {
        "a_x2_bicubic.png",
        "b_x2_bicubic.jpg",
        "sub/c_x2_bicubic.webp",
        "sub/deeper/d_x2_bicubic.tif",
    }
    for path in out.rglob("*"):
        if path.is_file():
            with PILImage.open(path) as im:
                assert im.size == (48, 32)
    assert (result.totals.ok, result.totals.failed, result.totals.skipped) == (4, 0, 0)


def test_non_recursive_batch_ignores_sub_folders(tree: Path, tmp_path: Path):
    out = tmp_path / "out"
    result = run_batch(tree, out, bicubic(), write_report_file=False)
    assert files_under(out) == {"a_x2_bicubic.png", "b_x2_bicubic.jpg"}
    assert result.totals.files == 2


def test_name_template_and_format(tree: Path, tmp_path: Path):
    out = tmp_path / "out"
    options = bicubic(recursive=True, format="png", name_template="{model}-{stem}.{ext}-{scale}x-{variant}")
    run_batch(tree, out, options, write_report_file=False)
    assert files_under(out) == {
        "bicubic-a.png-2x-default.png",
        "bicubic-b.jpg-2x-default.png",
        "sub/bicubic-c.webp-2x-default.png",
        "sub/deeper/bicubic-d.tif-2x-default.png",
    }
    with PILImage.open(out / "bicubic-b.jpg-2x-default.png") as im:
        assert im.format == "PNG"


@pytest.mark.parametrize(
    "template, message",
    [("{stem}_{size}", "unknown placeholder {size}"), ("sub/{stem}", "file name, not a path"),
     ("x{scale}", "must contain {stem}"), ("{stem", "bad name template"),
     ("{stem}\n", "holds a control character")],
)
def test_bad_name_templates_are_refused(template: str, message: str):
    with pytest.raises(BatchError, match=message.replace("{", r"\{").replace("}", r"\}")):
        check_template(template)


def test_render_name_fills_every_placeholder():
    assert render_name("{stem}_{ext}_{scale}_{model}_{variant}", "photo", "jpg", 4, "span", None) == (
        "photo_jpg_4_span_default"
    )


def test_existing_outputs_skip_overwrite_rename(tmp_path: Path):
    src = tmp_path / "in"
    save_image(src / "a.png", seed=1)
    out = tmp_path / "out"
    first = run_batch(src, out, bicubic(), write_report_file=False)
    assert first.totals.ok == 1
    target = out / "a_x2_bicubic.png"
    marker = save_image(target, size=(5, 5), seed=9)  # a different, recognisable image

    skipped = run_batch(src, out, bicubic(existing="skip"), write_report_file=False)
    assert skipped.records[0].status == "skipped" and skipped.records[0].note == "output exists"
    with PILImage.open(marker) as im:
        assert im.size == (5, 5)

    renamed = run_batch(src, out, bicubic(existing="rename"), write_report_file=False)
    assert renamed.records[0].status == "ok"
    assert renamed.records[0].output == str(out / "a_x2_bicubic_1.png")
    with PILImage.open(target) as im:
        assert im.size == (5, 5)
    renamed_again = run_batch(src, out, bicubic(existing="rename"), write_report_file=False)
    assert renamed_again.records[0].output == str(out / "a_x2_bicubic_2.png")

    overwritten = run_batch(src, out, bicubic(existing="overwrite"), write_report_file=False)
    assert overwritten.records[0].status == "ok"
    with PILImage.open(target) as im:
        assert im.size == (48, 32)


def test_outputs_kept_from_a_run_with_other_settings_are_said(tmp_path: Path):
    """A re-run into the same folder with another width or quality kept every earlier output
    and said only "2 skipped", exit 0, as if the new settings had been applied. The summary
    says which settings the kept outputs were made with (the report of the run that wrote
    them); a PNG's quality changes nothing and is not named."""
    from sr_desktop.engine.core.output_size import OutputSize

    src, out = tmp_path / "in", tmp_path / "out"
    save_image(src / "a.png", seed=1)
    save_image(src / "b.png", seed=2)
    run_batch(src, out, bicubic(size=OutputSize(width=40), format="jpg"))
    same = run_batch(src, out, bicubic(size=OutputSize(width=40), format="jpg"))
    assert same.totals.skipped == 2 and same.kept_note == "" and "kept" not in same.summary()
    note = ("2 outputs were kept from an earlier run with other settings (quality 95 → 80, width 40 → 60): "
            "--existing overwrite redoes them")
    wider = run_batch(src, out, bicubic(size=OutputSize(width=60), format="jpg", quality=80))
    assert wider.totals.skipped == 2 and wider.kept_note == note and wider.summary().endswith(f"s; {note}")
    # the report of that run lists nothing written: still the first run's settings
    assert run_batch(src, out, bicubic(size=OutputSize(width=60), format="jpg", quality=80)).kept_note == note
    png = run_batch(src, out, bicubic(size=OutputSize(width=40), quality=80))  # (new outputs, then kept)
    assert png.totals.ok == 2
    assert run_batch(src, out, bicubic(size=OutputSize(width=40), quality=50)).kept_note == ""
    # nor the alpha mode of opaque images (it changes only transparency)
    assert run_batch(src, out, bicubic(size=OutputSize(width=40), alpha="resample")).kept_note == ""
    save_image(src / "c.png", mode="RGBA", seed=3)
    run_batch(src, out, bicubic(size=OutputSize(width=40)))
    assert run_batch(src, out, bicubic(size=OutputSize(width=40), alpha="resample")).kept_note == (
        "1 output was kept from an earlier run with other settings (alpha model → resample): --existing "
        "overwrite redoes them")
    redone = run_batch(src, out, bicubic(size=OutputSize(width=60), format="jpg", quality=80, existing="overwrite"))
    assert redone.totals.ok == 3 and redone.kept_note == ""
    assert run_batch(src, out, bicubic(size=OutputSize(width=60), format="jpg", quality=80)).kept_note == ""


def test_overwrite_in_place_replaces_the_batch_s_own_earlier_outputs(tmp_path: Path):
    """Output folder = input folder, run again with overwrite: every file failed ("refusing to
    overwrite an input file") after its upscale, the earlier output being in the input folder,
    while the same report listed that file as skipped, an output of this batch."""
    src = tmp_path / "in"
    save_image(src / "a.png", seed=1)
    first = run_batch(src, src, bicubic(allow_inside_input=True), write_report_file=False)
    assert first.totals.ok == 1
    save_image(src / "a_x2_bicubic.png", size=(5, 5), seed=9)  # recognisably not the result
    again = run_batch(src, src, bicubic(allow_inside_input=True, existing="overwrite"), write_report_file=False)
    assert again.exit_code == EXIT_OK and again.totals.ok == 1 and again.totals.failed == 0
    with PILImage.open(src / "a_x2_bicubic.png") as im:
        assert im.size == (48, 32)


def test_a_linked_folder_is_said_to_be_one(tmp_path: Path):
    """With -r, a symbolic link to a folder is listed, not followed: it was skipped as "not an
    image" (and counted among them)."""
    src = tmp_path / "in"
    save_image(src / "a.png")
    save_image(tmp_path / "other" / "b.png")
    (src / "linked").symlink_to(tmp_path / "other")
    result = run_batch(src, tmp_path / "out", bicubic(recursive=True), write_report_file=False)
    linked = next(r for r in result.records if r.input.endswith("linked"))
    assert linked.status == "skipped" and linked.note == "a linked folder (not followed)"
    assert result.totals.ok == 1 and result.totals.not_images == 0


def test_hidden_files_and_folders_are_listed_and_left_out(tmp_path: Path):
    """A phone's DCIM folder: its ``.thumbnails`` and a ``.hidden.png`` were upscaled with the
    photos (and a USB drive's ``.Trash-1000`` of deleted ones)."""
    src = tmp_path / "DCIM"
    save_image(src / "a.png", seed=1)
    save_image(src / ".hidden.png", seed=2)
    save_image(src / ".thumbnails" / "t.jpg", seed=3)
    save_image(src / "sub" / "b.png", seed=4)
    out = tmp_path / "out"
    result = run_batch(src, out, bicubic(recursive=True), write_report_file=False)
    assert files_under(out) == {"a_x2_bicubic.png", "sub/b_x2_bicubic.png"}
    notes = {Path(r.input).relative_to(src).as_posix(): (r.status, r.note) for r in result.records}
    assert notes[".hidden.png"] == notes[".thumbnails"] == ("skipped", "hidden (left out)")
    assert not any(name.startswith(".thumbnails/") for name in notes)  # not entered
    assert result.exit_code == EXIT_OK and result.totals.not_images == 0 and result.totals.hidden == 2
    assert result.summary().startswith("2 upscaled, 2 skipped (0 not images, 2 hidden), 0 failed")
    inside = run_batch(src, src / ".out", bicubic(recursive=True, allow_inside_input=True), write_report_file=False)
    # (the output folder inside the input, hidden, is no input: not listed as one)
    assert not any(Path(r.input).name == ".out" for r in inside.records) and inside.totals.hidden == 2

    only_hidden = tmp_path / "only"
    save_image(only_hidden / ".x" / "c.png")
    save_image(only_hidden / ".c.png")
    with pytest.raises(BatchError, match=r"^no images in .*only; 2 hidden entries are left out$"):
        run_batch(only_hidden, tmp_path / "out2", bicubic(recursive=True), write_report_file=False)
    # named, a hidden file is the user's choice
    named = run_batch(only_hidden, tmp_path / "out3", bicubic(), files=[only_hidden / ".c.png"],
                      write_report_file=False)
    assert named.totals.ok == 1


def test_every_folder_reader_leaves_out_what_the_system_marks_hidden(tmp_path: Path, monkeypatch):
    """Windows' hidden attribute (a USB drive's $RECYCLE.BIN) counted for the batch only:
    train --data took such a folder's images and bench --dataset a hidden file's."""
    import os
    import types

    from sr_desktop.engine.imageio import hidden
    from sr_desktop.engine.metrics.evaluate import list_dataset
    from sr_desktop.engine.training.data import list_images

    save_image(tmp_path / "data" / "a.png")
    save_image(tmp_path / "data" / "$RECYCLE.BIN" / "old.png")
    save_image(tmp_path / "data" / ".dot.png")
    save_image(tmp_path / "data" / "marked.png")
    real_lstat = os.lstat

    def lstat(path, *args, **kwargs):  # (Windows: FILE_ATTRIBUTE_HIDDEN set on two of them)
        info = real_lstat(path, *args, **kwargs)
        marked = Path(path).name in ("$RECYCLE.BIN", "marked.png")
        return types.SimpleNamespace(st_file_attributes=2 if marked else 0, st_mode=info.st_mode)

    monkeypatch.setattr(hidden, "MARKS_HIDDEN", True)
    monkeypatch.setattr(hidden.os, "lstat", lstat)
    assert [p.name for p in list_images([tmp_path / "data"])] == ["a.png"]
    assert [p.name for p in list_dataset(tmp_path / "data")] == ["a.png"]
    monkeypatch.setattr(hidden, "MARKS_HIDDEN", False)  # Linux: dot names only
    assert [p.name for p in list_dataset(tmp_path / "data")] == ["a.png", "marked.png"]


def test_corrupt_file_and_non_image_do_not_stop_the_batch(tmp_path: Path):
    src = tmp_path / "in"
    save_image(src / "a.png", seed=1)
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (src / "notes.txt").write_text("not an image")
    save_image(src / "z.png", seed=2)
    out = tmp_path / "out"
    report = tmp_path / "report.json"
    result = run_batch(src, out, bicubic(), report_path=report)
    assert result.exit_code == EXIT_SOME_FAILED
    assert files_under(out) == {"a_x2_bicubic.png", "z_x2_bicubic.png"}
    data = read_report(report)
    by_name = {Path(f["input"]).name: f for f in data["files"]}
    assert by_name["broken.png"]["status"] == "failed"
    assert "broken.png" in by_name["broken.png"]["error"]
    assert "\n" not in by_name["broken.png"]["error"]
    assert by_name["notes.txt"]["status"] == "skipped" and by_name["notes.txt"]["note"] == "not an image"
    assert by_name["a.png"]["status"] == by_name["z.png"]["status"] == "ok"
    assert by_name["a.png"]["output_size"] == [48, 32] and by_name["a.png"]["output_bytes"] > 0
    totals = data["totals"]
    assert (totals["ok"], totals["failed"], totals["skipped"], totals["not_images"]) == (2, 1, 1, 1)
    assert totals["exit_code"] == EXIT_SOME_FAILED


def test_csv_report(tmp_path: Path):
    src = tmp_path / "in"
    save_image(src / "a.png")
    (src / "readme.md").write_text("#")
    report = tmp_path / "r.csv"
    run_batch(src, tmp_path / "out", bicubic(), report_path=report)
    lines = report.read_text().splitlines()
    assert lines[0].startswith("input,output,status,error,note,input_bytes,output_bytes")
    assert len(lines) == 4  # header, 2 files, totals
    assert ",ok," in lines[1] and ",skipped," in lines[2] and lines[3].startswith("TOTAL,,total,")


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_a_report_replaces_an_earlier_report_never_another_file(tmp_path: Path, suffix):
    """`--report` over the `--files-from` list, or over any file of the user's, replaced it
    with the report; before any work, that is one line now. An earlier report is replaced."""
    src = tmp_path / "in"
    save_image(src / "a.png")
    report = tmp_path / f"r{suffix}"
    for _ in range(2):
        assert run_batch(src, tmp_path / "out", bicubic(existing="overwrite"), report_path=report).exit_code == EXIT_OK
    empty = tmp_path / f"made-by-mktemp{suffix}"  # (a script's `mktemp`: nothing of the user's in it)
    empty.write_bytes(b"")
    assert run_batch(src, tmp_path / "out", bicubic(existing="overwrite"), report_path=empty).exit_code == EXIT_OK
    listing = tmp_path / f"list{suffix}"
    listing.write_text("a.png\n")
    with pytest.raises(BatchError, match="not a batch report"):
        run_batch(src, tmp_path / "out2", bicubic(), report_path=listing, files=[src / "a.png"])
    assert listing.read_text() == "a.png\n" and not (tmp_path / "out2").exists()


def test_a_csv_report_of_an_earlier_version_is_replaced(tmp_path: Path):
    """A report written before the "worker" column was taken for a file of the user's and
    refused; a CSV that merely starts with the same words is still not a report."""
    src = tmp_path / "in"
    save_image(src / "a.png")
    older = tmp_path / "old.csv"
    older.write_text("input,output,status,error,note,input_bytes,output_bytes,input_width,input_height,output_width,"
                     "output_height,read_seconds,upscale_seconds,write_seconds,seconds\n"
                     "in/a.png,out/a.png,ok,,,10,40,4,4,8,8,0.1,0.1,0.1,0.3\nTOTAL,,total,,,,,,,,,,,,0.3\n")
    assert run_batch(src, tmp_path / "out", bicubic(), report_path=older).exit_code == EXIT_OK
    assert older.read_text().splitlines()[0].endswith(",worker,warning,frames")
    mine = tmp_path / "mine.csv"
    mine.write_text("input,output,status,my own notes\n")
    with pytest.raises(BatchError, match="not a batch report"):
        run_batch(src, tmp_path / "out2", bicubic(), report_path=mine)
    # a list of the user's under the report's own first columns: only a report ends in TOTAL
    # (it was replaced, the user's rows gone: found by a review of the machine-readable outputs)
    approved = tmp_path / "approved.csv"
    approved.write_text("input,output,status\nmy-photo.jpg,print.jpg,approved\n")
    with pytest.raises(BatchError, match="not a batch report"):
        run_batch(src, tmp_path / "out3", bicubic(), report_path=approved)
    assert approved.read_text() == "input,output,status\nmy-photo.jpg,print.jpg,approved\n"


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_a_file_name_that_is_not_utf8_is_reported(tmp_path: Path, suffix):
    """A Latin-1 name (lone surrogates in Python) stopped the report, after the work, with an
    internal error: no report, exit 3. Its name is written escaped, and reads back as itself."""
    import os

    src = tmp_path / "in"
    save_image(src / "a.png")
    odd = Path(os.fsdecode(os.fsencode(str(src)) + b"/caf\xe9.png"))
    (src / "a.png").rename(odd)
    report = tmp_path / f"r{suffix}"
    result = run_batch(src, tmp_path / "out", bicubic(), report_path=report)
    assert result.exit_code == EXIT_OK and report.is_file()
    if suffix == ".json":
        (entry,) = read_report(report)["files"]
        assert Path(entry["input"]) == odd and Path(entry["output"]).is_file()
    else:
        assert "caf\\udce9" in report.read_text(encoding="utf-8")


def test_names_with_control_characters_are_escaped_in_the_csv_report(tmp_path: Path):
    """`cat report.csv` ran a name's escape sequence and a newline split its record for line
    tools, though the docs say names are escaped in every report (a review of the outputs);
    the JSON report keeps each name itself."""
    src = tmp_path / "in"
    save_image(src / "two\nlines.png")
    save_image(src / "red\x1b[31m.png", seed=1)
    csv_report, json_report = tmp_path / "r.csv", tmp_path / "r.json"
    assert run_batch(src, tmp_path / "out", bicubic(), report_path=csv_report).exit_code == EXIT_OK
    text = csv_report.read_text(encoding="utf-8")
    assert "\x1b" not in text and len(text.splitlines()) == 4  # header, two files, TOTAL
    assert "two\\nlines.png" in text and "red\\x1b[31m.png" in text
    run_batch(src, tmp_path / "out", bicubic(existing="overwrite"), report_path=json_report)
    names = {Path(entry["input"]).name for entry in read_report(json_report)["files"]}
    assert names == {"two\nlines.png", "red\x1b[31m.png"}


def test_every_report_has_the_same_totals(tmp_path: Path):
    """`totals.extra` held `interrupted` only when a batch stopped inside a file and `stopped`
    only when the disk filled, and the CSV's TOTAL row left out what the JSON counts (a
    review of the machine-readable outputs)."""
    src = tmp_path / "in"
    save_image(src / "a.png")
    save_image(src / ".hidden.png", seed=1)
    result = run_batch(src, tmp_path / "out", bicubic(), report_path=tmp_path / "r.json")
    assert read_report(result.report_path)["totals"]["extra"] == {"not_started": 0, "interrupted": 0, "stopped": None}
    run_batch(src, tmp_path / "out", bicubic(existing="overwrite"), report_path=tmp_path / "r.csv")
    total = (tmp_path / "r.csv").read_text().splitlines()[-1]
    assert total.startswith("TOTAL,,total,,") and "hidden=1 not_started=0 interrupted=0" in total


def test_default_report_goes_to_the_output_folder(tmp_path: Path):
    src = tmp_path / "in"
    save_image(src / "a.png")
    result = run_batch(src, tmp_path / "out", bicubic())
    assert result.report_path.parent == tmp_path / "out"
    assert json.loads(result.report_path.read_text())["totals"]["ok"] == 1


def test_cancel_stops_mid_file_and_writes_nothing_partial(tmp_path: Path):
    src = tmp_path / "in"
    for i in range(4):
        save_image(src / f"img{i}.png", size=(64, 64), seed=i)
    out = tmp_path / "out"
    token = CancelToken()
    seen_tiles = []

    def on_progress(info):
        if info.extra.get("event") == "tile" and info.extra["index"] == 1:
            seen_tiles.append(info.extra["tile_fraction"])
            if len(seen_tiles) == 2:  # the 2nd file is part-way through its tiles
                token.cancel()

    result = run_batch(src, out, bicubic(tile=16), progress=on_progress, cancel=token, report_path=tmp_path / "r.json")
    assert result.cancelled and result.exit_code == EXIT_CANCELLED
    assert 0 < seen_tiles[-1] < 1
    assert files_under(out) == {"img0_x2_bicubic.png"}
    with PILImage.open(out / "img0_x2_bicubic.png") as im:
        assert im.size == (128, 128)
    data = read_report(tmp_path / "r.json")
    assert data["totals"]["cancelled"] is True and data["totals"]["extra"]["not_started"] == 2
    assert data["totals"]["extra"]["interrupted"] == 1
    # every file of the input tree is in the report with its status (the three were only
    # counted): the file stopped at a tile is not reported as one never started
    statuses = {Path(f["input"]).name: f["status"] for f in data["files"]}
    assert statuses == {"img0.png": "ok", "img1.png": "cancelled", "img2.png": "not started",
                        "img3.png": "not started"}
    stopped = next(f for f in data["files"] if f["status"] == "cancelled")
    assert stopped["output_bytes"] is None and stopped["input_size"] == [64, 64]
    assert data["totals"]["ok"] == 1 and data["totals"]["files"] == 1  # the totals count what was done
    # and the summary says what is left and how to go on (it said only what was done)
    assert result.summary().startswith("cancelled: 1 upscaled, ")
    assert result.summary().endswith(", 3 not done; run again: finished files are skipped")


def test_metadata_is_kept(tmp_path: Path):
    src = tmp_path / "in"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = PILImage.Exif()
    exif[0x013B] = "Batch Tester"  # Artist
    exif[0x010E] = "metadata round trip"  # ImageDescription
    save_image(src / "photo.jpg", size=(32, 24), icc_profile=icc, exif=exif.tobytes(), quality=90)
    save_image(src / "graphic.png", size=(32, 24), icc_profile=icc)
    out = tmp_path / "out"
    run_batch(src, out, bicubic(), write_report_file=False)
    with PILImage.open(out / "photo_x2_bicubic.jpg") as im:
        assert im.info.get("icc_profile") == icc
        assert im.getexif().get(0x013B) == "Batch Tester"
        assert im.getexif().get(0x010E) == "metadata round trip"
    with PILImage.open(out / "graphic_x2_bicubic.png") as im:
        assert im.info.get("icc_profile") == icc


def test_alpha_and_grey_survive(tmp_path: Path):
    src = tmp_path / "in"
    save_image(src / "rgba.png", mode="RGBA")
    save_image(src / "grey.png", mode="L")
    out = tmp_path / "out"
    run_batch(src, out, bicubic(), write_report_file=False)
    with PILImage.open(out / "rgba_x2_bicubic.png") as im:
        assert im.mode == "RGBA" and im.size == (48, 32)
    with PILImage.open(out / "grey_x2_bicubic.png") as im:
        assert im.mode in ("L", "I;16") and im.size == (48, 32)


def test_what_the_format_changes_is_each_files_note(tmp_path: Path):
    """A batch to JPEG flattened transparency and cut 16 bits to 8 without a word in its
    report, where `upscale` and the window's Save said so."""
    src = tmp_path / "in"
    save_image(src / "rgba.png", mode="RGBA")
    PILImage.fromarray((np.arange(16 * 24).reshape(16, 24) * 97).astype(np.uint16)).save(src / "deep.png")
    save_image(src / "plain.png")
    result = run_batch(src, tmp_path / "out", bicubic(format="jpg"), write_report_file=False)
    notes = {Path(r.input).name: (r.status, r.note) for r in result.records}
    assert notes == {"rgba.png": ("ok", "transparency flattened onto white"), "deep.png": ("ok", "16 bits → 8"),
                     "plain.png": ("ok", "")}


def test_output_inside_input_is_refused_unless_allowed(tree: Path):
    with pytest.raises(BatchError, match="inside the input folder"):
        run_batch(tree, tree / "upscaled", bicubic(recursive=True))
    with pytest.raises(BatchError, match="inside the input folder"):
        run_batch(tree, tree, bicubic())
    assert not (tree / "upscaled").exists()

    result = run_batch(tree, tree / "upscaled", bicubic(recursive=True, allow_inside_input=True))
    assert result.totals.ok == 4  # the output folder itself is not read back as input
    again = run_batch(tree, tree / "upscaled", bicubic(recursive=True, allow_inside_input=True))
    assert again.totals.files == 4 and again.totals.skipped == 4


def test_outputs_of_an_earlier_batch_are_not_upscaled_again(tmp_path: Path, monkeypatch):
    """A re-run with another model or scale into the input folder (or into a second folder
    inside it) skips what earlier batches wrote, found by their reports."""
    src = tmp_path / "in"
    save_image(src / "photo.png", seed=1)
    monkeypatch.chdir(tmp_path)  # folders as typed, relative: the report records them so
    first = run_batch(Path("in"), Path("in"), bicubic(allow_inside_input=True))
    assert first.totals.ok == 1
    again = run_batch(Path("in"), Path("in"), bicubic(allow_inside_input=True, scale=3))
    assert again.totals.ok == 1 and again.totals.skipped == 2  # the first output and report
    notes = {Path(r.input).name: r.note for r in again.records}
    assert notes["photo_x2_bicubic.png"] == "an output of an earlier batch (photo.png)"
    nested = run_batch(src, src / "second", bicubic(allow_inside_input=True, recursive=True, scale=4))
    assert nested.totals.ok == 1
    assert files_under(src / "second") == {"photo_x4_bicubic.png", nested.report_path.name}
    # the output folder of a batch from elsewhere is an input like any other (in → out1 → out2)
    chained = run_batch(src / "second", tmp_path / "third", bicubic())
    assert chained.totals.ok == 1 and chained.totals.skipped == 1  # (the report: not an image)
    # a damaged report names nothing: its outputs are inputs again (the other report still counts)
    (tmp_path / first.report_path).write_text("{not json")
    last = run_batch(src, tmp_path / "out", bicubic())
    assert {Path(r.input).name for r in last.records if r.status == "ok"} == {"photo.png", "photo_x2_bicubic.png"}


def test_input_files_are_never_overwritten(tmp_path: Path):
    src = tmp_path / "in"
    original = save_image(src / "a.png", seed=5).read_bytes()
    options = bicubic(name_template="{stem}", existing="overwrite", allow_inside_input=True)
    result = run_batch(src, src, options, write_report_file=False)
    assert result.exit_code == EXIT_SOME_FAILED
    assert result.records[0].status == "failed"
    assert (src / "a.png").read_bytes() == original


def test_two_inputs_with_the_same_output_name(tmp_path: Path):
    src = tmp_path / "in"
    save_image(src / "a.jpg", seed=1)
    save_image(src / "a.png", seed=2)
    result = run_batch(src, tmp_path / "out", bicubic(format="png"), write_report_file=False)
    statuses = sorted((Path(r.input).name, r.status) for r in result.records)
    assert statuses == [("a.jpg", "ok"), ("a.png", "failed")]
    assert "{ext}" in result.records[1].error


def test_list_of_files(tree: Path, tmp_path: Path):
    outside = save_image(tmp_path / "elsewhere" / "e.png", seed=7)
    files = [tree / "b.jpg", tree / "sub" / "deeper" / "d.tif", outside, tree / "gone.png"]
    out = tmp_path / "out"
    result = run_batch(tree, out, bicubic(), files=files, write_report_file=False)
    assert files_under(out) == {"b_x2_bicubic.jpg", "sub/deeper/d_x2_bicubic.tif", "e_x2_bicubic.png"}
    assert [r.status for r in result.records] == ["ok", "ok", "ok", "failed"]
    assert result.records[3].error == "no such file" and result.exit_code == EXIT_SOME_FAILED


def test_bad_options_are_one_line_errors(tmp_path: Path):
    src = tmp_path / "in"
    save_image(src / "a.png")
    with pytest.raises(BatchError, match="unknown output format"):
        run_batch(src, tmp_path / "out", bicubic(format="heic"))
    with pytest.raises(BatchError, match="does not exist"):
        run_batch(tmp_path / "missing", tmp_path / "out", bicubic())
    with pytest.raises(BatchError, match="quality"):
        run_batch(src, tmp_path / "out", bicubic(quality=0))
    assert not (tmp_path / "out").exists()


def test_temp_files_of_a_killed_run_are_removed_at_start(tmp_path: Path):
    src = tmp_path / "in"
    save_image(src / "sub" / "a.png")
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    stale = out / "sub" / ".a_x2_bicubic.png.0badc0de.part"  # write_image's temp naming
    stale.write_bytes(b"\x89PNG half")
    unrelated = out / "sub" / ".keep.part"
    unrelated.write_text("not ours")
    result = run_batch(src, out, bicubic(recursive=True), write_report_file=False)
    assert result.totals.removed_temp_files == 1
    assert not stale.exists() and unrelated.exists()
    assert (out / "sub" / "a_x2_bicubic.png").is_file()


def test_temp_files_of_a_run_still_writing_are_kept(tmp_path: Path):
    import subprocess
    import sys

    src = tmp_path / "in"
    save_image(src / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    dead = out / f".b_x2_bicubic.png.{int(finished.stdout)}-0badc0de.part"  # its writer was killed
    dead.write_bytes(b"\x89PNG half")
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = out / f".c_x2_bicubic.png.{writer.pid}-0badc0de.part"  # another batch writing now
        live.write_bytes(b"\x89PNG being written")
        result = run_batch(src, out, bicubic(), write_report_file=False)
        # a second batch removed the first's temp file, which then failed to rename it
        assert result.totals.removed_temp_files == 1
        assert not dead.exists() and live.exists()
    finally:
        writer.kill()
        writer.wait()


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="a zombie is told by Linux's /proc")
def test_the_temp_file_of_a_killed_writer_not_yet_reaped_is_removed(tmp_path: Path):
    """A Ray worker killed while it wrote stays a zombie until its raylet waits for it: it
    still answered signal 0, so its temp file was kept as a live writer's (a flaky fault
    test, tests/test_batch_cluster.py's killed worker)."""
    import subprocess
    import sys
    import time

    src = tmp_path / "in"
    save_image(src / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        killed.kill()
        while b") Z " not in Path(f"/proc/{killed.pid}/stat").read_bytes():  # (dead, not reaped: no wait())
            time.sleep(0.01)
        left = out / f".b_x2_bicubic.png.{killed.pid}-0badc0de.part"
        left.write_bytes(b"\x89PNG half")
        result = run_batch(src, out, bicubic(), write_report_file=False)
        assert result.totals.removed_temp_files == 1 and not left.exists()
    finally:
        killed.wait()


def test_progress_reports_files_current_file_throughput_and_eta(tmp_path: Path):
    src = tmp_path / "in"
    for i in range(4):
        save_image(src / f"img{i}.png", seed=i)
    (src / "skip.txt").write_text("x")
    events = []
    run_batch(src, tmp_path / "out", bicubic(), progress=events.append, write_report_file=False)
    files = [e for e in events if e.extra["event"] == "file"]
    starts = [e for e in events if e.extra["event"] == "start"]
    assert [e.done for e in files] == [1, 2, 3, 4, 5] and {e.total for e in events} == {5}
    assert [Path(e.message).name for e in starts] == ["img0.png", "img1.png", "img2.png", "img3.png"]
    # Two writer threads may finish neighbouring files in either order.
    assert sorted(Path(e.extra["current"]).name for e in files) == [
        "img0.png", "img1.png", "img2.png", "img3.png", "skip.txt"]
    assert files[-1].eta == 0.0 and files[-1].extra["ok"] == 4 and files[-1].extra["skipped"] == 1
    assert files[2].eta is not None and files[2].eta > 0
    assert files[-1].extra["files_per_second"] > 0 and files[-1].extra["megapixels_per_second"] > 0
    assert all(e.stage == "batch" for e in events)


def test_batch_cancelled_before_it_starts_writes_nothing(tmp_path: Path):
    src = tmp_path / "in"
    save_image(src / "a.png")
    (src / "b.txt").write_text("x")
    token = CancelToken()
    token.cancel()
    from sr_desktop.engine.core.errors import Cancelled

    with pytest.raises(Cancelled):  # (before any file: no folder, no report; it made an empty folder)
        run_batch(src, tmp_path / "out", bicubic(), cancel=token)
    assert not (tmp_path / "out").exists()


def test_encoding_in_the_device_thread_writes_the_same_files(tree: Path, tmp_path: Path):
    save_image(tree / "alpha.png", seed=5, mode="RGBA")
    save_image(tree / "grey.png", seed=6, mode="L")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    save_image(tree / "meta.jpg", seed=7, icc_profile=icc, quality=90)
    outputs = {}
    for inline in (False, True):
        out = tmp_path / f"out-{inline}"
        result = run_batch(tree, out, bicubic(recursive=True, encode_in_device_thread=inline),
                           write_report_file=False)
        assert result.exit_code == EXIT_OK
        outputs[inline] = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert len(outputs[True]) == 7
    assert outputs[True] == outputs[False]


def test_an_encoder_failure_in_the_device_thread_fails_that_file_only(tmp_path: Path, monkeypatch):
    import sr_desktop.engine.imageio as image_io

    src = tmp_path / "in"
    save_image(src / "a.png", seed=1)
    save_image(src / "b.png", seed=2)
    real = image_io.encode_image

    def flaky(image, path, options=None):
        if Path(path).name.startswith("a_"):
            raise image_io.ImageWriteError(Path(path), "PNG encoder failed (simulated)")
        return real(image, path, options)

    monkeypatch.setattr(image_io, "encode_image", flaky)
    out = tmp_path / "out"
    report = tmp_path / "r.json"
    result = run_batch(src, out, bicubic(encode_in_device_thread=True), report_path=report)
    assert result.exit_code == EXIT_SOME_FAILED
    assert files_under(out) == {"b_x2_bicubic.png"}
    by_name = {Path(f["input"]).name: f for f in read_report(report)["files"]}
    assert by_name["a.png"]["status"] == "failed" and "simulated" in by_name["a.png"]["error"]
    assert by_name["b.png"]["status"] == "ok"


def test_where_outputs_are_encoded():
    import torch

    from sr_desktop.engine.batch.stages import encode_in_device_thread
    from sr_desktop.engine.models.base import SRModel
    net = SRModel()
    x = BatchOptions(upscale=UpscaleOptions(model="x"))
    assert encode_in_device_thread(x, x.upscale, net) is True  # CPU network
    assert encode_in_device_thread(bicubic(), UpscaleOptions(model="bicubic"), None) is False  # resampler
    net.device = torch.device("cuda")  # attribute only: nothing runs
    assert encode_in_device_thread(x, x.upscale, net) is False
    forced = bicubic(encode_in_device_thread=True)
    assert encode_in_device_thread(forced, UpscaleOptions(model="bicubic"), None) is True


def test_an_output_name_too_long_fails_that_file_only(tmp_path: Path):
    """A legal input name plus the template's additions can pass the 255 bytes a file name
    may have: that file fails (before its upscale), the others are done."""
    src = tmp_path / "in"
    save_image(src / "a.png", seed=1)
    long_input = save_image(src / ("b" + "é" * 124 + ".png"), seed=2)  # 253 bytes
    save_image(src / "c.png", seed=3)
    result = run_batch(src, tmp_path / "out", bicubic(), write_report_file=False)
    statuses = {Path(r.input).name[:1]: (r.status, r.error) for r in result.records}
    assert statuses["a"][0] == statuses["c"][0] == "ok"
    assert statuses["b"][0] == "failed" and "shorten the name template" in statuses["b"][1]
    assert result.exit_code == EXIT_SOME_FAILED and long_input.is_file()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_x2_bicubic.png", "c_x2_bicubic.png"]


def test_windows_counts_a_name_in_utf16_units(monkeypatch):
    """NTFS takes 255 UTF-16 units: 81 CJK characters (96 units, 258 UTF-8 bytes) were refused
    there as too long, and the window's Save suggestion cut such a stem."""
    from sr_desktop.engine.core import file_names

    name = "写" * 81 + "_x2_bicubic.png"
    assert file_names.name_length(name) == 258
    monkeypatch.setattr(file_names, "WINDOWS", True)
    assert file_names.name_length(name) == 96 and file_names.name_length("😀.png") == 6  # (a pair of units)
    assert file_names.fitting_name("写" * 250, ".png") == "写" * 250 + ".png"
    monkeypatch.setattr(file_names, "WINDOWS", False)
    assert file_names.fitting_name("写" * 250, ".png") == "写" * 83 + ".png"


def test_a_batch_never_replaces_a_file_through_a_link_in_its_output_folder(tmp_path: Path):
    """A link planted where an output goes, or an existing output in a sub-folder that is a link
    out of the output folder: with --existing overwrite the batch replaced the file outside (a
    text file became a PNG). Skip and rename leave such a link alone, and new files go into a
    linked sub-folder (a folder on another disk) as before."""
    src, out, outside = tmp_path / "in", tmp_path / "out", tmp_path / "outside"
    save_image(src / "a.png")
    save_image(src / "photos" / "b.png", seed=1)
    save_image(src / "photos" / "c.png", seed=2)
    notes = tmp_path / "notes.txt"
    notes.write_text("secret notes")
    outside.mkdir()
    (outside / "b_x2_bicubic.png").write_text("mine")
    out.mkdir()
    (out / "a_x2_bicubic.png").symlink_to(notes)
    (out / "photos").symlink_to(outside)
    result = run_batch(src, out, bicubic(existing="overwrite", recursive=True))
    assert notes.read_text() == "secret notes" and (outside / "b_x2_bicubic.png").read_text() == "mine"
    failed = {Path(r.input).name: r.error for r in result.records if r.status == "failed"}
    assert "is a link" in failed["a.png"] and "leads out of the output folder" in failed["b.png"]
    assert (outside / "c_x2_bicubic.png").is_file() and result.exit_code == 1  # a new file: written
    for existing in ("skip", "rename"):
        again = run_batch(src, out, bicubic(existing=existing, recursive=True))
        assert again.exit_code == EXIT_OK, [(r.input, r.error) for r in again.records if r.status == "failed"]
    assert notes.read_text() == "secret notes" and (outside / "b_x2_bicubic.png").read_text() == "mine"
    # a link to a missing file (git-annex's, content not present): skipped, or renamed beside
    notes.unlink()
    for existing in ("skip", "rename"):
        again = run_batch(src, out, bicubic(existing=existing, recursive=True))
        assert again.exit_code == EXIT_OK, [(r.input, r.error) for r in again.records if r.status == "failed"]
    assert (out / "a_x2_bicubic_2.png").is_file() and not notes.exists()  # (_1: the run before)


def test_a_report_naming_inputs_that_are_not_there_skips_nothing(tmp_path: Path):
    """A stale or forged batch report in a downloaded folder, naming the photos there as the
    outputs of inputs that do not exist: the batch skipped them all and did nothing, status 0."""
    src = tmp_path / "in"
    for name in ("holiday1.png", "holiday2.png"):
        save_image(src / name)
    (src / "sr-desktop-batch-20200101-000000.json").write_text(json.dumps({
        "tool": "sr-desktop batch", "input_dir": "x", "output_dir": "x",
        "files": [{"status": "ok", "input": "x/a.png", "output": "x/holiday1.png"},
                  {"status": "ok", "input": "x/b.png", "output": "x/holiday2.png"}]}))
    result = run_batch(src, tmp_path / "out", bicubic())
    assert result.totals.ok == 2 and result.exit_code == EXIT_OK


def test_a_bug_on_one_file_leaves_its_traceback_in_the_log(tmp_path: Path, monkeypatch, caplog):
    """A per-file bug was one line in the report and nothing anywhere else, -v included: the
    help's "report it with the output of -v" had nothing to give."""
    import logging

    from sr_desktop.engine.pipeline import upscale

    def broken(*args, **kwargs):
        raise KeyError("injected")

    save_image(tmp_path / "in" / "a.png")
    monkeypatch.setattr(upscale, "upscale_image", broken)
    with caplog.at_level(logging.INFO, logger="sr_desktop.engine.batch.stages"):
        result = run_batch(tmp_path / "in", tmp_path / "out", bicubic(), report_path=tmp_path / "r.json")
    assert result.records[0].error == "KeyError: 'injected'"
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO and "a.png" in r.getMessage()]
    assert len(logged) == 1 and logged[0].startswith(f"failed: {tmp_path / 'in' / 'a.png'}: KeyError: 'injected'\n")
    assert "Traceback (most recent call last)" in logged[0] and "in broken" in logged[0]
    assert "details" not in read_report(tmp_path / "r.json")["files"][0]  # (the log's, not the report's)


@pytest.mark.parametrize("where", ["_entries", "NameKeys"])  # the walk; the outputs' marking after it
def test_a_batch_cancelled_while_it_plans_writes_nothing(tmp_path: Path, monkeypatch, where):
    """Ctrl+C while 50 000 files were walked waited for the walk (6 s), then made the output
    folder and a 24 MB report of files "not started"."""
    from sr_desktop.engine.batch import plan
    from sr_desktop.engine.core.errors import Cancelled

    for i in range(3):
        save_image(tmp_path / "in" / f"d{i}" / "a.png", seed=i)
    cancel = CancelToken()
    real = getattr(plan, where)

    def then_cancel(*args, **kwargs):
        cancel.cancel()  # (Ctrl+C while the plan is made)
        return real(*args, **kwargs)

    monkeypatch.setattr(plan, where, then_cancel)
    later = []  # (the plan's last pass: not reached once cancelled)
    monkeypatch.setattr(plan, "_mark_earlier_outputs", lambda *args, **kwargs: later.append(args))
    with pytest.raises(Cancelled):
        run_batch(tmp_path / "in", tmp_path / "out", bicubic(recursive=True), cancel=cancel)
    assert not (tmp_path / "out").exists() and later == []


def test_a_plan_of_many_files_is_said_before_it_is_made(tree: Path, tmp_path: Path, monkeypatch):
    """Planning 50 000 files took seconds without a word (the bar opened after it); from
    `PLAN_NOTICE_FILES` files on, one notice comes first, whose words the front ends show."""
    from sr_desktop.engine.batch import plan
    from sr_desktop.engine.core.progress import NOTICE_STAGES, PLANNING_STAGE

    seen = []
    monkeypatch.setattr(plan, "PLAN_NOTICE_FILES", 4)
    run_batch(tree, tmp_path / "out", bicubic(recursive=True), progress=seen.append)
    notices = [info for info in seen if info.stage == PLANNING_STAGE]
    assert [info.message for info in notices] == ["planning 4 files"] and PLANNING_STAGE in NOTICE_STAGES
    assert seen.index(notices[0]) < min(i for i, info in enumerate(seen) if info.extra.get("event") == "start")
    seen.clear()
    monkeypatch.setattr(plan, "PLAN_NOTICE_FILES", 5)
    run_batch(tree, tmp_path / "out2", bicubic(recursive=True), progress=seen.append)
    assert not [info for info in seen if info.stage == PLANNING_STAGE]


def test_the_eta_counts_the_files_to_upscale_not_those_skipped(tmp_path: Path):
    """A folder of 3 000 non-images and 3 photos said "ETA 9:00" (every file at the photos'
    rate) for a batch done in a second."""
    import time

    from sr_desktop.engine.batch.plan import plan_jobs
    from sr_desktop.engine.batch.report import FileRecord
    from sr_desktop.engine.batch.stages import BatchStages

    save_image(tmp_path / "in" / "a.png", seed=1)
    save_image(tmp_path / "in" / "b.png", seed=2)
    for i in range(20):
        (tmp_path / "in" / f"z{i:02d}.txt").write_text("notes")
    jobs = plan_jobs(tmp_path / "in", tmp_path / "out", recursive=False, template="{stem}", fmt="png", scale=2,
                     model="bicubic", variant=None)
    seen = []
    options = bicubic()
    stages = BatchStages(jobs, options, options.upscale, seen.append, CancelToken())
    stages.processed, stages.first_processed_at = 1, time.perf_counter() - 2.0  # (an image took 2 s)
    stages._record(jobs[0], FileRecord(str(jobs[0].input), None, "ok"))  # a.png done, b.png to come
    stages._record(jobs[2], FileRecord(str(jobs[2].input), None, "skipped", note="not an image"))
    assert seen[-1].eta == pytest.approx(2.0, abs=0.5)  # (b.png's 2 s, not 20 more files' 40 s)
    stages._record(jobs[1], FileRecord(str(jobs[1].input), None, "ok"))
    stages._record(jobs[3], FileRecord(str(jobs[3].input), None, "skipped", note="not an image"))
    assert seen[-1].eta == 0.0 and seen[-1].done < len(jobs)  # (only non-images left)


def test_a_report_into_a_stream_is_not_refused_by_the_folder_probe(tmp_path, monkeypatch):
    """`batch --report -` (/dev/stdout) failed for every user but root: the check before the
    batch probed /dev as a folder to write the report in ('Permission denied'), and as root
    created and deleted a file there. A stream is written into as it is."""
    from sr_desktop.engine.imageio import atomic

    src = tmp_path / "in"
    src.mkdir()
    PILImage.fromarray(np.zeros((8, 8, 3), np.uint8)).save(src / "a.png")

    probe = atomic.probe_writable

    def denied(folder):  # as /dev is for a user who is not root
        if Path(folder) == Path("/dev"):
            raise PermissionError(13, "Permission denied", str(folder))
        return probe(folder)

    monkeypatch.setattr(atomic, "probe_writable", denied)
    result = run_batch(src, tmp_path / "out", BatchOptions(upscale=UpscaleOptions(model="bicubic", scale=2)),
                       report_path="/dev/null")
    assert result.exit_code == EXIT_OK and (tmp_path / "out" / "a_x2_bicubic.png").is_file()


def test_outputs_kept_from_a_run_that_kept_the_metadata_are_said(tmp_path: Path):
    """A re-run with --no-gps (or --no-metadata) kept the earlier outputs, which still held the
    GPS position, said "1 skipped" and wrote a report saying GPS was dropped."""
    src, out = tmp_path / "in", tmp_path / "out"
    save_image(src / "a.png", seed=1)
    run_batch(src, out, bicubic())
    assert run_batch(src, out, bicubic(drop_gps=True)).kept_note == (
        "1 output was kept from an earlier run with other settings (drop_gps no → yes): --existing overwrite "
        "redoes them")
    assert "keep_metadata yes → no" in run_batch(src, out, bicubic(keep_metadata=False)).kept_note
    # what changes nothing is not "other settings": GPS dropped from metadata neither run kept,
    # a precision asked for (recorded as asked: auto is fp32 here, and bicubic has none)
    run_batch(src, out, bicubic(keep_metadata=False, existing="overwrite"))
    assert run_batch(src, out, bicubic(keep_metadata=False, drop_gps=True, precision="fp32")).kept_note == ""


def test_a_report_of_a_version_that_did_not_record_a_setting_is_not_other_settings(tmp_path: Path):
    src, out = tmp_path / "in", tmp_path / "out"
    save_image(src / "a.png", seed=1)
    first = run_batch(src, out, bicubic())
    data = json.loads(first.report_path.read_text())
    for key in ("keep_metadata", "drop_gps", "precision"):
        del data["options"][key]
    first.report_path.write_text(json.dumps(data))
    assert run_batch(src, out, bicubic(drop_gps=True, precision="fp32")).kept_note == ""


def test_the_report_names_the_weights_and_other_weights_are_other_settings(tmp_path: Path):
    """A model retrained under its id (`train --resume` into the same name) kept its old
    weights' outputs on a re-run without a word: nothing recorded which weights made them."""
    from sr_desktop.engine.models.literature import shipped_weights
    from sr_desktop.engine.models.registry import get_model_spec

    src, out = tmp_path / "in", tmp_path / "out"
    save_image(src / "a.png", seed=1)
    srcnn = BatchOptions(upscale=UpscaleOptions(model="srcnn", scale=2))
    first = run_batch(src, out, srcnn)
    digest = shipped_weights(get_model_spec("srcnn"), 2)[2]
    data = json.loads(first.report_path.read_text())
    assert data["options"]["weights_sha256"] == digest
    assert run_batch(src, out, srcnn).kept_note == ""
    data["options"]["weights_sha256"] = "0" * 64  # as the earlier weights of a model retrained since
    first.report_path.write_text(json.dumps(data))
    assert run_batch(src, out, srcnn).kept_note == (
        f"1 output was kept from an earlier run with other settings (weights_sha256 000000000000… → {digest[:12]}…): "
        "--existing overwrite redoes them")
