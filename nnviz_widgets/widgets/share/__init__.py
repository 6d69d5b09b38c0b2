"""Sharing a run: a self-contained HTML page (``save_html``) and an animated GIF (``save_gif``).

Both draw through the explorer's own frame cache, so a shared picture has the colours and
ranges of the one on screen (``docs/explorer.md``, "Sharing a run").
"""

from nnviz_widgets.widgets.share.gif import save_gif, write_gif
from nnviz_widgets.widgets.share.html import save_html, write_html
from nnviz_widgets.widgets.share.progress import SavedFile

__all__ = ["SavedFile", "save_gif", "save_html", "write_gif", "write_html"]
