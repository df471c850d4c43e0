"""Product photos of `synthetic_fashion` items, drawn from their attributes.

Each item is a 64x64 (by default) RGB picture of one garment on a studio
background (see "Images" in `data.synthetic`). Items are drawn in blocks of
one type. Per-item parameters are float32 [B] arrays; the pixel grid is
split into x [B, 1, S] and y [B, S, 1] in the item's own frame (x right,
y down, [0, 1] before scaling), so that terms of one coordinate stay cheap
and only their sums are [B, S, S].
"""

from __future__ import annotations

import concurrent.futures
import os

import numpy as np

from data.synthetic.simulator import ItemAttributes

_F32 = np.float32


def _col(v) -> np.ndarray:
    """[B] parameters as [B, 1, 1] float32 for broadcasting against the grid."""
    return np.asarray(v, _F32)[:, None, None]


def _hsl_to_rgb(h, s, lum) -> np.ndarray:
    """HSL -> RGB: [B] arrays in [0, 1] -> [B, 3] float32 in [0, 1]."""
    h, s, lum = (np.asarray(v, _F32)[:, None] for v in (h, s, lum))
    k = (np.array([0.0, 8.0, 4.0], _F32) + h * 12.0) % 12.0
    a = s * np.minimum(lum, 1.0 - lum)
    return lum - a * np.clip(np.minimum(k - 3.0, 9.0 - k), -1.0, 1.0)


def _quad(b: int, *points) -> np.ndarray:
    """[B, K, 2] float32 vertices from K (x, y) pairs of scalars or [B] arrays."""
    out = np.empty((b, len(points), 2), _F32)
    for k, (px, py) in enumerate(points):
        out[:, k, 0] = px
        out[:, k, 1] = py
    return out


def _poly_sdf(x, y, verts) -> np.ndarray:
    """Signed distance to one convex polygon per item, negative inside.

    Exact inside and near edges; outside near sharp corners it is a
    lower bound (max of the edges' half-plane distances), which only matters
    for the 1-pixel outline.

    Args:
      x: [B, 1, S] and y: [B, S, 1] coordinates.
      verts: [B, K, 2] vertices, in order along the boundary (either way).

    Returns:
      [B, S, S] float32.
    """
    centre = verts.mean(axis=1)
    k_count = verts.shape[1]
    d = None
    for k in range(k_count):
        a, b = verts[:, k], verts[:, (k + 1) % k_count]
        nx, ny = b[:, 1] - a[:, 1], a[:, 0] - b[:, 0]
        norm = np.sqrt(nx * nx + ny * ny) + _F32(1e-9)
        # Point the normal away from the centroid, whatever the vertex order.
        sign = np.where(nx * (centre[:, 0] - a[:, 0]) + ny * (centre[:, 1] - a[:, 1]) > 0, -1, 1)
        nx, ny = sign * nx / norm, sign * ny / norm
        edge = (_col(nx) * x - _col(nx * a[:, 0] + ny * a[:, 1])) + _col(ny) * y
        d = edge if d is None else np.maximum(d, edge, out=d)
    return d


def _ellipse_sdf(x, y, cx, cy, rx, ry) -> np.ndarray:
    """Approximate signed distance to axis-aligned ellipses ([B] or scalar parameters)."""
    rx, ry = np.asarray(rx, _F32), np.asarray(ry, _F32)
    dx = (x - _F32(cx) if np.isscalar(cx) else x - _col(cx)) / (_col(rx) if rx.ndim else rx)
    dy = (y - _F32(cy) if np.isscalar(cy) else y - _col(cy)) / (_col(ry) if ry.ndim else ry)
    r = np.sqrt(dx * dx + dy * dy)
    r -= 1.0
    r *= _col(np.minimum(rx, ry)) if np.ndim(np.minimum(rx, ry)) else np.minimum(rx, ry)
    return r


def _where(mask, a, b) -> np.ndarray:
    """Per-item choice between two [B, S, S] arrays by a [B] bool mask."""
    return np.where(np.asarray(mask)[:, None, None], a, b)


def _is_women(a: ItemAttributes) -> np.ndarray:
    """bool [B]: women's items, the odd categories (AMAZON_FASHION_CATEGORIES order)."""
    return a.category % 2 == 1


