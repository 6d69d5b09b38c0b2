"""Sharing a run: save_html's self-contained page and save_gif's animation, without a browser."""

import base64
import json
import re
import sys
from html.parser import HTMLParser

import numpy as np
import pytest

import nnviz_widgets as nv
from nnviz_widgets.recording import INPUT, Recording, SnapshotData
from nnviz_widgets.render.png import decode_png
from nnviz_widgets.widgets.explorer import TrainingExplorer
from nnviz_widgets.widgets.explorer.frame_cache import FrameCache
from nnviz_widgets.widgets.explorer.selection import Selection
from nnviz_widgets.widgets.share import progress as share_progress
from tests.test_explorer import _declare, _snapshot

HOSTILE = "</script><script>window.pwned=1</script><img src=x onerror=alert(1)>"


@pytest.fixture
def recording(rng):
    recording = Recording()
    _declare(recording)
    for epoch in range(5):
        recording.append_snapshot(_snapshot(rng, epoch))
    return recording


@pytest.fixture
def explorer(recording):
    explorer = TrainingExplorer(recording)
    yield explorer
    explorer.close(widget=True)


def page_data(html: str) -> dict:
    """The JSON the page's script reads."""
    found = re.search(r'<script type="application/json" id="share-data">(.*?)</script>', html, re.S)
    assert found, "the page has no data block"
    return json.loads(found.group(1))


class _Markup(HTMLParser):
    """The tags of a page, and the text of its scripts and style sheets."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.code: list[str] = []
        self._in_code = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_code = tag in ("script", "style")

    def handle_endtag(self, tag):
        self._in_code = False

    def handle_data(self, data):
        if self._in_code:
            self.code.append(data)


def external_references(html: str) -> list[str]:
    """Every way the page could load something that is not in the file: a tag's src, href and
    the like other than a data: URI, a url(...) or @import in a style, an import, fetch or
    request in a script, any http(s) address in code, and any data: URI the script would set
    that is not a PNG."""
    markup = _Markup()
    markup.feed(html)
    found = [
        f"<{tag} {name}={value}>"
        for tag, attrs in markup.tags
        for name, value in attrs.items()
        if name in ("src", "href", "action", "poster", "srcset", "data", "formaction")
        and not (value or "").startswith("data:")
    ]
    found += [f"<{tag}>" for tag, _ in markup.tags if tag in ("link", "iframe", "object", "embed")]
    code = "\n".join(markup.code)
    found += re.findall(r"url\(|@import|\bimport\b|\bfetch\s*\(|XMLHttpRequest|https?:", code)
    data = page_data(html)
    uris = [data["bars"][name] for name in data["bars"]]
    uris += [f["png"] for view in data["views"] for f in view["frames"] if "png" in f]
    found += [uri[:40] for uri in uris if not uri.startswith("data:image/png;base64,")]
    return found


def test_page_is_self_contained_and_holds_every_snapshot(explorer, recording, tmp_path):
    saved = explorer.save_html(tmp_path / "run.html", layers=["conv", "fc"])
    html = (tmp_path / "run.html").read_text("utf-8")
    assert external_references(html) == []
    assert "default-src 'none'" in html  # and the browser is told to load nothing
    assert html.count("<div class='views'>") == 1  # one row of cards (a comparison: one a view)
    data = page_data(html)
    assert len(data["snapshots"]) == len(recording) == 5
    assert [s["line"].split(" \u00b7 ")[0] for s in data["snapshots"]] == [
        f"epoch {e}" for e in range(5)
    ]
    assert [view["name"] for view in data["views"]] == ["conv \u00b7 weight", "fc \u00b7 weight"]
    assert saved.size == (tmp_path / "run.html").stat().st_size
    assert saved.snapshots == (0, 1, 2, 3, 4)
    assert "run.html" in str(saved) and "2 views x 5 snapshots" in str(saved)


def test_pictures_are_the_explorers_own(explorer, recording, tmp_path):
    """Same render path: the page's PNG is byte for byte the one the explorer shows."""
    explorer.save_html(tmp_path / "run.html", layers="fc")
    data = page_data((tmp_path / "run.html").read_text("utf-8"))
    cache = FrameCache(recording, (400, 450))
    for index, frame in enumerate(data["views"][0]["frames"]):
        prepared = cache.prepare(Selection(layer="fc", quantity="weight", index=index, sample=-1))
        assert base64.b64decode(frame["png"].split(",", 1)[1]) == prepared.png
        assert (frame["low"], frame["high"]) == pytest.approx(prepared.limits[:2])
        values = np.frombuffer(base64.b64decode(frame["values"]), "<f4")
        np.testing.assert_array_equal(values.reshape(5, 20), prepared.reduced.values)
        assert decode_png(prepared.png).shape[:2] == (5, 20)
    cache.close()


