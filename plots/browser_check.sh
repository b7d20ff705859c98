#!/usr/bin/env bash
# Renders report.html in headless Chromium at a 1280 px wide window, saves a screenshot, and checks
# in the rendered page (layout done by the browser, not guessed) that:
#   - a table of contents with links exists (nav.toc a);
#   - the page itself does not scroll sideways (document width <= window width);
#   - no table's box is wider than the page (a wide table scrolls inside its own box).
# Chromium (Debian package `chromium`) is installed with apt-get on first use when it is missing
# and this runs as root (or sudo works); this script is for people, not for CI.
#
# Usage: plots/browser_check.sh [REPORT_HTML] [OUT_DIR]
#   defaults: results/report.html, /tmp/cobench-browser-check
# Writes OUT_DIR/screenshot.png (the top 1280x2400 px) and OUT_DIR/check.json (the measurements).
# Exit status: 0 all checks pass; 1 a check failed; 2 bad input (no such report);
#              4 no Chromium and it could not be installed.
set -u
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
report="${1:-$root/results/report.html}"
out="${2:-/tmp/cobench-browser-check}"
width=1280

[ -f "$report" ] || { echo "browser_check: error: no report at $report (run plots/report.py first)" >&2; exit 2; }
mkdir -p "$out" || exit 2

chromium=""
for c in chromium chromium-browser google-chrome; do
  command -v "$c" >/dev/null 2>&1 && { chromium="$c"; break; }
done
if [ -z "$chromium" ]; then
  echo "browser_check: Chromium is missing; installing the Debian package chromium (apt-get)" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  if $sudo apt-get install -y --no-install-recommends chromium >&2 || \
     { $sudo apt-get update >&2 && $sudo apt-get install -y --no-install-recommends chromium >&2; }; then
    chromium=chromium
  else
    echo "browser_check: error: could not install chromium; install it with: apt-get install chromium" >&2
    exit 4
  fi
fi

# A copy of the report with a probe that measures the laid-out page and writes the result into
# the DOM, where --dump-dom finds it. The report itself is not changed.
probe="$out/report-probe.html"
python3 - "$report" "$probe" <<'EOF' || exit 2
import sys
html = open(sys.argv[1], encoding="utf-8").read()
script = """<script>
window.addEventListener('load', function () {
  var page = window.innerWidth, doc = document.documentElement.scrollWidth, wide = [], scrolling = 0;
  document.querySelectorAll('table').forEach(function (t, i) {
    var box = t.parentElement, r = box.getBoundingClientRect();
    if (r.right > page + 1 || r.width > page + 1) wide.push({table: i, box_width: Math.round(r.width)});
    if (box.scrollWidth > box.clientWidth + 1) scrolling++;
  });
  var out = {window_width: page, document_width: doc, tables: document.querySelectorAll('table').length,
             tables_wider_than_page: wide, tables_scrolling_in_their_box: scrolling,
             toc_links: document.querySelectorAll('nav.toc a').length,
             figures: document.querySelectorAll('figure').length,
             svg_links: document.querySelectorAll('figure figcaption a[href$=".svg"]').length};
  var pre = document.createElement('pre'); pre.id = 'cobench-check';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
});
</script>"""
open(sys.argv[2], "w", encoding="utf-8").write(html.replace("</body>", script + "</body>", 1))
EOF

flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$width,2400"
       --virtual-time-budget=5000 --allow-file-access-from-files)
url="file://$(cd "$(dirname "$probe")" && pwd)/$(basename "$probe")"
"$chromium" "${flags[@]}" --screenshot="$out/screenshot.png" "$url" >/dev/null 2>"$out/chromium.log" || true
"$chromium" "${flags[@]}" --dump-dom "$url" 2>>"$out/chromium.log" >"$out/dom.html"
rm -f "$probe"

python3 - "$out/dom.html" "$out/check.json" "$out/screenshot.png" <<'EOF'
import html, json, os, re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'<pre id="cobench-check">(.*?)</pre>', dom, re.S)
if not m:
    print("browser_check: FAIL: the page did not report its layout (see chromium.log)")
    sys.exit(1)
got = json.loads(html.unescape(m.group(1)))
open(sys.argv[2], "w").write(json.dumps(got, indent=2) + "\n")
problems = []
if got["toc_links"] == 0:
    problems.append("no table of contents (nav.toc a)")
if got["document_width"] > got["window_width"]:
    problems.append(f"the page scrolls sideways: document {got['document_width']} px > window {got['window_width']} px")
if got["tables_wider_than_page"]:
    problems.append(f"tables wider than the page: {got['tables_wider_than_page']}")
shot = sys.argv[3]
if not (os.path.exists(shot) and open(shot, "rb").read(8) == b"\x89PNG\r\n\x1a\n"):
    problems.append("no screenshot was written")
print(f"browser_check: window {got['window_width']} px, document {got['document_width']} px, "
      f"{got['tables']} tables ({got['tables_scrolling_in_their_box']} scroll inside their box), "
      f"{got['toc_links']} contents links, {got['figures']} figures, {got['svg_links']} SVG links; "
      f"screenshot {shot}")
for p in problems:
    print(f"browser_check: FAIL: {p}")
sys.exit(1 if problems else 0)
EOF
