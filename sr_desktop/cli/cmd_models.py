"""``sr-desktop models [--json]``, ``models add FILE [--name NAME]`` and ``models remove ID``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sr_desktop.cli.common import path_arg
from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.core.options import MAX_SCALE
from sr_desktop.engine.core.text import printable
from sr_desktop.engine.models.community.licence import is_non_commercial
from sr_desktop.engine.models.kinds import ModelKind
from sr_desktop.engine.models.literature import incomplete_text, measured_psnr, network_sharing_text
from sr_desktop.engine.models.spec import LITERATURE


def add_parser(subparsers) -> None:
    """Register ``models`` (with its ``add`` action) on the main parser."""
    p = subparsers.add_parser(
        "models",
        help="list the models (installed or not), add your own model file or remove one",
        description="List the available models with their scales, variants and tags, add "
        "a custom model: `sr-desktop models add FILE [--name NAME]` (.pth, .safetensors, "
        "or an ncnn .param with its .bin next to it), or remove one you added: "
        "`sr-desktop models remove ID`; free the room the converted models take: "
        "`sr-desktop models clear-cache`.",
        epilog="Exit status: 0 done; 1 clear-cache could not delete some files (named on stderr); 2 bad "
        "usage, an unknown id or a file it cannot add; 3 unexpected internal error (a bug); 141 the reader "
        "of standard output closed it (models | head).",
    )
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=run)
    actions = p.add_subparsers(dest="models_action", metavar="ACTION")
    add = actions.add_parser("add", help="add a custom model file", add_help=False)
    add.add_argument("-h", "--help", action=_HelpNamingArchitectures, help="show this help message and exit")
    add.add_argument("file", type=path_arg, help="model file: .pth / .pt / .ckpt / .safetensors / ncnn .param (+ .bin)")
    add.add_argument("--name", help="id/display name for the model (default: from the file name)")
    # (SUPPRESS: `models --json add F` kept the parent's --json; the action's default undid it)
    add.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the added model as JSON")
    add.set_defaults(func=run)
    remove = actions.add_parser("remove", help="remove a custom model added earlier")
    remove.add_argument("model_id", metavar="ID", help="id of the custom model (see `sr-desktop models`)")
    remove.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help='print {"removed": ID}')
    remove.set_defaults(func=run)
    clear = actions.add_parser(
        "clear-cache", help="delete the converted weights, OpenVINO conversions and measured backends "
        "(each is made again at its next use) and say how much room that freed")
    clear.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                       help='print {"freed_bytes": N, "folder": PATH, "kept": [...]}')
    clear.set_defaults(func=run)


class _HelpNamingArchitectures(argparse.Action):
    """``models add --help``, ending with the architectures a file may hold: read from the
    registry only when asked (it imports torch, which would slow every command's start)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from sr_desktop.engine.models.custom import supported_families

        parser.epilog = (f"Architectures of .pth/.pt/.ckpt/.safetensors files: {supported_families()}; "
                         "more (HAT, DAT, SwinIR, …) with the community extra: pip install 'sr-desktop[community]'.")
        parser.print_help()
        parser.exit()


def _entry(spec) -> dict:
    from sr_desktop.engine.models.registry import variants_at

    data = spec.to_json()
    data["default_variant"] = spec.default_variant
    if spec.kind == ModelKind.RESAMPLE:  # the table's "any (1-16)": every scale it takes
        data["scales"] = list(range(1, MAX_SCALE + 1))
    # every entry has the same fields (only the zoo's had this one: a reader of the JSON failed)
    data["variants_by_scale"] = {str(k): variants_at(spec, k) for k in data["scales"]}
    data["variants_detail"] = [
        {"name": v, "default": v == spec.default_variant} for v in spec.variants
    ]
    return data


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    """Left-aligned columns; the last one is not padded."""
    from sr_desktop.engine.core.text import terminal_width

    widths = [max(terminal_width(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join(c + " " * (w - terminal_width(c)) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
            for r in rows]


def _psnr(values) -> str:
    """PSNR values as ``a/b/c`` (``-`` where there is no number)."""
    return "/".join(f"{v:.2f}" if isinstance(v, (int, float)) else "-" for v in values)


def _published(spec, dataset: str) -> str:
    return _psnr(spec.published_psnr(dataset, k) for k in (2, 3, 4))


def _measured(spec, dataset: str) -> str:
    if not spec.trained:
        return ""
    return _psnr(measured_psnr(spec, dataset, k) for k in (2, 3, 4))


def _x8_published(spec) -> str:
    """Set5/Set14 at ×8 as published (``""`` for a model without a ×8 network)."""
    if 8 not in spec.scales:
        return ""
    return _psnr(spec.published_psnr(dataset, 8) for dataset in ("Set5", "Set14"))


def _x8_measured(spec) -> str:
    """Set5/Set14 at ×8 as measured for the shipped ×8 weights (``""`` where none ship)."""
    if "8" not in spec.trained:
        return ""
    return _psnr(measured_psnr(spec, dataset, 8) for dataset in ("Set5", "Set14"))


def _literature_status(spec, added) -> str:
    if not spec.installed:
        from sr_desktop.engine.models.registry import checkpoints_of

        yours = checkpoints_of(spec, added)
        return f"{spec.status}: {spec.install_command}" + (f" (yours: {', '.join(yours)})" if yours else "")
    scales = ",".join(f"×{k}" for k in spec.scales)
    incomplete = incomplete_text(spec.trained)
    sharing = network_sharing_text(spec.trained)
    return f"installed {scales}" + (f", {incomplete}" if incomplete else "") + (f" ({sharing})" if sharing else "")


def _literature_table(specs, added) -> str:
    rows = [("ID", "NAME", "YEAR", "SET5 ×2/×3/×4", "HERE", "SET14 ×2/×3/×4", "HERE", "×8 SET5/SET14", "HERE",
             "STATUS")]
    for s in specs:
        rows.append((s.id, s.name, str(s.year or ""), _published(s, "Set5"), _measured(s, "Set5"),
                     _published(s, "Set14"), _measured(s, "Set14"), _x8_published(s), _x8_measured(s),
                     _literature_status(s, added)))
    return "\n".join(["Literature (PSNR, dB, Y channel: published, and HERE = measured with `sr-desktop bench` "
                      "for the weights that ship; papers and training in `models --json`)",
                      *_columns(rows)])


def _table(specs) -> str:
    literature = [s for s in specs if s.group == LITERATURE]
    specs = [s for s in specs if s.group != LITERATURE]
    rows = [("ID", "NAME", "SCALES", "VARIANTS", "TAGS", "STATUS")]
    for s in specs:
        names = [f"{v}*" if v == s.default_variant and len(s.variants) > 1 else v for v in s.variants]
        if len(names) > 6:
            names = names[:2] + ["...", names[-1]]
        variants = ", ".join(names)
        if s.kind == ModelKind.RESAMPLE:
            scales = f"any (1-{MAX_SCALE})"
        else:
            scales = ",".join(f"×{k}" for k in s.scales)
        status = "installed" if s.installed else (
            f"missing: {s.install_command}" if s.install_command else "not available in this build"
        )
        if s.custom:
            # what it is and where it came from (two "4x_tiny_esrgan" rows, an RRDBNet .pth and a
            # SwinIR .safetensors, said nothing more); an installed one's install command: what
            # it needs beside (spandrel)
            origin = Path(s.source.get("original") or s.source.get("file") or "").name
            status += f" (custom: {s.arch}" + (f" from {printable(origin)}" if origin else "") + (
                f"; needs: {s.install_command}" if s.installed and s.install_command else "") + (
                f"; licence: {s.license})" if is_non_commercial(s.license) else ")")
        rows.append((s.id, s.name, scales, variants, ",".join(s.tags), status))
    lines = _columns(rows)
    lines.append("(* = default variant)")
    if literature:
        lines += ["", _literature_table(literature, [s for s in specs if s.custom])]
    return "\n".join(lines)


def _clear_cache(args: argparse.Namespace) -> int:
    """``models clear-cache``: 0, or 1 when something could not be deleted (each said)."""
    from sr_desktop.engine.core import paths
    from sr_desktop.engine.core.text import human_bytes
    from sr_desktop.engine.models.user_cache import clear_cache

    freed, kept = clear_cache()
    if args.json:
        print(json.dumps({"freed_bytes": freed, "folder": str(paths.cache_dir()), "kept": kept}, indent=2))
    else:
        # in the units the window's Clear model cache… says (it said MiB where this said MB)
        print(f"freed {human_bytes(freed) if freed else '0 B'} in {paths.cache_dir()} (made again at their next use)")
        for why in kept:
            print(f"sr-desktop: error: not deleted: {why}", file=sys.stderr)
    return 1 if kept else 0


def run(args: argparse.Namespace) -> int:
    """List models, or add one (``models add``). Errors are `ModelError` (one line)."""
    from sr_desktop.engine.models import registry

    action = getattr(args, "models_action", None)
    if action == "clear-cache":
        return _clear_cache(args)
    if action in ("add", "remove"):
        try:
            from sr_desktop.engine.models import custom
        except ModuleNotFoundError as exc:
            if exc.name == "sr_desktop.engine.models.custom":
                raise ModelError("custom models are not available in this build") from None
            raise
    if action == "remove":
        custom.remove_custom_model(args.model_id)
        print(json.dumps({"removed": args.model_id}) if args.json else f"removed {args.model_id}")
        return 0
    if action == "add":
        spec = custom.add_custom_model(args.file, name=args.name)
        if args.json:
            print(json.dumps(_entry(spec), indent=2))
        else:
            scales = ",".join(f"×{k}" for k in spec.scales)
            print(f"added {spec.id}: {spec.name} ({spec.arch}, {scales})")
            if spec.license:
                print(f"licence: {spec.license}")
        twins = custom.same_weights_as(spec)
        if twins:
            print(f"sr-desktop: note: the same weights are already added as "
                  f"{', '.join(f'{t.id} ({t.name})' for t in twins)}", file=sys.stderr)
        return 0
    specs = registry.list_models()
    if args.json:
        print(json.dumps([_entry(s) for s in specs], indent=2))
    else:
        print(_table(specs))
    return 0
