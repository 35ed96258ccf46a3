"""The text of an HTML mail that its reader actually sees.

Mail that hides text from its reader is hiding it for a machine, so anything a mail client would
not show is dropped: script/style/title, the `hidden` attribute, `aria-hidden="true"`, and — from
inline styles, `<style>` rules on a tag, class or id, and the old `<font color>`/`bgcolor`
attributes — display:none, visibility:hidden, opacity ≈ 0, tiny fonts (≤ 3px), zero-size boxes
that clip, clip/clip-path/scale(0), off-screen positions and indents, and text whose colour is
(nearly) the colour behind it. Visibility is tracked on a stack of open elements: an end tag
closes the element it names (a stray end tag inside a hidden block closes nothing), and the
elements HTML closes implicitly (a <p> before a block, an <li> before the next) are closed too.
"""

from __future__ import annotations

import colorsys
import re
from dataclasses import dataclass
from html.parser import HTMLParser

_VOID = frozenset("br img hr meta link input wbr area base col source track embed param".split())
_BLOCK = frozenset("p div br li tr table ul ol blockquote h1 h2 h3 h4 h5 h6 section article header footer "
                   "pre dl dt dd center address form fieldset".split())
_SELF_CLOSING_SIBLING = frozenset("p li tr td th dt dd option".split())  # a second one closes the first
_INVISIBLE_TAGS = frozenset("script style title template noscript object iframe svg math head".split())
_NAMED = {"white": (255, 255, 255), "black": (0, 0, 0), "red": (255, 0, 0), "green": (0, 128, 0),
          "blue": (0, 0, 255), "gray": (128, 128, 128), "grey": (128, 128, 128), "silver": (192, 192, 192),
          "whitesmoke": (245, 245, 245), "snow": (255, 250, 250), "ivory": (255, 255, 240),
          "ghostwhite": (248, 248, 255), "floralwhite": (255, 250, 240), "yellow": (255, 255, 0)}
_LENGTH = re.compile(r"(-?\d*\.?\d+)\s*(px|pt|em|rem|%|vw|vh|cm|mm|in)?", re.I)
_FONT_SIZE = re.compile(r"(?:^|\s)((?:\d*\.)?\d+(?:px|pt|em|rem|%|vw|vh)|0)(?=/|\s|$)")
_VAR = re.compile(r"var\(\s*(--[\w-]+)\s*(?:,\s*([^()]*))?\)")
Color = tuple[int, int, int]


def _color(value: str) -> Color | None | str:
    """An RGB triple, "transparent", or None when the value is not a colour we can read."""
    v = value.strip().lower().replace("!important", "").strip()
    if v in ("transparent", "rgba(0,0,0,0)"):
        return "transparent"
    if v in _NAMED:
        return _NAMED[v]
    m = re.fullmatch(r"#?([0-9a-f]{3}|[0-9a-f]{6})", v)
    if m:
        h = m.group(1)
        h = "".join(c * 2 for c in h) if len(h) == 3 else h
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    m = re.fullmatch(r"(rgb|hsl)a?\(\s*([\d.]+%?)[\s,]+([\d.]+%?)[\s,]+([\d.]+%?)\s*(?:[,/]\s*([\d.]+%?)\s*)?\)", v)
    if m:
        alpha = m.group(5)
        if alpha is not None and float(alpha.rstrip("%")) / (100 if alpha.endswith("%") else 1) < 0.15:
            return "transparent"
        a, b, c = (float(x.rstrip("%")) / (100 if x.endswith("%") else 1) for x in m.group(2, 3, 4))
        if m.group(1) == "hsl":  # hue in degrees, saturation and lightness as fractions
            r, g, bl = colorsys.hls_to_rgb(a / 360, c, b)
            return round(r * 255), round(g * 255), round(bl * 255)
        pct = [x.endswith("%") for x in m.group(2, 3, 4)]
        return tuple(round(x * 255) if p else round(x) for x, p in zip((a, b, c), pct, strict=True))  # type: ignore[return-value]
    return None


