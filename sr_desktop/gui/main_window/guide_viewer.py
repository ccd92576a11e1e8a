"""Help ▸ Documentation: the guides (``docs/*.md``) read in the app — the list of guides
beside the one chosen, rendered from its Markdown. A link to another guide opens it in
place; a web link opens in the browser. (The menu opened the guides' folder in the file
viewer: a list of file names, each to be opened in whatever program took ``.md``.)"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QImage, QTextDocument
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from sr_desktop.gui.file_urls import file_url
from sr_desktop.gui.widgets import resize_within_screen

#: the guides in the order a person reads them: the window first, the design last; any
#: other guide follows in name order
READING_ORDER = ("gui.md", "models.md", "formats.md", "training.md", "benchmarks.md", "literature.md",
                 "kernelgan.md", "backends.md", "community.md", "cluster.md", "ARCHITECTURE.md")
FIRST_GUIDE = READING_ORDER[0]
#: a guide's screenshots are drawn at most this wide (px), and no wider than the page: at
#: their own size (1,600 px) the text beside them scrolled sideways
PICTURE_WIDTH = 640


def guide_title(path: Path) -> str:
    """The guide's first ``# `` heading, else its file name without ``.md``."""
    try:
        with path.open(encoding="utf-8") as text:
            for line in text:
                if line.startswith("# "):
                    return line[2:].strip()
    except (OSError, UnicodeDecodeError):
        pass
    return path.stem


def list_guides(docs_dir: Path) -> list[Path]:
    """The ``.md`` guides in `docs_dir`, in `READING_ORDER`."""
    rank = {name: i for i, name in enumerate(READING_ORDER)}
    return sorted(docs_dir.glob("*.md"), key=lambda p: (rank.get(p.name, len(rank)), p.name.lower()))


class GuideBrowser(QTextBrowser):
    """A `QTextBrowser` that draws pictures scaled down to the page, at most `PICTURE_WIDTH`."""

    def loadResource(self, kind: int, name: QUrl):
        if kind == QTextDocument.ResourceType.ImageResource.value and name.isLocalFile():
            image = QImage(name.toLocalFile())
            if image.isNull():
                return super().loadResource(kind, name)
            width = min(PICTURE_WIDTH, self.viewport().width() - 2 * round(self.document().documentMargin()) - 4)
            if image.width() > width > 0:
                image = image.scaledToWidth(width, Qt.TransformationMode.SmoothTransformation)
            return image
        return super().loadResource(kind, name)


class GuideViewer(QDialog):
    """Non-modal reader of the guides in `docs_dir`: a list and a `QTextBrowser`."""

    def __init__(self, docs_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("SR Desktop guides")
        self.setModal(False)
        self.docs_dir = docs_dir
        self.guide_list = QListWidget(self)
        self.guide_list.setAccessibleName("Guides")
        for path in list_guides(docs_dir):
            item = QListWidgetItem(guide_title(path))
            item.setData(Qt.ItemDataRole.UserRole, str(path.resolve()))
            item.setToolTip(f"{item.text()} ({path.name})")
            self.guide_list.addItem(item)
        self.guide_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # long titles: "…"
        self.guide_list.setMinimumWidth(min(self.guide_list.sizeHintForColumn(0) + 24, 260))
        self.browser = GuideBrowser(self)
        self.browser.setAccessibleName("Guide")
        # links are this viewer's to follow: another guide (or a place in this one) here, where
        # Qt reads ".md" as Markdown; anything else (a screenshot's PNG was shown as its bytes,
        # a web page) in the system's viewer
        self.browser.setOpenLinks(False)
        self.browser.anchorClicked.connect(self.follow_link)
        self.browser.sourceChanged.connect(self._select_listed)
        self.guide_list.currentItemChanged.connect(self._on_item_changed)
        splitter = QSplitter(self)
        splitter.addWidget(self.guide_list)
        splitter.addWidget(self.browser)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([self.guide_list.minimumWidth(), 700])
        folder = QPushButton("Open the folder")
        folder.setToolTip(str(docs_dir))
        folder.clicked.connect(lambda: QDesktopServices.openUrl(file_url(docs_dir)))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        foot = QHBoxLayout()
        foot.addWidget(folder)
        foot.addStretch(1)
        foot.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(foot)
        resize_within_screen(self, 960, 720)
        self.show_guide(FIRST_GUIDE)

    def show_guide(self, name: str) -> bool:
        """Show the guide file `name` (``"gui.md"``); False if there is none of that name."""
        path = self.docs_dir / name
        if not path.is_file():
            return False
        self.browser.setSource(QUrl.fromLocalFile(str(path.resolve())))
        return True

    def follow_link(self, url: QUrl) -> None:
        """A link clicked in the guide (resolved against it): a guide or a place in one shown
        here, anything else opened by the system."""
        if url.isLocalFile() and url.toLocalFile().lower().endswith(".md"):  # (its #place too)
            self.browser.setSource(url)
        else:
            QDesktopServices.openUrl(url)

    def shown_guide(self) -> str:
        """The file name of the guide shown (``""`` before any)."""
        return Path(self.browser.source().toLocalFile()).name

    def _on_item_changed(self, item: QListWidgetItem | None, _previous) -> None:
        if item is not None:
            path = Path(item.data(Qt.ItemDataRole.UserRole))
            if self.browser.source().toLocalFile() != str(path):
                self.browser.setSource(QUrl.fromLocalFile(str(path)))

    def _select_listed(self, url: QUrl) -> None:
        # a link followed to another guide: the list marks it (and Back/Forward keep it so)
        shown = url.toLocalFile()
        for row in range(self.guide_list.count()):
            item = self.guide_list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == shown:
                self.guide_list.blockSignals(True)
                self.guide_list.setCurrentItem(item)
                self.guide_list.blockSignals(False)
                return
