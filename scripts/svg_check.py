#!/usr/bin/env python3
"""Checks the SVGs d2ltrain draws: each parses as XML, every <text> lies
inside the canvas (its width bounded as core/svg.c bounds it), a chart's
legend lies outside its plot frames; with --render PNG, headless Chromium
draws them all in one launch and each picture must not be blank (a chart
shows coloured lines, an image grid dark pixels), and in a second launch
measures every text with its real font: inside the canvas, and no wider
than the bound core/svg.c places it by.

usage: svg_check.py [--render OUT.png] KIND:FILE.svg...   (KIND: chart | images)
exit 0 ok, 1 a check failed (the reason on stderr)."""
import html
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib

NS = "{http://www.w3.org/2000/svg}"


def text_width(s, size):
    em = 0.0
    for c in s:
        if ord(c) >= 0x80 or c in "WMmw@":
            em += 1.0
        elif "A" <= c <= "Z" or c == "%":
            em += 0.8
        else:
            em += 0.65
    return em * size


def fail(msg):
    sys.stderr.write("svg_check: " + msg + "\n")
    sys.exit(1)


def check_svg(kind, path):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        fail("%s: not XML: %s" % (path, e))
    if root.tag != NS + "svg":
        fail("%s: root is %s, not svg" % (path, root.tag))
    W, H = float(root.get("width")), float(root.get("height"))
    base = float(root.get("font-size", "16"))
    texts = 0
    for t in root.iter(NS + "text"):
        texts += 1
        s = "".join(t.itertext())
        size = float(t.get("font-size", base))
        x, y, w = float(t.get("x")), float(t.get("y")), text_width(s, size)
        anchor = t.get("text-anchor", "start")
        along = {"start": (0, w), "middle": (-w / 2, w / 2), "end": (-w, 0)}[anchor]
        rot = re.match(r"rotate\(-90[ ,]+([-\d.]+)[ ,]+([-\d.]+)\)", t.get("transform", ""))
        if rot:
            cx, cy = float(rot.group(1)), float(rot.group(2))
            box = (cx - size, cx + 0.3 * size, cy - along[1], cy - along[0])
        elif t.get("transform"):
            fail("%s: text %r has a transform the check cannot follow" % (path, s))
        else:
            box = (x + along[0], x + along[1], y - size, y + 0.3 * size)
        if box[0] < 0 or box[1] > W or box[2] < 0 or box[3] > H:
            fail("%s: text %r at %s leaves the %gx%g canvas" % (path, s, tuple(round(v) for v in box), W, H))
    if texts == 0:
        fail("%s: no text" % path)
    if kind == "chart":
        rects = list(root.iter(NS + "rect"))
        frames = [r for r in rects if r.get("stroke") == "#444"]
        legends = [r for r in rects if r.get("rx")]
        if not frames or not legends:
            fail("%s: a chart needs a plot frame and a legend" % path)
        for lg in legends:
            lx, ly = float(lg.get("x")), float(lg.get("y"))
            lw, lh = float(lg.get("width")), float(lg.get("height"))
            for fr in frames:
                fx, fy = float(fr.get("x")), float(fr.get("y"))
                fw, fh = float(fr.get("width")), float(fr.get("height"))
                if lx < fx + fw and fx < lx + lw and ly < fy + fh and fy < ly + lh:
                    fail("%s: the legend covers a plot" % path)
            if lx + lw > W or ly + lh > H:
                fail("%s: the legend leaves the canvas" % path)
    return W, H


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("%s: not a PNG" % path)
    at, idat = 8, b""
    while at < len(data):
        n, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        at += 12 + n
    if depth != 8 or ctype not in (2, 6):
        fail("%s: PNG of depth %d colour type %d" % (path, depth, ctype))
    bpp = 3 if ctype == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), w * bpp, [], bytearray(w * bpp)
    for r in range(h):
        f, line = raw[r * (stride + 1)], bytearray(raw[r * (stride + 1) + 1:(r + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def render(png, items):
    """items: (kind, path, W, H); all drawn on one page, one below another."""
    top, tags = 0, []
    for kind, path, W, H in items:
        tags.append('<img src="file://%s" style="position:absolute;left:0;top:%dpx;width:%dpx;height:%dpx">'
                    % (os.path.abspath(path), top, W, H))
        top += int(H) + 10
    width = int(max(i[2] for i in items))
    with tempfile.TemporaryDirectory() as d:
        page = os.path.join(d, "page.html")
        open(page, "w").write('<html><body style="margin:0;background:white">%s</body></html>' % "".join(tags))
        cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--force-device-scale-factor=1", "--allow-file-access-from-files", "--user-data-dir=" + d,
               "--screenshot=" + os.path.abspath(png), "--window-size=%d,%d" % (width, top), "file://" + page]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        if r.returncode != 0 or not os.path.exists(png):
            fail("chromium failed (%d): %s" % (r.returncode, r.stderr.decode()[-2000:]))
    w, h, bpp, rows = read_png(png)
    top = 0
    for kind, path, W, H in items:
        dark = coloured = 0
        for y in range(top, min(top + int(H), h)):
            row = rows[y]
            for x in range(0, min(int(W), w)):
                r, g, b = row[x * bpp], row[x * bpp + 1], row[x * bpp + 2]
                dark += max(r, g, b) < 100
                coloured += max(r, g, b) - min(r, g, b) > 80
        area = W * H
        if kind == "chart" and (coloured < 200 or dark < 100):
            fail("%s: looks blank in Chromium (%d coloured, %d dark pixels)" % (path, coloured, dark))
        if kind == "images" and dark < 0.1 * area:
            fail("%s: looks blank in Chromium (%d of %d pixels dark)" % (path, dark, area))
        print("%s: %dx%d, %d coloured and %d dark pixels in Chromium" % (path, W, H, coloured, dark))
        top += int(H) + 10


MEASURE = """<script>
const out = [];
document.querySelectorAll("svg").forEach((svg, i) => {
  const r = svg.getBoundingClientRect();
  svg.querySelectorAll("text").forEach(t => {
    const b = t.getBoundingClientRect();
    out.push([i, t.textContent, b.left - r.left, b.right - r.left, b.top - r.top, b.bottom - r.top,
              r.width, r.height, t.getComputedTextLength(), parseFloat(getComputedStyle(t).fontSize)]);
  });
});
document.getElementById("out").textContent = JSON.stringify(out);
</script>"""


def measure(items):
    """Every text of every SVG laid out by Chromium with its own fonts."""
    body = "".join("<div>%s</div>" % open(path).read() for _, path, _, _ in items)
    with tempfile.TemporaryDirectory() as d:
        page = os.path.join(d, "measure.html")
        open(page, "w").write('<html><body style="margin:0">%s<pre id="out"></pre>%s</body></html>' % (body, MEASURE))
        cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + d, "--dump-dom",
               "file://" + page]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    found = re.search(r'<pre id="out">(.*?)</pre>', r.stdout.decode())
    if r.returncode != 0 or not found or not found.group(1):
        fail("chromium could not measure the texts (%d): %s" % (r.returncode, r.stderr.decode()[-2000:]))
    texts = json.loads(html.unescape(found.group(1)))
    worst, widest = 0.0, ""
    for i, s, left, right, top, bottom, W, H, length, size in texts:
        path = items[i][1]
        if left < -0.5 or right > W + 0.5 or top < -0.5 or bottom > H + 0.5:
            fail("%s: text %r at (%.1f..%.1f, %.1f..%.1f) leaves the %gx%g canvas in Chromium"
                 % (path, s, left, right, top, bottom, W, H))
        if length > text_width(s, size) + 0.5:
            fail("%s: text %r is %.1f px wide in Chromium, more than the bound %.1f"
                 % (path, s, length, text_width(s, size)))
        if length / max(text_width(s, size), 1) > worst:
            worst, widest = length / max(text_width(s, size), 1), s
    print("%d texts measured in Chromium: all inside their canvas, the widest (%r) at %.0f%% of its bound"
          % (len(texts), widest, 100 * worst))


def main(argv):
    png = None
    if argv[:1] == ["--render"]:
        png, argv = argv[1], argv[2:]
    items = []
    for a in argv:
        kind, _, path = a.partition(":")
        if kind not in ("chart", "images"):
            fail("unknown kind in %r" % a)
        items.append((kind, path) + check_svg(kind, path))
    if png:
        render(png, items)
        measure(items)


if __name__ == "__main__":
    main(sys.argv[1:])
