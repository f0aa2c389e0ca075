#!/usr/bin/env bash
# review --html: a self-contained page to share, rendered by a real headless
# browser (Debian's chromium). Checked in the rendered DOM: the header (trace,
# frames, flows, version, seed, --set keys), every design present in the
# chart, the table and its own section (summary, first violation of each
# property, settings in a <details>), every label of the chart unambiguously
# its point (measured by the browser: labels overlap neither each other nor
# other points, and each label's nearest point is its own unless a leader
# line joins them), colours by verdict with a legend, the y axis reaching
# the largest count, no temporary path in the page; and a screenshot.
source "$(dirname "$0")/lib.bash"

"$NICSIM" gen -o "$T/g.pcap" --flows 12 --packets 400 --size imix --seed 2 || bad "gen"
expect_exit 0 "review --html completes" -- "$NICSIM" review "$T/g.pcap" -j 2 --html "$T/r.html" --json "$T/r.json" --set pool.clear=on_recycle
n=$("$NICSIM" designs | wc -l)
if grep -q "<svg" "$T/r.html" && ! grep -qE "(src|href)=\"(http|//)" "$T/r.html" && ! grep -q "<script" "$T/r.html"; then
  ok "the page inlines its chart, runs no script and loads nothing from outside"
else
  bad "the page is not self-contained"
fi
if grep -qE "/tmp/nicsim|nicsim-html-|nicsim-review-" "$T/r.html"; then bad "the page leaks a temporary path"; else ok "no temporary path in the page"; fi

BROWSER=$(command -v chromium || true)
if [ -z "$BROWSER" ]; then
  bad "chromium is not installed (scripts/setup.sh installs it)"
  finish; exit 1
fi
prof=$(mktemp -d "$T/prof.XXXXXX")
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
       --disable-component-update --disable-sync "--user-data-dir=$prof" --window-size=1300,1200)
# The page with a probe appended that measures the rendered chart into the
# DOM (a copy: the page itself has no script).
sed 's#</body>#<script>\n(function(){\n  var g = {labels:{}, points:{}, leaders:{}, legend:[], yticks:[]};\n  document.querySelectorAll("svg text.label").forEach(function(t){ var b=t.getBBox(); g.labels[t.dataset.design]={x:b.x,y:b.y,w:b.width,h:b.height,text:t.textContent}; });\n  document.querySelectorAll("svg circle.point").forEach(function(c){ g.points[c.dataset.design]={x:+c.getAttribute("cx"),y:+c.getAttribute("cy"),r:+c.getAttribute("r"),fill:c.getAttribute("fill"),verdict:c.dataset.verdict,violations:+c.dataset.violations}; });\n  document.querySelectorAll("svg line.leader").forEach(function(l){ g.leaders[l.dataset.design]={x1:+l.getAttribute("x1"),y1:+l.getAttribute("y1"),x2:+l.getAttribute("x2"),y2:+l.getAttribute("y2")}; });\n  document.querySelectorAll("svg g.legend text").forEach(function(t){ g.legend.push(t.textContent); });\n  document.querySelectorAll("svg g.ticks.y text").forEach(function(t){ g.yticks.push(+t.textContent); });\n  var p = document.createElement("pre"); p.id = "geometry"; p.textContent = JSON.stringify(g); document.body.appendChild(p);\n})();\n</script>\n</body>#' "$T/r.html" > "$T/probe.html"
timeout 120 "$BROWSER" "${flags[@]}" --dump-dom "file://$T/probe.html" > "$T/dom.html" 2>/dev/null
python3 - "$T/dom.html" "$T/r.json" "$n" "$T/g.pcap" > "$T/dom.out" 2>&1 <<'PY'
import html, json, math, re, sys
dom = open(sys.argv[1]).read()
rev = json.load(open(sys.argv[2]))
ndesigns = int(sys.argv[3])
trace = sys.argv[4]
fails = []
def ok(m): print("ok: " + m)
def bad(m): fails.append(m); print("FAIL: " + m)
m = re.search(r'<pre id="geometry">(.*?)</pre>', dom, re.S)
if not m:
    print("FAIL: no geometry in the DOM"); sys.exit(1)
