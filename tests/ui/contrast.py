"""WCAG contrast of what the page really shows: computed colours, alpha composited over the
backgrounds behind an element, as https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio defines it.

``contrasts(page, selector)`` returns one row per matching element: its text, the ratio, and
the two colours compared. Themes switch with ``set_theme(page, name)``.
"""

from __future__ import annotations

AA = 4.5

# Colours come back as rgb()/rgba() or, from color-mix(), as color(srgb r g b / a).
CONTRAST_JS = """(selector) => {
  const parse = (text) => {
    let m = text.match(/^rgba?\\(([^)]+)\\)$/);
    if (m) {
      const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
      return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    }
    m = text.match(/^color\\(srgb ([^)]+)\\)$/);
    if (m) {
      const p = m[1].split(/[ \\/]+/).filter(Boolean).map(Number);
      return [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1];
    }
    throw new Error('unknown colour ' + text);
  };
  const over = (top, bottom) => {
    const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  };
  const background = (el) => {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c[3] > 0) { layers.push(c); }
      if (c[3] >= 1) { break; }
    }
    let bg = [255, 255, 255, 1];
    for (const layer of layers.reverse()) { bg = over(layer, bg); }
    return bg;
  };
  const luminance = (c) => {
    const [r, g, b] = c.slice(0, 3).map(v => {
      v = v / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  return [...document.querySelectorAll(selector)].filter(el => el.getClientRects().length).map(el => {
    const style = getComputedStyle(el);
    const bg = background(el);
    const fg = over(parse(style.color), bg);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const round = c => c.slice(0, 3).map(Math.round);
    return {text: el.textContent.trim(), ratio: (hi + 0.05) / (lo + 0.05), fg: round(fg), bg: round(bg),
            oneLine: el.getBoundingClientRect().height < 2 * parseFloat(style.fontSize)};
  });
}"""


def contrasts(page, selector: str) -> list[dict]:
    """One row per visible element matching ``selector``: text, ratio, fg, bg, oneLine."""
    return page.evaluate(CONTRAST_JS, selector)


def set_theme(page, theme: str) -> None:
    """Switch JupyterLab's theme and wait until its variables apply."""
    page.evaluate("(theme) => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", theme)
    page.wait_for_function("(theme) => document.body.dataset.jpThemeName === theme", arg=theme, timeout=30_000)
    page.wait_for_timeout(500)  # the theme's stylesheet is in; let the page restyle


def below_aa(rows: list[dict]) -> list[dict]:
    return [row for row in rows if row["ratio"] < AA]