def _length(value: str) -> float | None:
    """A CSS length in px (roughly: 1em = 16px), or None."""
    m = _LENGTH.match(value.strip())
    if m is None:
        return None
    n = float(m.group(1))
    return n * {"pt": 4 / 3, "em": 16, "rem": 16, "%": 0.16, "cm": 37.8, "mm": 3.78, "in": 96}.get(
        (m.group(2) or "px").lower(), 1.0)


def declarations(style: str) -> dict[str, str]:
    """`a: b; c: d` as {"a": "b", "c": "d"} (lowercase names, later wins)."""
    out: dict[str, str] = {}
    for decl in style.split(";"):
        name, sep, value = decl.partition(":")
        if sep:
            out[name.strip().lower()] = value.strip().lower()
    return out


def hides(d: dict[str, str]) -> bool:
    """Whether these declarations take an element's text out of its reader's sight."""
    if d.get("display", "").startswith("none") or d.get("visibility", "").startswith(("hidden", "collapse")):
        return True
    if "all" in d.get("mso-hide", ""):
        return True
    opacity = _length(d.get("opacity", "1"))
    if opacity is not None and opacity < 0.1:
        return True
    size = _length(d.get("font-size", "16px"))
    if size is not None and size <= 3:
        return True
    short = _FONT_SIZE.search(d.get("font", ""))  # "font: 0/0 a", "font: italic 1px Arial"
    if short is not None and (_length(short.group(1)) or 0) <= 3:
        return True
    clips = d.get("overflow", "").startswith("hidden")
    for box in ("height", "max-height", "width", "max-width", "line-height"):
        n = _length(d.get(box, "")) if d.get(box) else None
        if n is not None and n <= 1 and (clips or box.startswith("max") or box == "line-height" and clips):
            return True
    for place in ("left", "top", "right", "bottom", "margin-left", "margin-top", "text-indent"):
        n = _length(d.get(place, "")) if d.get(place) else None
        if n is not None and n <= -100:
            return True
    clip = d.get("clip", "") + d.get("clip-path", "")
    if re.search(r"rect\(\s*0\w*[\s,]+0|inset\(\s*(?:[5-9]\d|100)%|circle\(\s*0", clip):
        return True
    polygon = re.search(r"polygon\(([^)]*)\)", d.get("clip-path", ""))
    if polygon and len({" ".join(pt.split()) for pt in polygon.group(1).split(",")}) <= 2:  # no area
        return True
    return bool(re.search(r"scale[xy]?\(\s*0(?:\.0\d*)?\s*[,)]|translate[xy]?\(\s*-\d{3,}",
                          d.get("transform", "")))


def _style_blocks(html: str) -> list[str]:
    """The text of each <style> element (found by plain index search: linear on any input)."""
    low, at = html.lower(), 0
    out: list[str] = []
    while len(out) < 200:
        start = low.find("<style", at)
        gt = low.find(">", start) if start >= 0 else -1
        end = low.find("</style", gt) if gt >= 0 else -1
        if end < 0:
            return out
        out.append(html[gt + 1:end][:100_000])
        at = end
    return out


def stylesheet(html: str) -> dict[str, dict[str, str]]:
    """Declarations of `<style>` rules keyed by their last simple selector: "tag", ".class", "#id" or "tag.class"."""
    rules: dict[str, dict[str, str]] = {}
    for css in _style_blocks(html):
        css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
        for chunk in css.split("}"):  # "@media x { .a { b } }": the rule's selector is what follows the last "{"
            head, sep, body = chunk.rpartition("{")
            if not sep:
                continue
            d = declarations(body)
            for sel in head.split("{")[-1].split(","):
                parts = sel.strip().split()
                if not parts or parts[0].startswith("@"):
                    continue
                compound = parts[-1].split(">")[-1].lower()
                attrs = [f"[{a}]" for a in re.findall(r"\[\s*([\w-]+)", compound)]  # "[data-x]", "p[title=y]"
                last = re.sub(r":[\w-]+(?:\([^)]*\))?|\[[^\]]*\]", "", compound)
                for key in (last, *re.findall(r"[.#][\w-]+", last), *attrs):  # "div.x.y" counts for .x and .y
                    if key:
                        rules.setdefault(key, {}).update(d)
            for name, value in d.items():  # custom properties, wherever set: "--h: none"
                if name.startswith("--"):
                    rules.setdefault(":vars", {})[name] = value
    return rules