g = json.loads(html.unescape(m.group(1)))
designs = [d["design"] for d in rev["designs"]]
verdict = {d["design"]: d["verdict"] for d in rev["designs"]}
total = {d["design"]: sum(d["violations"].values()) for d in rev["designs"]}
(ok if len(designs) == ndesigns else bad)("the review ran every design (%d)" % len(designs))
# every design: a point, a label, a table row, a section
for d in designs:
    if d not in g["points"] or d not in g["labels"]:
        bad("%s: no point or no label in the chart" % d); continue
    if not re.search(r'<tr class="%s" data-design="%s">' % (verdict[d], re.escape(d)), dom):
        bad("%s: no table row with its verdict" % d)
    sec = re.search(r'<section class="design" id="d-%s" data-design="%s" data-verdict="%s">(.*?)</section>' % (re.escape(d), re.escape(d), verdict[d]), dom, re.S)
    if not sec:
        bad("%s: no section" % d); continue
    s = sec.group(1)
    det = re.search(r'<details class="settings"><summary>[^<]*</summary>\s*<pre>(.*?)</pre>', s, re.S)
    if 'class="summary"' not in s or not det or "summary:" not in det.group(1) or "pool.clear=on_recycle" not in det.group(1):
        bad("%s: section lacks its summary, or its settings (the design file and --set) in a details element" % d)
    for prop, count in next(x for x in rev["designs"] if x["design"] == d)["violations"].items():
        if count and not re.search(r'<dt data-property="%s">[^<]*: %d \(' % (prop, count), s):
            bad("%s: section lacks %s (%d) with its first violation" % (d, prop, count))
        if count and "first: " not in s:
            bad("%s: no explanation of the first violation" % d)
    p = g["points"][d]
    if p["verdict"] != verdict[d] or p["violations"] != total[d]:
        bad("%s: point says %s/%d, review %s/%d" % (d, p["verdict"], p["violations"], verdict[d], total[d]))
    if str(total[d]) not in g["labels"][d]["text"] or d not in g["labels"][d]["text"]:
        bad("%s: label %r lacks the name or the count" % (d, g["labels"][d]["text"]))
ok("every design has its point, label, table row and section (%d)" % len(designs)) if not fails else None
# colours by verdict, and a legend naming each verdict
colour = {}
for d in designs:
    colour.setdefault(verdict[d], set()).add(g["points"][d]["fill"])
if all(len(c) == 1 for c in colour.values()) and len(set().union(*colour.values())) == len(colour):
    ok("one colour per verdict: %s" % {k: next(iter(v)) for k, v in colour.items()})
else:
    bad("colours do not follow verdicts: %s" % colour)
(ok if set(["safe", "unsafe", "inconclusive"]) <= set(g["legend"]) else bad)("legend: %s" % g["legend"])
# y axis scaled to the data: its top tick is the first power of ten at or above the largest count
top = max(total.values())
want = 10 ** max(1, math.ceil(math.log10(top))) if top else 10
(ok if max(g["yticks"]) == want else bad)("y axis up to %d for a largest count of %d (ticks %s)" % (max(g["yticks"]), top, g["yticks"]))
# labels: each unambiguously its point
def dist(box, x, y):
    dx = max(box["x"] - x, 0, x - (box["x"] + box["w"]))
    dy = max(box["y"] - y, 0, y - (box["y"] + box["h"]))
    return math.hypot(dx, dy)
