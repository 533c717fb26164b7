#!/usr/bin/env python3
"""md2man.py - the small Markdown subset of vigil's docs to a man page (roff).

docs/configuration.md is the one source of the configuration reference: the
vigil.yaml(5) page is generated from it, and so are vigild(8) and vigilctl(8)
from docs/man/*.md. What it understands (anything else is an error, so a new
construct in the docs cannot silently vanish from the page):

  # Title                 dropped (the page's NAME comes from --name/--summary)
  ## Heading              .SH HEADING (upper case)
  ### Heading             .SS Heading
  paragraph lines         filled text; a blank line ends a paragraph
  - item                  a bullet (continuation lines indented)
  ```                     a literal block (no filling)
  | a | b |               a table: each row becomes a tagged paragraph (.TP),
                          the first cell as tag, the others as "Header: cell"
                          (just "cell" in a two-column table)
  `code` **bold** *it*    bold, bold, italic
  [text](target)          text (the target is dropped)

Usage: md2man.py --name NAME --section N --summary TEXT [--version V]
                 [--date YYYY-MM-DD] [--see-also "a(8), b(5)"] FILE.md > OUT
The output renders with `groff -man -ww -z` without a warning (tested).
"""
import argparse
import datetime
import os
import re
import sys

# Unicode the docs may use, as groff special characters (groff's default
# device has no glyph for raw UTF-8 input).
SPECIAL = {
    "\u2014": r"\(em", "\u2013": r"\(en", "\u2026": "...", "\u2192": r"\(->",
    "\u2190": r"\(<-", "\u2264": r"\(<=", "\u2265": r"\(>=", "\u00d7": r"\(mu",
    "\u2018": r"\(oq", "\u2019": r"\(cq", "\u201c": r"\(lq", "\u201d": r"\(rq",
    "\u00a0": r"\ ", "\u2260": r"\(!=", "\u00b1": r"\(+-",
}


class DocError(Exception):
    pass


def escape(text):
    """Plain text to roff: backslashes, minus signs, special characters."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append(r"\e")
        elif ch == "-":
            out.append(r"\-")
        elif ch in SPECIAL:
            out.append(SPECIAL[ch])
        elif ord(ch) > 126:
            out.append(r"\[u%04X]" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*|\[([^\]]+)\]\(([^)]*)\)")


def inline(text):
    """Markdown inline markup to roff font escapes."""
    out, pos = [], 0
    for m in INLINE.finditer(text):
        out.append(escape(text[pos:m.start()]))
        code, bold, ital, ltext = m.group(1), m.group(2), m.group(3), m.group(4)
        if code is not None:
            out.append(r"\fB" + escape(code) + r"\fR")
        elif bold is not None:
            out.append(r"\fB" + inline(bold) + r"\fR")
        elif ital is not None:
            out.append(r"\fI" + inline(ital) + r"\fR")
        else:
            out.append(inline(ltext))
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def line_out(text):
    """A text line that roff will not take for a request."""
    if text.startswith((".", "'")):
        return r"\&" + text
    return text


def split_row(line):
    """The cells of a Markdown table row (a | inside `code` is not a separator)."""
    body = line.strip()
    if not (body.startswith("|") and body.endswith("|")):
        raise DocError(f"table row must start and end with |: {line!r}")
    cells, cur, in_code = [], "", False
    for ch in body[1:-1]:
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code:
            cells.append(cur.strip())
            cur = ""
        else:
            cur += ch
    cells.append(cur.strip())
    return cells


def table(rows, lineno):
    """Rows (header, separator, body...) as tagged paragraphs."""
    if len(rows) < 2 or not re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", rows[1].replace(" ", "")):
        raise DocError(f"line {lineno}: a table needs a header and a |---| separator row")
    head = split_row(rows[0])
    out = []
    for r in rows[2:]:
        cells = split_row(r)
        if len(cells) != len(head):
            raise DocError(f"line {lineno}: row has {len(cells)} cells, header {len(head)}: {r!r}")
        out += [".TP", line_out(inline(cells[0]))]
        if len(head) == 2:
            out.append(line_out(inline(cells[1])) if cells[1] else r"\&")
            continue
        first = True
        for h, c in zip(head[1:], cells[1:]):
            if not c:
                continue
            if not first:
                out.append(".br")
            out.append(line_out(r"\fI" + inline(h[:1].upper() + h[1:]) + r":\fR " + inline(c)))
            first = False
    return out


def convert(md, name, section, summary, version, date, see_also):
    lines = md.splitlines()
    out = [
        f'.TH "{name.upper()}" "{section}" "{date}" "vigil {version}" "vigil manual"',
        ".SH NAME",
        f"{escape(name)} \\- {escape(summary)}",
    ]
    i, in_section = 0, False
    para = []

    def flush():
        if para:
            out.append(".PP")
            out.extend(line_out(inline(p)) for p in para)
            para.clear()

    while i < len(lines):
        line = lines[i].rstrip()
        if line.startswith("# "):
            flush()
            i += 1
            continue
        if not in_section and line.strip() and not line.startswith("## "):
            out.append(".SH DESCRIPTION")
            in_section = True
        if line.startswith("## "):
            flush()
            out.append(f'.SH "{escape(line[3:].strip().upper())}"')
            in_section = True
        elif line.startswith("### "):
            flush()
            out.append(f'.SS "{escape(line[4:].strip())}"')
        elif line.startswith("#"):
            raise DocError(f"line {i + 1}: heading level not supported: {line!r}")
        elif line.startswith("```"):
            flush()
            j = i + 1
            block = []
            while j < len(lines) and not lines[j].startswith("```"):
                block.append(lines[j].rstrip())
                j += 1
            if j == len(lines):
                raise DocError(f"line {i + 1}: unterminated ``` block")
            out += [".PP", ".RS 4", ".nf"]
            out += [line_out(escape(b)) if b else r"\&" for b in block]
            out += [".fi", ".RE"]
            i = j
        elif line.startswith("|"):
            flush()
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            out += table(lines[i:j], i + 1)
            i = j - 1
        elif line.startswith("- "):
            flush()
            item = [line[2:].strip()]
            while i + 1 < len(lines) and lines[i + 1].startswith("  ") and lines[i + 1].strip():
                i += 1
                item.append(lines[i].strip())
            out += [r".IP \(bu 2", line_out(inline(" ".join(item)))]
        elif not line.strip():
            flush()
        elif line.lstrip() != line and not para:
            raise DocError(f"line {i + 1}: indented text outside a list: {line!r}")
        else:
            para.append(line.strip())
        i += 1
    flush()
    if see_also:
        out += ['.SH "SEE ALSO"', inline(see_also)]
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--section", required=True)
    ap.add_argument("--summary", required=True)
    ap.add_argument("--version", default="")
    ap.add_argument("--date", default="")
    ap.add_argument("--see-also", default="")
    ap.add_argument("file")
    a = ap.parse_args()
    date = a.date
    if not date and os.environ.get("SOURCE_DATE_EPOCH"):
        date = datetime.datetime.fromtimestamp(int(os.environ["SOURCE_DATE_EPOCH"]),
                                               datetime.timezone.utc).strftime("%Y-%m-%d")
    with open(a.file, encoding="utf-8") as f:
        md = f.read()
    try:
        sys.stdout.write(convert(md, a.name, a.section, a.summary, a.version, date, a.see_also))
    except DocError as e:
        sys.exit(f"md2man.py: {a.file}: {e}")


if __name__ == "__main__":
    main()
