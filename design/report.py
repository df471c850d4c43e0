"""Pictures and tables of the design results, drawn with PIL (no matplotlib).

- `fig5_sheet`: the paper's Fig. 5, per query the top real items next to
  the top generated images, each labelled with its preference score.
- `fig6_sheet`: the paper's Fig. 6, per user the prototype, its l1
  approximation and the tailored images at iterations 0, 10, ..., 50.
- `line_panels`: small line plots side by side (Fig. 3's eta sweep).
- `tile_grid`: rows of captioned image tiles (both sheets; `eval.gan_report`'s
  recall figure).
- `markdown_table`, `mean_std`: the Markdown of Table IV.
- `write_png`: an RGB array to a PNG file, atomically.

Images are float in [-1, 1] or uint8, with 1 or 3 channels.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np

from common import runtime
from common.images import grey_to_rgb, to_uint8

_WHITE = (255, 255, 255)
_BLACK = (0, 0, 0)
_GREY = (110, 110, 110)
_COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14))


def _tile(image: np.ndarray, size: int):
    from PIL import Image

    return Image.fromarray(grey_to_rgb(to_uint8(image))).resize((size, size), Image.NEAREST)


def tile_grid(
    rows: Sequence[Sequence[tuple[np.ndarray, str]]],
    row_labels: Sequence[str],
    headers: Sequence[str],
    tile: int,
    label_width: int,
    gaps_after: Sequence[int] = (),
) -> np.ndarray:
    """Rows of (image, caption) tiles with row labels and column headers.

    Args:
      rows: per row, its (image, caption) tiles; images float in [-1, 1] or
        uint8, [H, W, 1 or 3]; rows may differ in length.
      row_labels: one per row; "\n" breaks a label into lines.
      headers: column headers (may be empty).
      tile: pixels of a tile's side (nearest-neighbour scaling).
      label_width: pixels left of the first column for the row labels.
      gaps_after: columns followed by a wider gap (separating groups).

    Returns:
      uint8 [height, width, 3] RGB picture.
    """
    from PIL import Image, ImageDraw

    cols = max(len(r) for r in rows) if rows else 0
    gap, caption, header = 6, 14, 16
    extra = 3 * gap * len(gaps_after)
    width = label_width + cols * (tile + gap) + extra
    height = header + len(rows) * (tile + caption + gap)
    canvas = Image.new("RGB", (max(width, 1), max(height, 1)), _WHITE)
    draw = ImageDraw.Draw(canvas)

    def left_of(col):
        return label_width + col * (tile + gap) + 3 * gap * sum(col > g for g in gaps_after)

    for col, text in enumerate(headers):
        draw.text((left_of(col) + 2, 2), text, fill=_BLACK)
    for r, (row, label) in enumerate(zip(rows, row_labels, strict=True)):
        top = header + r * (tile + caption + gap)
        for i, line in enumerate(str(label).split("\n")):
            draw.text((4, top + tile // 2 - 12 + 12 * i), line, fill=_BLACK)
        for col, (image, text) in enumerate(row):
            canvas.paste(_tile(image, tile), (left_of(col), top))
            draw.text((left_of(col) + 2, top + tile + 1), text, fill=_GREY)
    return np.asarray(canvas)


def fig5_sheet(
    real_images: np.ndarray,
    real_scores: np.ndarray,
    generated_images: np.ndarray,
    generated_scores: np.ndarray,
    row_labels: Sequence[str],
    tile: int = 96,
) -> np.ndarray:
    """Fig. 5: per query, k real images (left) and k generated ones (right).

    Args:
      real_images: [Q, k, H, W, C] (e.g. delta(u, c)'s items).
      real_scores: [Q, k] their preference scores.
      generated_images: [Q, k', R, R, C] (delta-hat(u, c)'s images).
      generated_scores: [Q, k'] their preference scores.
      row_labels: Q labels, e.g. "user 7\\nwomen_tops".
      tile: pixel side of each shown image.

    Returns:
      uint8 [height, width, 3].
    """
    k, k2 = real_images.shape[1], generated_images.shape[1]
    rows = [
        [(real_images[q, i], f"{real_scores[q, i]:.3f}") for i in range(k)]
        + [(generated_images[q, i], f"{generated_scores[q, i]:.3f}") for i in range(k2)]
        for q in range(len(real_images))
    ]
    headers = [f"real #{i + 1}" for i in range(k)] + [f"generated #{i + 1}" for i in range(k2)]
    return tile_grid(rows, row_labels, headers, tile, label_width=110, gaps_after=(k - 1,))


def fig6_sheet(
    query_image: np.ndarray,
    query_scores: np.ndarray,
    images: np.ndarray,
    scores: np.ndarray,
    steps: Sequence[int],
    row_labels: Sequence[str],
    tile: int = 96,
) -> np.ndarray:
    """Fig. 6: per user, the prototype, then the images kept during the ascent.

    Args:
      query_image: [H, W, C], the prototype item's image.
      query_scores: [U], each user's score of the prototype.
      images: [U, T, R, R, C]; images[:, 0] is the l1 approximation.
      scores: [U, T] preference scores of the kept images.
      steps: T iteration numbers (0, 10, ..., 50).
      row_labels: U labels.
      tile: pixel side of each shown image.

    Returns:
      uint8 [height, width, 3].
    """
    rows = [
        [(query_image, f"{query_scores[u]:.3f}")]
        + [(images[u, t], f"{scores[u, t]:.3f}") for t in range(images.shape[1])]
        for u in range(len(images))
    ]
    headers = ["prototype"] + [("l1 approx" if s == 0 else f"iter {s}") for s in steps]
    return tile_grid(rows, row_labels, headers, tile, label_width=90, gaps_after=(0,))


def _nice(value: float, span: float | None = None) -> str:
    """A tick label with enough decimals to tell ticks `span` apart."""
    if span is not None and span > 0 and abs(value) < 1e5:
        decimals = int(min(max(0, math.ceil(-math.log10(span)) + 1), 6))
        text = f"{value:.{decimals}f}"
        # A value that rounds to zero from below would read "-0.0".
        return text[1:] if text.startswith("-") and float(text) == 0 else text
    if value == 0 or 1e-2 <= abs(value) < 1e4:
        return f"{value:.3g}"
    return f"{value:.1e}"


def line_panels(
    x: Sequence[float],
    panels: Sequence[tuple[str, Sequence[tuple[str, Sequence[float], Sequence[float] | None]]]],
    xlabel: str,
    log_x: bool = False,
    size: tuple[int, int] = (300, 220),
) -> np.ndarray:
    """Line plots side by side, one per panel, with optional +- bands.

    Series that coincide stay visible: each later series is drawn under the
    earlier ones and wider.

    Args:
      x: the shared x values (positive when log_x; a 0 is drawn at the
        left edge, labelled 0).
      panels: (title, [(series name, y values, y std or None), ...]); PIL's
        default font draws ASCII only, so keep names and titles ASCII.
      xlabel: the x axis label.
      log_x: logarithmic x axis.
      size: (width, height) of one panel in pixels.

    Returns:
      uint8 [height, width, 3].
    """
    from PIL import Image, ImageDraw

    w, h = size
    ml, mr, mt, mb = 58, 16, 22, 40
    canvas = Image.new("RGB", (w * len(panels), h), _WHITE)
    draw = ImageDraw.Draw(canvas)
    x = np.asarray(x, np.float64)
    if log_x:
        positive = x[x > 0]
        lo = np.log10(positive.min()) if len(positive) else 0.0
        step = np.log10(positive.max()) - lo if len(positive) > 1 else 1.0
        xs = np.where(x > 0, np.log10(np.maximum(x, 1e-300)), lo - 0.25 * max(step, 1.0))
    else:
        xs = x
    x0, x1 = xs.min(), xs.max()
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    for p, (title, series) in enumerate(panels):
        left = p * w
        values = [
            np.asarray(y, np.float64) + s * np.nan_to_num(np.asarray(e if e is not None else 0))
            for _, y, e in series
            for s in (-1, 1)
        ]
        finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.zeros(0)
        y0, y1 = (finite.min(), finite.max()) if len(finite) else (0.0, 1.0)
        if y1 - y0 < 1e-12:
            y0, y1 = y0 - 0.5, y1 + 0.5
        pad = 0.05 * (y1 - y0)
        y0, y1 = y0 - pad, y1 + pad
        if len(series) > 1:
            # Headroom for the legend's lines, so that no line or point runs under them.
            legend = 12 * len(series) + 6
            y1 += (y1 - y0) * legend / max(h - mt - mb - legend, 1)

        def px(xv, yv, left=left, y0=y0, y1=y1):
            return (
                left + ml + (xv - x0) / (x1 - x0) * (w - ml - mr),
                mt + (1 - (yv - y0) / (y1 - y0)) * (h - mt - mb),
            )

        draw.rectangle([left + ml, mt, left + w - mr, h - mb], outline=_BLACK)
        draw.text((left + ml, 4), title, fill=_BLACK)
        for frac in (0.0, 0.5, 1.0):
            yv = y0 + frac * (y1 - y0)
            _, yy = px(x0, yv)
            draw.text((left + 2, yy - 6), _nice(yv, y1 - y0), fill=_GREY)
        for xv, xsv in zip(x, xs, strict=True):
            xx, _ = px(xsv, y0)
            draw.line([xx, h - mb, xx, h - mb + 4], fill=_BLACK)
            draw.text((xx - 8, h - mb + 6), _nice(xv), fill=_GREY)
        draw.text((left + ml + (w - ml - mr) // 2 - 3 * len(xlabel), h - 14), xlabel, fill=_BLACK)
        # The first series is drawn last and thinnest, each later one under it and
        # wider, so that coinciding series (a design curve on a reference line,
        # two references at the same value) all stay visible, as nested bands.
        for s in reversed(range(len(series))):
            name, y, err = series[s]
            colour = _COLOURS[s % len(_COLOURS)]
            y = np.asarray(y, np.float64)
            pts = [px(a, b) for a, b in zip(xs, y, strict=True) if np.isfinite(b)]
            if err is not None:
                for a, b, e in zip(xs, y, np.asarray(err, np.float64), strict=True):
                    if np.isfinite(b) and np.isfinite(e):
                        (xx, ya), (_, yb) = px(a, b - e), px(a, b + e)
                        draw.line([xx, ya, xx, yb], fill=colour)
            if len(pts) > 1:
                draw.line(pts, fill=colour, width=2 + 2 * s)
            radius = 3 + s
            for xx, yy in pts:
                draw.ellipse([xx - radius, yy - radius, xx + radius, yy + radius], fill=colour)
            if len(series) > 1:
                draw.text((left + ml + 4, mt + 4 + 12 * s), name, fill=colour)
    return np.asarray(canvas)


def mean_std(values) -> tuple[float, float]:
    """(mean, std) of finite values; (nan, nan) when there are none."""
    values = np.asarray(values, np.float64).reshape(-1)
    values = values[np.isfinite(values)]
    if not len(values):
        return math.nan, math.nan
    return float(values.mean()), float(values.std())


def fmt_mean_std(mean: float, std: float, digits: int = 4) -> str:
    """ "mean +- std" for Markdown ("n/a" when unavailable)."""
    if mean is None or not np.isfinite(mean):
        return "n/a"
    return f"{mean:.{digits}f} ± {std:.{max(digits - 2, 2)}f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub Markdown table."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---" for _ in headers) + " |",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def png_bytes(picture: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(picture, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def write_png(path: str, picture: np.ndarray) -> str:
    """Writes uint8 [H, W, 3] as a PNG at `path` (atomically)."""
    runtime.atomic_write_bytes(path, png_bytes(picture))
    return path