def inter(a, b):
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]
amb = []
for d in designs:
    L = g["labels"][d]
    for e in designs:
        if e != d and inter(L, g["labels"][e]):
            amb.append("%s overlaps label %s" % (d, e))
        pe = g["points"][e]
        if e != d and dist(L, pe["x"], pe["y"]) < pe["r"]:
            amb.append("label %s covers point %s" % (d, e))
    own = dist(L, g["points"][d]["x"], g["points"][d]["y"])
    nearest = min(designs, key=lambda e: dist(L, g["points"][e]["x"], g["points"][e]["y"]))
    if nearest != d:
        ld = g["leaders"].get(d)
        pd = g["points"][d]
        if not ld or abs(ld["x1"] - pd["x"]) > 0.5 or abs(ld["y1"] - pd["y"]) > 0.5 or dist(L, ld["x2"], ld["y2"]) > 3:
            amb.append("label %s is nearer to point %s and no leader joins it to its own" % (d, nearest))
(ok if not amb else bad)("every label is unambiguously its point (%d labels, %d leaders)%s" % (len(designs), len(g["leaders"]), "; ".join(amb)))
# the header
for what, pat in [("trace", re.escape(html.escape(trace))), ("frames", r'id="meta-frames">%d<' % rev["meta"]["trace"]["packets"]),
                  ("flows", r'id="meta-flows">%d<' % rev["meta"]["trace"]["flows"]), ("version", r'id="meta-version">%s<' % re.escape(rev["meta"]["nicsim_version"])),
                  ("seed", r'id="meta-seed">1<'), ("settings", r'id="meta-set"><code>pool.clear=on_recycle</code>')]:
    (ok if re.search(pat, dom) else bad)("the header gives the %s" % what)
sys.exit(1 if fails else 0)
PY
rc=$?
cat "$T/dom.out"
checks=$((checks + $(grep -c '^ok: \|^FAIL: ' "$T/dom.out"))); failures=$((failures + $(grep -c '^FAIL: ' "$T/dom.out")))
[ $rc -eq 0 ] || [ "$(grep -c '^FAIL: ' "$T/dom.out")" -gt 0 ] || bad "the DOM check failed: $(tail -3 "$T/dom.out")"

timeout 120 "$BROWSER" "${flags[@]}" --screenshot="$T/shot.png" "file://$T/r.html" >/dev/null 2>&1
python3 - "$T/shot.png" <<'PY' && ok "the page renders to a non-blank screenshot" || bad "blank or missing screenshot"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
w, h = struct.unpack(">II", data[16:24])
assert w >= 800 and h >= 600, (w, h)
idat = b"".join(data[i + 8:i + 8 + struct.unpack(">I", data[i:i + 4])[0]]
                for i in range(8, len(data)) if data[i + 4:i + 8] == b"IDAT")
raw = zlib.decompress(idat)
assert len(set(raw[::97])) > 8, "blank"
PY
[ -n "${KEEP_SHOT:-}" ] && cp "$T/shot.png" "$KEEP_SHOT"

# Who reached whose bytes: the multi-tenant design's section lists exactly the
# pairs of its own replay (principal, owner, count, bytes), nothing else.
"$NICSIM" replay "$T/g.pcap" --design multi-tenant-shared --set pool.clear=on_recycle --json "$T/mt.json" --quiet
python3 - "$T/r.html" "$T/mt.json" <<'PY2' && ok "multi-tenant-shared: the page's pairs are its replay's by_pair" || bad "the page's pairs differ from the replay's by_pair"
import html, json, re, sys
page = open(sys.argv[1]).read()
i = page.index('id="d-multi-tenant-shared"')
j = page.find('id="d-', i + 10)
block = page[i:j if j > 0 else len(page)]
shown = sorted((html.unescape(p).replace(' ', '_'), a, o, int(c), int(b)) for p, a, o, c, b in
               re.findall(r'<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>(\d+)</td><td>(\d+)</td></tr>', block))
d = json.load(open(sys.argv[2]))
want = sorted((k, e['principal'], e['owner'], e['count'], e['bytes'])
              for k, v in d['violations'].items() for e in v.get('by_pair', []))
assert want and any(w[1] not in ('app', 'other') or w[2] not in ('app', 'other') for w in want), want
assert shown == want, (shown, want)
PY2
finish
