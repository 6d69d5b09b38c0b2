"""The explorer's lines of text: the pointer readout, the NaN/Inf line, titles and errors.

Each function returns HTML for an ``ipywidgets.HTML`` (or plain text for a figure title);
nothing here touches a widget.
"""

from __future__ import annotations

import re
import traceback

import numpy as np

from nnviz_widgets.render.colour import (
    NAN_COLOUR,
    NEG_INF_COLOUR,
    POS_INF_COLOUR,
    describe_nonfinite,
)
from nnviz_widgets.render.layout import Picture

__all__ = [
    "epoch_line",
    "error_line",
    "escape",
    "layout_line",
    "nonfinite_line",
    "picture_title",
    "quiet",
    "readout_text",
    "strip_tags",
]

#: The colour of warnings and errors: JupyterLab's error colour (a darker red on the light theme,
#: a lighter one on the dark: over 4.5:1 on both), a dark red where the page has no theme.
WARNING_RED = "var(--jp-error-color1, #b00020)"
#: Secondary text: JupyterLab's own secondary font colour (grey on light and dark themes alike),
#: a fixed grey where the page has no theme.
QUIET_COLOUR = "var(--jp-ui-font-color2, #616161)"


def escape(text: str) -> str:
    """``text`` safe to put in HTML."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quiet(html: str) -> str:
    """``html`` as secondary text (grey, readable on light and dark themes)."""
    return f"<span style='color:{QUIET_COLOUR}'>{html}</span>"


def strip_tags(html: str) -> str:
    """A line of our HTML as plain text (for the footer of an exported PNG)."""
    text = re.sub(r"<[^>]+>", "", html)
    for entity, char in (("&#9888;", "!"), ("&#9632;", ""), ("&lt;", "<"), ("&gt;", ">")):
        text = text.replace(entity, char)
    return text.replace("&amp;", "&").strip()


def error_line(what: str, error: BaseException) -> str:
    """A red line saying what failed and the exception's own words."""
    detail = "".join(traceback.format_exception_only(type(error), error)).strip()
    return f"<span style='color:{WARNING_RED}'>&#9888; {what}: {escape(detail)}</span>"


def _hex(colour: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


def nonfinite_line(frame: np.ndarray, text: str | None = None) -> str:
    """How many NaN and Inf values ``frame`` has, where (or ``text`` saying it), and the colours
    they are drawn in; empty when every value is finite."""
    text = describe_nonfinite(frame) if text is None else text
    if not text:
        return ""
    return (
        f"<span style='color:{WARNING_RED}'>&#9888; {escape(text)}</span>: NaN drawn in "
        f"<span style='color:{_hex(NAN_COLOUR)}'>&#9632; magenta</span>, +Inf in "
        f"<span style='color:{_hex(POS_INF_COLOUR)}'>&#9632; black</span>, -Inf in "
        f"<span style='color:{_hex(NEG_INF_COLOUR)}'>&#9632; grey</span>"
    )


def picture_title(layer_label: str, quantity: str, epoch: float, reduced: Picture) -> str:
    """The heatmap's title: what is shown, at which epoch, and how it was reduced to fit."""
    title = f"{layer_label} \u00b7 {quantity} \u00b7 epoch {epoch:g}"
    if reduced.reduced:
        full_rows, full_columns = reduced.full_shape
        title += (
            f" \u00b7 reduced {full_rows}x{full_columns} to "
            f"{reduced.values.shape[0]}x{reduced.values.shape[1]} "
            f"(block mean of {reduced.reduction[0]}x{reduced.reduction[1]})"
        )
    return title


def epoch_line(epoch: float, index: int, count: int, step: int) -> str:
    """The line beside the slider: the epoch, the snapshot's place, the training step."""
    return f"<b>epoch {epoch:g}</b> &middot; snapshot {index + 1} of {count} &middot; step {step}"


def layout_line(layout: str, note: str | None, colours: str = "") -> str:
    """How the frame was laid out, how it was reduced when recorded (if it was), and which
    colour range it is shown in (``colours``, if given)."""
    text = layout + (f"; recorded as: {note}" if note else "") + (f"; {colours}" if colours else "")
    return quiet(escape(text))


def readout_text(
    picture: Picture, quantity: str, row: int, column: int, row_end: int, column_end: int
) -> str:
    """The value under the pointer, cells ``[row:row_end, column:column_end]`` of ``picture``:
    one value with its index in the tensor, or a block's mean, min and max."""
    if picture.gaps is not None:
        cells = np.argwhere(~picture.gaps[row:row_end, column:column_end])
        if len(cells) == 1:  # a block holding one cell and gaps: read that cell
            row, column = row + int(cells[0][0]), column + int(cells[0][1])
            row_end, column_end = row + 1, column + 1
    if row_end - row == 1 and column_end - column == 1:
        where = picture.locate(row, column)
        if where is None:
            return f"row {row}, column {column}: gap between tiles"
        value = float(picture.values[row, column])
        index = ", ".join(str(int(i)) for i in where)
        return f"row {row}, column {column} &rarr; {quantity}[{index}] = <b>{value:.6g}</b>"
    block = picture.values[row:row_end, column:column_end]
    if picture.gaps is not None:
        block = block[~picture.gaps[row:row_end, column:column_end]]
    finite = block[np.isfinite(block)]
    text = (
        f"rows {row}&ndash;{row_end - 1}, columns {column}&ndash;{column_end - 1} "
        f"({block.size} values)"
    )
    if finite.size:
        text += f": mean <b>{finite.mean():.4g}</b>, min {finite.min():.4g}, max {finite.max():.4g}"
    if finite.size < block.size:
        text += f", {block.size - finite.size} NaN/Inf"
    return text