def _top_shapes(x, y, a: ItemAttributes) -> dict:
    """Tops flat-laid from the front: torso, two sleeves, a neck opening."""
    b = len(a)
    women = _is_women(a).astype(_F32)
    sleeve, body = a.silhouette_a, a.silhouette_b
    c, sy, wy = 0.5, 0.2, 0.5  # centre, shoulder line, waist line
    sw = 0.21 - 0.045 * women  # half widths at the shoulders,
    ww = 0.19 - 0.06 * women  # the waist,
    hw = 0.195 - 0.035 * women + 0.07 * women * body  # and the hem (women's flare)
    hy = 0.70 + 0.16 * body - 0.04 * women * (1.0 - body)  # hem line
    upper = _poly_sdf(x, y, _quad(b, (c - sw, sy), (c + sw, sy), (c + ww, wy), (c - ww, wy)))
    # Pieces of a union overlap by a few pixels so that no seam shows.
    lower = _poly_sdf(
        x, y, _quad(b, (c - ww, wy - 0.04), (c + ww, wy - 0.04), (c + hw, hy), (c - hw, hy))
    )
    d = np.minimum(upper, lower)
    # Sleeves: parallelograms hanging from the shoulder seam, angled out,
    # reaching back into the torso and clipped at the shoulder line.
    length = 0.015 + 0.44 * sleeve
    angle = np.deg2rad(38.0 - 10.0 * sleeve)
    pit = 0.15 - 0.015 * women
    ux, uy = np.sin(angle), np.cos(angle)
    cuff = 0.02 * sleeve  # cuffs are narrower than the arm hole
    for side in (-1.0, 1.0):
        ax_, ay_ = c + side * sw, sy
        bx_, by_ = c + side * (sw + (ww - sw) * pit / (wy - sy)), sy + pit
        back = 0.05
        verts = _quad(
            b,
            (ax_ - side * ux * back, ay_ - uy * back),
            (ax_ + side * ux * length, ay_ + uy * length + cuff),
            (bx_ + side * ux * length, by_ + uy * length - cuff),
            (bx_ - side * ux * back, by_ - uy * back),
        )
        d = np.minimum(d, np.maximum(_poly_sdf(x, y, verts), sy - y))
    # Neck opening (men's round, women's deeper scoop) shows the inside back.
    neck = _ellipse_sdf(x, y, c, sy, 0.07 + 0.015 * women, 0.04 + 0.04 * women)
    inner = np.maximum(neck, (sy + 0.012) - y)
    return {"main": np.maximum(d, -neck), "inner": inner}


def _bottom_shapes(x, y, a: ItemAttributes) -> dict:
    """Trousers, shorts and skirts flat-laid from the front, with a waistband."""
    b = len(a)
    women = _is_women(a).astype(_F32)
    length, width = a.silhouette_a, a.silhouette_b
    c, wy, cy = 0.5, 0.12, 0.38  # centre, waist line, crotch line
    ww = 0.19 - 0.05 * women  # half width at the waist: women's is narrower
    hw = 0.2 + 0.01 * women  # at the hips
    # Trousers: hip block plus two legs, each a convex pentagon.
    hem = cy + 0.07 + length * (0.9 - cy - 0.07)
    # Half width of a leg at the hem: men's straight, women's skinny to flared.
    leg = (0.065 + 0.04 * width) * (1.0 - women) + (0.04 + 0.08 * width) * women
    gap = 0.012 + 0.02 * width
    d = _poly_sdf(x, y, _quad(b, (c - ww, wy), (c + ww, wy), (c + hw, cy), (c - hw, cy)))
    top = cy - 0.12  # legs start inside the hip block, on its sides
    top_w = ww + (hw - ww) * (top - wy) / (cy - wy)
    for side in (-1.0, 1.0):
        verts = _quad(
            b,
            (c + side * top_w, top),
            (c, top),
            (c, cy),
            (c + side * gap, hem),
            (c + side * (gap + 2 * leg), hem),
        )
        d = np.minimum(d, _poly_sdf(x, y, verts))
    if a.skirt.any():
        # Skirts: one trapezoid, mini to maxi, pencil to A-line.
        skirt_hem = 0.36 + 0.52 * length
        flare = ww + 0.02 + 0.2 * width
        skirt = _poly_sdf(
            x,
            y,
            _quad(b, (c - ww, wy), (c + ww, wy), (c + flare, skirt_hem), (c - flare, skirt_hem)),
        )
        d = _where(a.skirt, skirt, d)
    # Details in a darker shade: a waistband (a belt-wide one on men's), and
    # the fly seam of men's trousers.
    band_y = wy + 0.045 - 0.02 * women
    band = _poly_sdf(x, y, _quad(b, (c - ww, wy), (c + ww, wy), (c + ww, band_y), (c - ww, band_y)))
    fly = _poly_sdf(
        x,
        y,
        _quad(
            b,
            (c + 0.01, band_y),
            (c + 0.026, band_y),
            (c + 0.026, cy - 0.05),
            (c + 0.01, cy - 0.05),
        ),
    )
    band = _where((women == 0) & ~a.skirt, np.minimum(band, fly), band)
    return {"main": d, "part": np.maximum(band, d)}


