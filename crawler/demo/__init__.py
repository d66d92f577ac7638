"""The demo: a generated web served on loopback by a real virtual-host HTTP server.

`linkgraph demo` crawls it; the tests' test web and the benchmarks' bench web are served by the
same server (`server.py`), described by the same model (`web.py`).

- `web.py`: what a web is (resources by host and path, `{port}` templates, hosts files).
- `server.py`: `LocalWebServer`: the serving thread, its socket and the request log.
- `connection.py`: one client connection: HTTP/1.1 with keep-alive and per-request delays.
- `demoweb.py`: the demo web `linkgraph demo` crawls.
- `serve.py`: serving a web from its own process (`python -m crawler.demo serve`).
"""
