"""The files of one drop or File ▸ Open in the main window (`opening.ImageOpener`): how many
were given, those still to try, those that could not be opened and why, and the summary line
told of them ("2 of 3 files could not be opened: …")."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: how many failed files the summary line names before "and N more"
SUMMARY_NAMES = 3


@dataclass
class OpenBatch:
    """The files of one drop or Open: how many were given, those still to try if the one
    being read fails, and (name, reason) of each that could not be opened."""

    total: int
    waiting: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    #: the image files of the batch (the filmstrip's thumbnails find the broken ones the
    #: reading never reached, after the first good file)
    files: list[Path] = field(default_factory=list)
    failed: set[Path] = field(default_factory=set)
    shown: str = ""  # the summary last put in the message bar
    #: `files` for membership (asked for each thumbnail: the list made a large drop quadratic)
    file_set: frozenset[Path] = field(init=False)

    def __post_init__(self) -> None:
        self.file_set = frozenset(self.files)

    def add_failure(self, path: Path, reason: str) -> bool:
        """Count ``path`` as not opened (False if it already was)."""
        if path in self.failed:
            return False
        self.failed.add(path)
        self.failures.append((path.name, reason))
        return True

    def summary(self) -> str:
        """"2 of 3 files could not be opened: a.txt (not a supported image type), …"."""
        names = [f"{name} ({reason})" for name, reason in self.failures[:SUMMARY_NAMES]]
        more = len(self.failures) - SUMMARY_NAMES
        if more > 0:
            names.append(f"and {more} more")
        count = len(self.failures)
        head = (f"{count} of {self.total} files could not be opened" if self.total > 1
                else "Cannot open")
        return f"{head}: {', '.join(names)}"

    def details(self) -> str:
        """One line per file that could not be opened, with the whole reason."""
        return "\n".join(f"{name}: {reason}" for name, reason in self.failures)