def _shoe_shapes(x, y, a: ItemAttributes) -> dict:
    """Shoes and boots in side view, toe left: upper, lining, sole and heel."""
    b = len(a)
    women = _is_women(a)
    wf = women.astype(_F32)
    s_a, shaft = a.silhouette_a, a.silhouette_b
    boot = shaft >= 0.35
    g = 0.80  # ground line
    # Men: a flat sole whose thickness is silhouette_a. Women: a heel of
    # height silhouette_a, the sole rising from the ball of the foot to it.
    thick = np.where(women, 0.022, 0.03 + 0.05 * s_a).astype(_F32)
    heel = np.where(women, 0.03 + 0.2 * s_a, 0.0).astype(_F32)
    toe_x, back_x, ball_x = 0.12 + 0.04 * wf, 0.86 - 0.05 * wf, 0.42
    heel_top = g - heel  # underside of the sole at the heel
    fore = _poly_sdf(
        x,
        y,
        _quad(b, (toe_x + 0.03, g - thick), (ball_x, g - thick), (ball_x, g), (toe_x + 0.03, g)),
    )
    tip = _ellipse_sdf(x, y, toe_x + 0.035, g - thick / 2, 0.035, thick / 2 + 1e-3)
    arch = _poly_sdf(
        x,
        y,
        _quad(
            b,
            (ball_x - 0.02, g - thick),
            (back_x, heel_top - thick),
            (back_x, heel_top),
            (ball_x - 0.02, g),
        ),
    )
    # The heel: a block for men and low heels, tapering to a stiletto as it rises.
    top_w = np.where(women, 0.06 - 0.02 * s_a, 0.1)
    foot_w = np.where(women, 0.05 - 0.035 * s_a, 0.1)
    heel_block = _poly_sdf(
        x,
        y,
        _quad(
            b,
            (back_x - top_w, heel_top - thick),
            (back_x, heel_top - thick),
            (back_x - 0.005, g),
            (back_x - 0.005 - foot_w, g),
        ),
    )
    sole = np.minimum(np.minimum(fore, tip), np.minimum(arch, heel_block))
    # Upper: rounded toe box plus a body over the sole; pumps are low.
    top_front = g - thick - np.where(women, 0.08, 0.15)
    toe_box = _ellipse_sdf(x, y, toe_x + 0.13, g - thick, 0.13, np.where(women, 0.075, 0.14))
    collar_y = np.where(women, heel_top - thick - 0.09, g - thick - 0.25)
    body = _poly_sdf(
        x,
        y,
        _quad(
            b,
            (toe_x + 0.13, top_front),
            (back_x - 0.01, collar_y),
            (back_x, heel_top - thick + 0.01),
            (ball_x - 0.01, g - thick + 0.01),
            (toe_x + 0.13, g - thick + 0.01),
        ),
    )
    upper = np.minimum(np.maximum(toe_box, y - _col(g - thick + 0.01)), body)
    result = {"part": sole}
    # Boots: a shaft rising from the heel end, as tall as silhouette_b says.
    if boot.any():
        shaft_h = np.where(boot, 0.1 + 0.4 * (shaft - 0.35), 0.0)
        front = back_x - np.where(women, 0.2, 0.24)
        leg = _poly_sdf(
            x,
            y,
            _quad(
                b,
                (front + 0.02, collar_y - shaft_h),
                (back_x - 0.005, collar_y - shaft_h),
                (back_x, collar_y + 0.03),
                (front - 0.05, collar_y + 0.07),
            ),
        )
        upper = _where(boot, np.minimum(upper, leg), upper)
    # Low shoes are open on top (a long scoop on pumps, an ankle opening on
    # men's shoes): the darker lining shows.
    if (~boot).any():
        scoop = _where(
            women,
            _ellipse_sdf(x, y, 0.6, top_front - 0.025, 0.2, 0.05),
            _ellipse_sdf(x, y, back_x - 0.14, collar_y - 0.01, 0.11, 0.04),
        )
        result["inner"] = _where(~boot, np.maximum(upper, scoop), 1.0)
        upper = _where(~boot, np.maximum(upper, -scoop), upper)
    result["main"] = upper
    return result


