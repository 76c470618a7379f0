"""`archdsl serve SPEC`: a live preview page of a spec file, updated when the file is saved.

A standard-library HTTP server bound to 127.0.0.1 (never another interface) serves one page and
three answers about the one spec it was started with: `/state` (the diagram as SVG, the table
as HTML and the diagnostics as the terminal prints them, for a view, theme and style), and
`/download` (the diagram as SVG, PNG or PDF). The page asks for `/state` twice a second and
redraws when the file changed. Nothing is served from the file system: any other path is 404,
and `use` imports may not leave the spec's folder (`roots`), so nothing outside that folder can
be read through the server.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path

from archdsl.cli.common import OK, UsageError
from archdsl.render.choices import STYLES, THEMES, VIEWS

HELP = "a live preview page of a spec file: diagram, table and diagnostics, updated on save"
DESCRIPTION = """\
Serve a page at http://127.0.0.1:PORT/ that shows the diagram, the per-layer
table and the diagnostics of SPEC (a file) and redraws within a second of the
file being saved. View, theme and style are chosen on the page; the diagram
downloads as SVG, PNG or PDF. Bound to 127.0.0.1 only; Ctrl-C stops it.

examples:
  archdsl serve my_net.arch
  archdsl serve specs/resnet50.arch --port 8765 --no-browser
"""
FORMATS = {"svg": "image/svg+xml", "png": "image/png", "pdf": "application/pdf"}


def register(sub) -> None:
    p = sub.add_parser("serve", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", metavar="SPEC", help="a spec file (.arch or .yaml)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.set_defaults(run=run)


class Preview:
    """The spec's current state per (view, theme, style), recomputed when the file changes."""

    def __init__(self, path: Path):
        self.path = path.resolve()
        self._cache: dict = {}
        self._lock = threading.Lock()

    def version(self) -> str:
        try:
            st = self.path.stat()
        except OSError:
            return "missing"
        return f"{st.st_mtime_ns}-{st.st_size}"

    def state(self, view: str, theme: str, style: str) -> dict:
        key = (self.version(), view, theme, style)
        with self._lock:
            if key not in self._cache:
                self._cache = {key: self._compute(view, theme, style)}  # only the latest
            return {"version": key[0], **self._cache[key]}

    def _load(self):
        from archdsl.model import load_model

        return load_model(self.path, roots=[self.path.parent])

    def _compute(self, view: str, theme: str, style: str) -> dict:
        from archdsl.diagnostics import ArchError, render_text
        from archdsl.report.tables import render_html

        try:
            model = self._load()
        except ArchError as err:
            return {"ok": False, "diagnostics": render_text(err.diagnostics, False),
                    "svg": "", "table": ""}
        except OSError as err:
            return {"ok": False, "diagnostics": f"cannot read {self.path.name}: {err}",
                    "svg": "", "table": ""}
        try:
            svg = model.render(format="svg", view=view, theme=theme, style=style).decode()
        except Exception as err:  # noqa: BLE001  (no Graphviz: the table still shows)
            svg = ""
            diagnostics = f"no diagram: {err}"
        else:
            diagnostics = ""
        return {"ok": True, "diagnostics": diagnostics, "svg": svg,
                "table": render_html(model), "title": repr(model)}

    def download(self, fmt: str, view: str, theme: str, style: str) -> bytes:
        return self._load().render(format=fmt, view=view, theme=theme, style=style)


def _options(query: dict) -> tuple[str, str, str]:
    def pick(name, choices):
        value = query.get(name, [choices[0]])[0]
        if value not in choices:
            raise ValueError(f"{name} must be one of {', '.join(choices)}")
        return value

    return pick("view", VIEWS), pick("theme", THEMES), pick("style", STYLES)


