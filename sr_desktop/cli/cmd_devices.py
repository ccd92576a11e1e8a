"""``sr-desktop devices [--json]``: the compute devices of this machine and what runs on each."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers) -> None:
    """Register ``devices`` on the main parser."""
    p = subparsers.add_parser(
        "devices",
        help="list this machine's compute devices (the values of --device) and the inference libraries",
        description="The CPU, CUDA and MPS GPUs (torch: every model) and Vulkan GPUs (the ncnn runtime: "
        "the model zoo's models), each with the --device value that picks it.",
        epilog="Exit status: 0 done; 2 bad usage; 3 unexpected internal error (a bug); 141 the reader of "
        "standard output closed it (devices | head).",
    )
    p.add_argument("--json", action="store_true",
                   help='print the list as JSON (with --forget-backends: {"forgotten": N, "file": PATH})')
    p.add_argument("--forget-backends", action="store_true",
                   help="forget which backend --backend auto measured fastest for each model: each is measured "
                        "again at its next use (after a measurement on a busy machine)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run `sr-desktop devices`: print the devices and library versions (JSON with `--json`); returns 0."""
    from sr_desktop.engine.models.backends.inventory import compute_devices, library_versions

    if args.forget_backends:
        from sr_desktop.engine.core.text import counted
        from sr_desktop.engine.models.backends.choose import choices_file, forget_measurements

        forgotten = forget_measurements()
        if args.json:  # (it printed the sentence, which a script reading JSON could not parse)
            print(json.dumps({"forgotten": forgotten, "file": str(choices_file())}, indent=2))
        else:
            print(f"forgot {counted(forgotten, 'measured backend choice')} ({choices_file()})")
        return 0
    found, versions = compute_devices(), library_versions()
    if args.json:
        print(json.dumps({"devices": [d.to_json() for d in found], "libraries": versions}, indent=2))
        return 0
    width = max(len(d.device) for d in found)
    for d in found:
        line = f"{d.device:<{width}}  {d.name}" + (f"  — {d.runs}" if d.available else "  (not available)")
        print(line)
    print("libraries: " + ", ".join(f"{name} {version or 'not installed'}" for name, version in versions.items()))
    return 0