def test_snapshots_layers_and_quantities_choose_what_goes_in(explorer, tmp_path):
    explorer.save_html(
        tmp_path / "a.html", snapshots=[0, -1], quantities=["weight", "weight_grad"], layers="fc"
    )
    data = page_data((tmp_path / "a.html").read_text("utf-8"))
    assert [s["line"].split(" \u00b7 ")[0] for s in data["snapshots"]] == ["epoch 0", "epoch 4"]
    assert [view["name"] for view in data["views"]] == ["fc \u00b7 weight", "fc \u00b7 weight_grad"]
    explorer.save_html(tmp_path / "b.html", snapshots=slice(1, None, 2), layers="all")
    data = page_data((tmp_path / "b.html").read_text("utf-8"))
    assert len(data["snapshots"]) == 2
    assert [view["name"].split(" \u00b7 ")[0] for view in data["views"]] == [
        "input",
        "conv",
        "relu",
        "fc",
    ]


def test_wrong_choices_say_what_exists(explorer, tmp_path, recording):
    with pytest.raises(ValueError, match=r"unknown layer 'fcc'.*did you mean 'fc'"):
        explorer.save_html(tmp_path / "x.html", layers=["fcc"])
    with pytest.raises(ValueError, match=r"out of range.*5 snapshot"):
        explorer.save_html(tmp_path / "x.html", snapshots=[7])
    with pytest.raises(
        ValueError,
        match=r"none of the layers chosen has.*\['bias'\]; they have: 'weight', 'activation'",
    ):
        explorer.save_html(tmp_path / "x.html", layers="conv", quantities="bias")
    with pytest.raises(ValueError, match=r"quantities \['weigth_grad'\]; they have: 'weight', "):
        explorer.save_html(tmp_path / "x.html", layers="fc", quantities=["weight", "weigth_grad"])
    with pytest.raises(ValueError, match="nothing to share"):
        nv.save_html(Recording(), tmp_path / "x.html")
    with pytest.raises(TypeError, match=r"explorer.save_html\(path\)"):
        nv.save_html(explorer, tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


def test_a_hostile_layer_name_is_text_not_markup(tmp_path, rng):
    recording = Recording()
    recording.set_layers({HOSTILE: {"type": "Linear", "calls": 1}})
    for epoch in range(2):
        recording.append_snapshot(
            SnapshotData(
                epoch=epoch,
                step=epoch,
                frames={(HOSTILE, "weight"): rng.normal(size=(3, 4))},
                metrics={HOSTILE: float(epoch)},
            )
        )
    saved = nv.save_html(recording, tmp_path / "evil.html", title=HOSTILE)
    html = (tmp_path / "evil.html").read_text("utf-8")
    assert HOSTILE not in html
    assert html.count("<script") == 2  # the data block and the page's own script, no other
    assert html.count("</script>") == 2
    assert external_references(html) == []
    markup = _Markup()
    markup.feed(html)
    assert [tag for tag, attrs in markup.tags if any(a.startswith("on") for a in attrs)] == []
    assert page_data(html)["views"][0]["name"] == f"{HOSTILE} \u00b7 weight"  # intact as data
    assert "&lt;/script&gt;" in html  # the title and the metric's name, escaped
    assert saved.size > 0


def test_size_is_bounded(explorer, tmp_path):
    with pytest.raises(ValueError, match=r"max_bytes=20,000.*snapshots=slice") as raised:
        explorer.save_html(tmp_path / "big.html", layers="all", max_bytes=20_000)
    assert "per snapshot: " in str(raised.value)
    assert not (tmp_path / "big.html").exists()
    saved = explorer.save_html(tmp_path / "ok.html", layers="all", max_bytes=200_000)
    assert saved.size <= 200_000
    with pytest.raises(ValueError, match="max_bytes= takes a whole number"):
        explorer.save_html(tmp_path / "x.html", max_bytes=-1)


def test_values_of_large_pictures_are_not_embedded(tmp_path, rng):
    recording = Recording()
    recording.set_layers({"big": {"type": "Linear", "calls": 1}})
    recording.append_snapshot(
        SnapshotData(epoch=0, step=0, frames={("big", "weight"): rng.normal(size=(300, 300))})
    )
    saved = nv.save_html(recording, tmp_path / "big.html")
    frame = page_data((tmp_path / "big.html").read_text("utf-8"))["views"][0]["frames"][0]
    assert frame["values"] is None
    assert frame["values_note"].startswith("values not embedded (90,000 cells")
    assert any("values not embedded for 1 of 1" in note for note in saved.notes)
    saved = nv.save_html(recording, tmp_path / "big.html", max_values=100_000)
    frame = page_data((tmp_path / "big.html").read_text("utf-8"))["views"][0]["frames"][0]
    assert len(base64.b64decode(frame["values"])) == 4 * 300 * 300


def test_progress_bar_in_a_kernel(explorer, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(share_progress, "_in_kernel", lambda: True)
    monkeypatch.setattr("IPython.display.display", shown.append)
    monkeypatch.setattr(share_progress, "MIN_PICTURES", 4)
    explorer.save_html(tmp_path / "p.html", layers="all")
    (box,) = shown
    bar, label = box.children
    assert bar.value == bar.max == 20 and label.value.startswith("20 of 20 pictures")
    assert box.comm is None  # closed when done


# ---------------------------------------------------------------------------- GIF
def test_gif_has_a_frame_per_snapshot_one_size(explorer, recording, tmp_path):
    from PIL import Image

    explorer.layer = "fc"
    saved = explorer.save_gif(tmp_path / "fc.gif", duration=0.25, size=200)
    with Image.open(tmp_path / "fc.gif") as gif:
        assert gif.n_frames == len(recording) == 5
        assert gif.info["duration"] == 250 and gif.info["loop"] == 0
        width, height = gif.size
        assert 200 <= width <= 600 and height <= 600
        first = np.asarray(gif.convert("RGB"))
        gif.seek(4)
        last = np.asarray(gif.convert("RGB"))
    assert first.shape == last.shape and not np.array_equal(first, last)
    assert saved.views == ("fc \u00b7 weight",) and saved.snapshots == (0, 1, 2, 3, 4)
    saved = explorer.save_gif(tmp_path / "two.gif", snapshots=[1, 3])
    with Image.open(tmp_path / "two.gif") as gif:
        assert gif.n_frames == 2


def test_gif_bounds_and_errors(explorer, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"max_bytes=1,000.*smaller size="):
        explorer.save_gif(tmp_path / "x.gif", max_bytes=1000)
    with pytest.raises(ValueError, match="size= takes"):
        explorer.save_gif(tmp_path / "x.gif", size=10_000)
    with pytest.raises(ValueError, match="duration= takes"):
        explorer.save_gif(tmp_path / "x.gif", duration=0)
    with pytest.raises(ValueError, match="one view"):
        explorer.save_gif(tmp_path / "x.gif", layer=["conv", "fc"])
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r'pip install "nnviz_widgets\[export\]"'):
        explorer.save_gif(tmp_path / "x.gif")
    assert not (tmp_path / "x.gif").exists()


def test_nv_save_gif_from_a_recording(recording, tmp_path):
    from PIL import Image

    nv.save_gif(recording, tmp_path / "r.gif", layer=INPUT, snapshots=slice(0, 3))
    with Image.open(tmp_path / "r.gif") as gif:
        assert gif.n_frames == 3


def test_cells_name_their_place_in_the_tensor(explorer, tmp_path):
    """The readout names quantity[i, j, ...] as the explorer does: the page keeps, per view,
    where each cell of an unreduced picture comes from (-1 on the gaps of a mosaic)."""
    explorer.save_html(tmp_path / "k.html", layers="conv")
    view = page_data((tmp_path / "k.html").read_text("utf-8"))["views"][0]
    assert view["quantity"] == "weight" and view["cells"]["shape"] == [7, 7, 4]
    table = np.frombuffer(base64.b64decode(view["cells"]["data"]), "<i2").reshape(7, 7, 4)
    assert table[1, 5].tolist() == [1, 0, 1, 1]  # kernel 1, row 1, column 1
    assert (table[:, 3] == -1).all() and (table[3, :] == -1).all()  # the gaps between tiles
    assert table[6, 6].tolist() == [3, 0, 2, 2]