def make_server(spec: str, port: int = 0):
    """The server (not started) for `spec`; `server.server_address` has the port."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlsplit

    path = Path(spec)
    if not path.is_file():
        raise UsageError(f"archdsl serve needs a spec file; {spec!r} is not one")
    preview = Preview(path)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet: no line per request
            pass

        def send(self, code: int, body: bytes, kind: str, extra: dict | None = None):
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802  (http.server's name)
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            try:
                if url.path == "/":
                    self.send(200, PAGE.replace("{{name}}", path.name).encode(),
                              "text/html; charset=utf-8")
                elif url.path == "/state":
                    body = json.dumps(preview.state(*_options(query))).encode()
                    self.send(200, body, "application/json")
                elif url.path == "/download":
                    fmt = query.get("format", ["svg"])[0]
                    if fmt not in FORMATS:
                        raise ValueError("format must be svg, png or pdf")
                    data = preview.download(fmt, *_options(query))
                    self.send(200, data, FORMATS[fmt], {
                        "Content-Disposition": f'attachment; filename="{path.stem}.{fmt}"'})
                else:
                    self.send(404, b"not found", "text/plain")
            except ValueError as err:
                self.send(400, str(err).encode(), "text/plain")
            except Exception as err:  # noqa: BLE001  (the page shows it; the server goes on)
                self.send(500, f"{type(err).__name__}: {err}".encode(), "text/plain")

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def run(args) -> int:
    server = make_server(args.spec, args.port)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    if not getattr(args, "quiet", False):
        sys.stderr.write(f"previewing {args.spec} at {url} (Ctrl-C stops)\n")
    graphical = any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")) or \
        sys.platform in ("darwin", "win32")
    if not args.no_browser and graphical:  # never a text browser taking over the terminal
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return OK


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>archdsl: {{name}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1em; }
header { display: flex; gap: 1em; align-items: center; flex-wrap: wrap; }
#diagnostics { background: #fff3f3; color: #900; padding: .5em; white-space: pre; }
#diagnostics:empty { display: none; }
#diagram svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 90%; }
td, th { padding: 0 .6em; border-bottom: 1px solid #eee; }
</style></head>
<body>
<header><b>{{name}}</b> <span id="title"></span>
<label>view <select id="view">VIEW_OPTIONS</select></label>
<label>theme <select id="theme">THEME_OPTIONS</select></label>
<label>style <select id="style">STYLE_OPTIONS</select></label>
download <a id="svg" href="#">SVG</a> <a id="png" href="#">PNG</a> <a id="pdf" href="#">PDF</a>
</header>
<pre id="diagnostics"></pre>
<div id="diagram"></div>
<div id="table"></div>
<script>
let shown = "";
function options() {
  return ["view", "theme", "style"].map(k => k + "=" + document.getElementById(k).value).join("&");
}
async function refresh() {
  try {
    const r = await fetch("/state?" + options(), {cache: "no-store"});
    const s = await r.json();
    const key = s.version + options();
    if (key !== shown) {
      shown = key;
      document.getElementById("diagnostics").textContent = s.diagnostics;
      document.getElementById("title").textContent = s.title || "";
      if (s.ok) {
        document.getElementById("diagram").innerHTML = s.svg;
        document.getElementById("table").innerHTML = s.table;
      }
      document.body.dataset.version = s.version;
    }
  } catch (e) { document.getElementById("diagnostics").textContent = "server stopped"; }
}
const asked = new URLSearchParams(location.search);  // `/?view=stages&theme=dark` to link a choice
for (const k of ["view", "theme", "style"]) {
  const select = document.getElementById(k);
  if (asked.has(k)) select.value = asked.get(k);
  select.addEventListener("change", () => {
    asked.set(k, select.value);
    history.replaceState(null, "", "?" + asked.toString());
    refresh();
  });
}
for (const f of ["svg", "png", "pdf"]) {
  document.getElementById(f).addEventListener("click",
    e => { e.target.href = "/download?format=" + f + "&" + options(); });
}
refresh();
setInterval(refresh, 500);
</script></body></html>
"""
PAGE = (PAGE.replace("VIEW_OPTIONS", "".join(f"<option>{v}</option>" for v in VIEWS))
        .replace("THEME_OPTIONS", "".join(f"<option>{v}</option>" for v in THEMES))
        .replace("STYLE_OPTIONS", "".join(f"<option>{v}</option>" for v in STYLES)))