@dataclass
class _Open:
    tag: str
    hidden: bool
    color: Color | None | str
    background: Color | None | str


def _same(fg: Color | None | str, bg: Color | None | str) -> bool:
    if fg == "transparent":
        return True
    if not isinstance(fg, tuple) or not isinstance(bg, tuple):
        return False
    return sum(abs(a - b) for a, b in zip(fg, bg, strict=True)) <= 48  # near-white on white reads as nothing


class _Visible(HTMLParser):
    def __init__(self, rules: dict[str, dict[str, str]]) -> None:
        super().__init__(convert_charrefs=True)
        self.rules = rules
        self.out: list[str] = []
        self.stack: list[_Open] = [_Open("#root", False, (0, 0, 0), (255, 255, 255))]

    def _style(self, tag: str, a: dict[str, str | None]) -> dict[str, str]:
        d: dict[str, str] = {}
        classes = (a.get("class") or "").lower().split()
        keys = [tag, *(f".{c}" for c in classes), *(f"{tag}.{c}" for c in classes)]
        if a.get("id"):
            keys.append(f"#{(a.get('id') or '').lower()}")
        keys += [f"[{name.lower()}]" for name in a]
        for key in keys:
            d.update(self.rules.get(key, {}))
        important = {k: v for k, v in d.items() if "!important" in v}
        inline = declarations(a.get("style") or "")
        d.update(inline)
        d.update({k: v for k, v in important.items() if "!important" not in inline.get(k, "")})  # !important wins
        found = self.rules.get(":vars", {})
        for k, v in d.items():
            for _ in range(5):  # var(--x, fallback), nested a few deep
                if "var(" not in v:
                    break
                v = _VAR.sub(lambda m: found.get(m.group(1), m.group(2) or ""), v)
            d[k] = v
        return d

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        top = self.stack[-1].tag
        if (tag in _SELF_CLOSING_SIBLING and top == tag) or (tag in _BLOCK and top == "p"):
            self.stack.pop()
        if tag in _BLOCK:
            self.out.append("\n")
        if tag in _VOID:
            return
        a = dict(attrs)
        d = self._style(tag, a)
        parent = self.stack[-1]
        color = _color(d.get("color", "") or a.get("color") or "") if (d.get("color") or a.get("color")) else None
        back = d.get("background-color") or (d.get("background", "").split() or [""])[0] or a.get("bgcolor") or ""
        background = _color(back) if back else None
        if background == "transparent":
            background = None
        hidden = parent.hidden or tag in _INVISIBLE_TAGS or "hidden" in a \
            or (a.get("aria-hidden") or "").lower() == "true" or hides(d)
        self.stack.append(_Open(tag, hidden, color if color is not None else parent.color,
                                background if background is not None else parent.background))

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            if tag == "br":
                self.out.append("\n")
            return
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                break
        if tag in _BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        top = self.stack[-1]
        if not top.hidden and not _same(top.color, top.background):
            self.out.append(data)


def visible_text(html: str) -> str:
    """The text of `html` a reader sees, blocks as lines, blank lines between paragraphs."""
    parser = _Visible(stylesheet(html))
    parser.feed(html)
    parser.close()
    text = "".join(parser.out).replace("\xa0", " ")
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\n\s*\n+", "\n\n", re.sub(r" *\n *", "\n", text)).strip()
