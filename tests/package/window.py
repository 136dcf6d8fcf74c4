#!/usr/bin/env python3
"""Waits until a window named NAME on an Xvfb display shows a painted page, and says
after how many milliseconds (since START_NS, a time.monotonic_ns() reading).

Usage: window.py DISPLAY FBFILE NAME START_NS TIMEOUT_S PNG_OUT

Xvfb was started with -fbdir, so FBFILE is its live screen in XWD format. The window is
found with xwininfo; "painted" means its area holds at least MIN_COLORS distinct colours
(an unpainted WebKit view is one flat colour; the dashboard's text and bars are many).
The last frame looked at is written to PNG_OUT, painted or not, for a person to see.
Exit 0 when painted, 1 on timeout.
"""

import re
import struct
import subprocess
import sys
import time
import zlib

MIN_COLORS = 24


def find_window(display, name):
    """(x, y, width, height) of the largest top-level window called `name`, or None."""
    try:
        out = subprocess.run(
            ["xwininfo", "-display", display, "-root", "-tree"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout
    except subprocess.TimeoutExpired:
        return None
    best = None
    # 0x600007 "Headroom": ("headroom" "Headroom")  1200x800+0+0  +0+0
    pattern = re.compile(r'^\s*0x[0-9a-f]+ "([^"]*)".*?(\d+)x(\d+)\+-?\d+\+-?\d+\s+\+(-?\d+)\+(-?\d+)')
    for line in out.splitlines():
        m = pattern.match(line)
        if not m or m.group(1) != name:
            continue
        w, h, x, y = int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5))
        if w * h > 0 and (best is None or w * h > best[2] * best[3]):
            best = (x, y, w, h)
    return best


def read_xwd(path):
    """(width, height, bytes_per_line, bits_per_pixel, pixels) of an XWD screen file."""
    with open(path, "rb") as f:
        data = f.read()
    fields = struct.unpack(">25I", data[:100])
    header_size, width, height = fields[0], fields[4], fields[5]
    bits_per_pixel, bytes_per_line, ncolors = fields[11], fields[12], fields[19]
    start = header_size + ncolors * 12
    return width, height, bytes_per_line, bits_per_pixel, data[start:start + height * bytes_per_line]


def crop(screen, box):
    """The raw 32-bit rows inside box, clipped to the screen."""
    width, height, bpl, bpp, pixels = screen
    if bpp != 32:
        raise SystemExit(f"unexpected Xvfb depth: {bpp} bits per pixel")
    x, y, w, h = box
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    return [pixels[row * bpl + x0 * 4: row * bpl + x1 * 4] for row in range(y0, y1)]


def distinct_colors(rows):
    seen = set()
    for line in rows:
        seen.update(memoryview(line).cast("I"))
    return len(seen)


def write_png(path, rows):
    # Xvfb's words are little-endian 0x00RRGGBB: bytes B, G, R, pad.
    raw = b"".join(
        b"\x00" + bytes(b for i in range(0, len(line), 4) for b in (line[i + 2], line[i + 1], line[i]))
        for line in rows
    )
    height, width = len(rows), len(rows[0]) // 4 if rows else 0

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 6)))
        f.write(chunk(b"IEND", b""))


def main():
    display, fbfile, name, start_ns, timeout_s, png_out = sys.argv[1:7]
    start_ns, deadline = int(start_ns), time.monotonic() + float(timeout_s)
    rows, colors = [], 0
    while time.monotonic() < deadline:
        box = find_window(display, name)
        if box:
            rows = crop(read_xwd(fbfile), box)
            colors = distinct_colors(rows)
            if colors >= MIN_COLORS:
                ms = (time.monotonic_ns() - start_ns) // 1_000_000
                write_png(png_out, rows)
                print(f"painted window {box[2]}x{box[3]} with {colors} colours after {ms} ms")
                return 0
        time.sleep(0.05)
    if rows:
        write_png(png_out, rows)
    print(f"no painted window named {name!r} within {timeout_s} s "
          f"(last look: {colors} colours)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