def _pattern_mask(a: ItemAttributes, x, y, px, orientation: str) -> np.ndarray:
    """Share of the pattern's second colour per pixel: [B, S, S] float32 in [0, 1].

    Args:
      a: attributes of B items (pattern, pattern_frequency).
      x, y: [B, 1, S] and [B, S, 1] coordinates in the item frame.
      px: [B] pixel size in the item frame, for anti-aliasing.
      orientation: "horizontal" or "vertical" stripes.
    """
    mask = np.zeros((len(a), y.shape[1], x.shape[2]), _F32)
    for kind in (1, 2, 3):
        sel = np.flatnonzero(a.pattern == kind)
        if not len(sel):
            continue
        f = _col(a.pattern_frequency[sel])
        p = _col(px[sel])
        xs, ys = x[sel], y[sel]
        # Soft thresholds over about a pixel keep thin lines from aliasing.
        sharp = 1.0 / (np.pi * f * p)
        if kind == 1:  # stripes
            along = ys if orientation == "horizontal" else xs
            m = np.clip(0.5 + sharp * (np.sin(2 * np.pi * f * along) - 0.3), 0.0, 1.0)
        elif kind == 2:  # dots on a staggered grid
            u = (xs * f) % 1.0 - 0.5
            v = (ys * f + 0.25) % 1.0 - 0.5
            dist = np.sqrt(u * u + v * v) / f
            m = np.clip(0.5 - (dist - 0.26 / f) / p, 0.0, 1.0)
        else:  # gingham checks: crossing translucent bands
            band_x = np.clip(0.5 + sharp * np.sin(2 * np.pi * f * xs), 0.0, 1.0)
            band_y = np.clip(0.5 + sharp * np.sin(2 * np.pi * f * ys), 0.0, 1.0)
            m = 0.5 * (band_x + band_y)
        mask[sel] = m
    return mask


_SHAPES = (_top_shapes, _bottom_shapes, _shoe_shapes)


def render_items(
    attrs: ItemAttributes, image_size: int = 64, block: int = 256, threads: int | None = None
) -> np.ndarray:
    """Draws the product photos of items.

    Args:
      attrs: attributes of n items.
      image_size: side S of the square images.
      block: items per vectorised block (memory ~ block * S * S * 100 bytes
        per thread).
      threads: blocks drawn at once (NumPy releases the GIL in its array
        operations); None for one per CPU core, at most 4. The pictures do
        not depend on it.

    Returns:
      [n, S, S, 3] uint8 RGB images in [0, 255].
    """
    out = np.empty((len(attrs), image_size, image_size, 3), np.uint8)
    item_type = attrs.category // 2
    jobs = []
    for t in range(3):
        members = np.flatnonzero(item_type == t)
        jobs += [(t, members[i : i + block]) for i in range(0, len(members), block)]

    def draw(job):
        t, idx = job
        out[idx] = _render_block(attrs.take(idx), t, image_size)

    threads = threads or min(4, os.cpu_count() or 1)
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(draw, jobs))
    return out


