#!/usr/bin/env python3
"""Write ctl/dashboard.c from ctl/dashboard.html (the one source of the page):
python3 scripts/embed_html.py [--check]. --check exits 1 when dashboard.c is stale."""
import pathlib, sys

root = pathlib.Path(__file__).resolve().parent.parent
html = (root / "ctl" / "dashboard.html").read_text()
out = ["/* dashboard.c - the HTML page served at \"/\" by the status server.",
       " * GENERATED from ctl/dashboard.html by scripts/embed_html.py: edit the",
       " * .html, then run the script. No external resources; it polls /status",
       " * every 2 s and acts through POST /api/ctl. */",
       '#include "ctl/http.h"', "", "const char http_dashboard_html[] ="]
for line in html.splitlines(True):
    esc = line.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    out.append(f'\t"{esc}"')
out[-1] += ";"
text = "\n".join(out) + "\n"
dst = root / "ctl" / "dashboard.c"
if "--check" in sys.argv:
    sys.exit(0 if dst.read_text() == text else 1)
dst.write_text(text)
