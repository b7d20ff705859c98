"""A report as blocks, rendered to Markdown and to a standalone HTML page.

Doc                    headings (with anchors), paragraphs, bullets, tables, images, a table of
                       contents; .markdown(image_src) and .html(title, verdicts)
markdown_table(h, rows) one Markdown table (also the README's medians table)
markdown_link(path)    a relative path as a Markdown link target, percent-encoded
slug(text)             the anchor of a heading

Used by the single-host report (report.py), the hosts side by side (hosts.py) and the compare
view (compare_view.py); it knows nothing of results or workloads.
"""

import base64
import html
import re
import urllib.parse
from pathlib import Path


def slug(text):
    """An anchor from a heading: lower case, letters, digits and hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", re.sub(r"[`*]", "", text.lower())).strip("-") or "section"


NUMERIC = re.compile(r"^[–≥≤≈]?\s*[-+]?[\d,.]+(\s?(×|%|[kMG]|[a-zA-Zµ/]+(/[a-z]+)?))*(\s.*)?$")


class Doc:
    """A report as blocks, rendered both to Markdown and to standalone HTML.

    Text may use **bold** and `code`, which both renderers understand. Headings get anchors
    (slug of their text, made unique), so toc() can link them in both renderings.
    """

    def __init__(self):
        self.blocks = []
        self._ids = set()
        self._verdicts = ()

    def h(self, level, text):
        anchor = base = slug(text)
        i = 2
        while anchor in self._ids:
            anchor, i = f"{base}-{i}", i + 1
        self._ids.add(anchor)
        self.blocks.append(("h", level, text, anchor))

    def p(self, text):
        self.blocks.append(("p", text))

    def bullets(self, items):
        if items:
            self.blocks.append(("ul", list(items)))

    def table(self, header, rows, notes=()):
        self.blocks.append(("table", header, rows))
        self.bullets(notes)

    def image(self, chart, svg_href=None):
        self.blocks.append(("img", chart, svg_href))

    def toc(self):
        """A placeholder, filled with links to every level-2 and level-3 heading at render time."""
        self.blocks.append(("toc",))

    def _toc_items(self):
        return [(b[1], b[2], b[3]) for b in self.blocks if b[0] == "h" and b[1] in (2, 3)]

    def markdown(self, image_src):
        out = []
        for b in self.blocks:
            if b[0] == "h":
                out.append(f'<a id="{b[3]}"></a>\n\n' + "#" * b[1] + " " + b[2])
            elif b[0] == "toc":
                out.append("\n".join(("  " if lvl == 3 else "") + "- [" + re.sub(r"[\[\]]", "", t) + f"](#{a})"
                                     for lvl, t, a in self._toc_items()))
            elif b[0] == "p":
                out.append(b[1])
            elif b[0] == "ul":
                out.append("\n".join(f"- {item}" for item in b[1]))
            elif b[0] == "table":
                out.append(markdown_table(b[1], b[2]))
            elif b[0] == "img":
                alt = re.sub(r"([\[\]\\])", r"\\\1", b[1].title)
                out.append(f"![{alt}]({image_src(b[1])})"
                           + (f"\n\n[{b[1].name}.svg]({b[2]})" if b[2] else ""))
        return "\n\n".join(out) + "\n"

    def _inline(self, text):
        text = html.escape(str(text))
        text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
        text = re.sub(r"`(.+?)`", r"<code>\1</code>", text)
        for verdict in self._verdicts:
            text = text.replace(f"<strong>{verdict}</strong>",
                                f'<strong class="v-{verdict.replace(" ", "-")}">{verdict}</strong>')
        return text

    def _td(self, c):
        num = ' class="num"' if NUMERIC.match(str(c)) else ""
        return f"<td{num}>{self._inline(c)}</td>"

    def html(self, title, verdicts=()):
        """The page; a bold verdict word (one of `verdicts`) gets the class v-<verdict>, coloured."""
        self._verdicts = tuple(verdicts)
        out = []
        for b in self.blocks:
            if b[0] == "h":
                out.append(f'<h{b[1]} id="{b[3]}">{self._inline(b[2])}</h{b[1]}>')
            elif b[0] == "toc":
                items, level = [], 2
                for lvl, t, a in self._toc_items():
                    if lvl > level:
                        items.append("<ul>")
                    elif lvl < level:
                        items.append("</ul>")
                    level = lvl
                    items.append(f'<li><a href="#{a}">{self._inline(t)}</a></li>')
                items += ["</ul>"] * (level - 2)
                out.append('<nav class="toc"><ul>' + "".join(items) + "</ul></nav>")
            elif b[0] == "p":
                out.append(f"<p>{self._inline(b[1])}</p>")
            elif b[0] == "ul":
                out.append("<ul>" + "".join(f"<li>{self._inline(i)}</li>" for i in b[1]) + "</ul>")
            elif b[0] == "table":
                head = "".join(f"<th>{self._inline(c)}</th>" for c in b[1])
                body = "".join("<tr>" + "".join(self._td(c) for c in row) + "</tr>" for row in b[2])
                out.append(f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
                           f"<tbody>{body}</tbody></table></div>")
            elif b[0] == "img":
                data = base64.b64encode(b[1].png).decode("ascii")
                link = (f'<figcaption><a href="{html.escape(b[2])}">{html.escape(b[1].name)}.svg</a> '
                        f"(vector, full size)</figcaption>" if b[2] else "")
                out.append(f'<figure><img alt="{html.escape(b[1].title)}" '
                           f'src="data:image/png;base64,{data}">{link}</figure>')
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }}
.scroll {{ max-width: 100%; overflow-x: auto; margin: 0.5em 0 1em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
th {{ background: #f3f3f3; position: sticky; top: 0; }}
figure {{ margin: 1em 0; }} figure img {{ max-width: 100%; height: auto; }}
figcaption {{ font-size: 0.85em; }}
nav.toc {{ background: #f8f8f8; border: 1px solid #ddd; padding: 0.5em 1em; columns: 2; }}
nav.toc ul {{ margin: 0; padding-left: 1.2em; }}
code {{ background: #f3f3f3; padding: 0 0.2em; }}
.v-confirmed {{ color: #1a7f37; }} .v-refuted {{ color: #cf222e; }} .v-mixed {{ color: #9a6700; }}
.v-undecided, .v-not-measured, .v-not-judged, .v-indistinguishable {{ color: #666; }}
</style></head><body>
{chr(10).join(out)}
</body></html>
"""


def markdown_table(header, rows):
    def esc(s):
        return str(s).replace("|", "\\|")
    lines = ["| " + " | ".join(esc(c) for c in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_link(path):
    """A relative path as a Markdown link target: spaces, parentheses and the like percent-encoded."""
    return urllib.parse.quote(Path(path).as_posix(), safe="/")