def _shifted(d: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """[B, S, S] moved down by dy and right by dx pixels (vacated pixels far outside)."""
    out = np.full_like(d, 1e3)
    out[:, dy:, dx:] = d[:, : d.shape[1] - dy, : d.shape[2] - dx]
    return out


def _render_block(a: ItemAttributes, item_type: int, size: int) -> np.ndarray:
    grid = (np.arange(size, dtype=_F32) + 0.5) / size
    scale = a.scale.astype(_F32)
    px = 1.0 / (size * scale)  # one pixel, in item-frame units
    x = (grid[None, None, :] - 0.5 - _col(a.offset[:, 0])) / _col(scale) + 0.5
    y = (grid[None, :, None] - 0.5 - _col(a.offset[:, 1])) / _col(scale) + 0.5
    shapes = _SHAPES[item_type](x, y, a)
    inv_px = _col(1.0 / px)

    def coverage(d, grow=0.0, soft=1.0):
        # Anti-aliased coverage of d < grow pixels, edge `soft` pixels wide.
        return np.clip(0.5 + (grow - d * inv_px) / soft, 0.0, 1.0)

    # Every colour in the picture is w_a * base + w_b * second + w_c * grey,
    # with base the item's colour and second its pattern colour; layers are
    # composited on the three [B, S, S] weight maps, and the RGB image is
    # formed once at the end (three times fewer full-size operations).
    base = _hsl_to_rgb(a.hue, a.saturation, a.lightness)
    # Pattern colour: darker on light items, lighter on dark ones.
    second_l = np.where(a.lightness > 0.5, a.lightness - 0.38, np.minimum(a.lightness + 0.42, 0.95))
    second = _hsl_to_rgb(a.hue, a.saturation * 0.6, second_l)
    orientation = "vertical" if item_type == 1 else "horizontal"
    m = _pattern_mask(a, x, y, px, orientation)
    # Soft shading: garments darken towards their sides, shoes towards the sole.
    if item_type == 2:
        shade = 1.05 - 0.22 * np.clip((y - 0.45) / 0.4, 0.0, 1.0)
    else:
        shade = (1.04 - 0.5 * (x - 0.5) ** 2) - 0.1 * np.clip(y - 0.5, 0.0, 1.0)
    fill_b = shade * m
    fill_a = shade - fill_b

    def over(maps, alpha, values):
        for w, v in zip(maps, values, strict=True):
            if v is None:  # this layer has none of this colour
                w -= alpha * w
            else:
                w += alpha * (v - w)

    main = shapes["main"]
    # Studio background: near-white or light grey, a little darker at the
    # bottom, with a soft shadow cast down and right of the item.
    shadow = coverage(_shifted(main, max(1, size // 32), max(1, size // 64)), soft=4.0)
    w_c = (_col(a.background) * (1.0 - 0.03 * grid[None, :, None])) * (1.0 - 0.12 * shadow)
    w_a = np.zeros_like(w_c)
    w_b = np.zeros_like(w_c)
    maps = (w_a, w_b, w_c)
    if "inner" in shapes:  # the inside of the garment, in shadow
        over(maps, coverage(shapes["inner"], -0.2), (0.55 * shade, None, None))
    over(maps, coverage(main, 1.0), (0.55 * fill_a, 0.55 * fill_b, None))  # outline
    over(maps, coverage(main, -0.2), (fill_a, fill_b, None))
    if item_type == 2:  # sole and heel, dark or light, with their own outline
        sole = _col(np.where(a.dark_sole, 0.16, 0.92))
        over(maps, coverage(shapes["part"], 1.0), (None, None, 0.6 * sole))
        over(maps, coverage(shapes["part"], -0.2), (None, None, sole))
    elif "part" in shapes:  # waistband: the garment's colour, darker
        over(maps, coverage(shapes["part"]), (_F32(0.75), None, None))
    img = w_a[..., None] * (255.0 * base)[:, None, None, :]
    img += w_b[..., None] * (255.0 * second)[:, None, None, :]
    img += (255.0 * w_c + 0.5)[..., None]  # + 0.5: round, not truncate, below
    return np.clip(img, 0.0, 255.0, out=img).astype(np.uint8)
