#!/usr/bin/env bash
# review --html: a self-contained page with the table and a gnuplot chart,
# rendered by a real headless browser (Debian's chromium).
source "$(dirname "$0")/lib.bash"

"$NICSIM" gen -o "$T/g.pcap" --flows 12 --packets 400 --size imix --seed 2 || bad "gen"
expect_exit 0 "review --html completes" -- "$NICSIM" review "$T/g.pcap" -j 2 --html "$T/r.html"
n=$("$NICSIM" designs | wc -l)
if grep -q "<svg" "$T/r.html" && ! grep -qE "(src|href)=\"(http|//)" "$T/r.html"; then
  ok "the page inlines its chart and loads nothing from outside"
else
  bad "the page is not self-contained"
fi

BROWSER=$(command -v chromium || true)
if [ -z "$BROWSER" ]; then
  bad "chromium is not installed (scripts/setup.sh installs it)"
else
  prof=$(mktemp -d "$T/prof.XXXXXX")
  flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
         --disable-component-update --disable-sync "--user-data-dir=$prof" --window-size=1300,1200)
  timeout 120 "$BROWSER" "${flags[@]}" --dump-dom "file://$T/r.html" > "$T/dom.html" 2>/dev/null
  rows=$(grep -o '<tr class="[a-z]*">' "$T/dom.html" | wc -l)
  if [ "$rows" -eq "$n" ]; then ok "the browser's DOM has a table row per design ($rows)"; else bad "DOM rows: $rows, designs: $n"; fi
  if grep -q '<svg' "$T/dom.html" && grep -q 'Cost against safety' "$T/dom.html"; then ok "the chart is in the rendered DOM"; else bad "no chart in the DOM"; fi
  timeout 120 "$BROWSER" "${flags[@]}" --screenshot="$T/shot.png" "file://$T/r.html" >/dev/null 2>&1
  python3 - "$T/shot.png" <<'PY' && ok "the page renders to a non-blank screenshot" || bad "blank or missing screenshot"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
w, h = struct.unpack(">II", data[16:24])
assert w >= 800 and h >= 600, (w, h)
# Decompress the image data and check it is not one colour.
idat = b"".join(data[i + 8:i + 8 + struct.unpack(">I", data[i:i + 4])[0]]
                for i in range(8, len(data)) if data[i + 4:i + 8] == b"IDAT")
raw = zlib.decompress(idat)
assert len(set(raw[::97])) > 8, "blank"
PY
fi
finish
