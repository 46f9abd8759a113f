"""The browser room: under Pyodide (``sys.platform == "emscripten"``: JupyterLite, PyScript, marimo,
Node) requests go through the JavaScript ``fetch`` instead of sockets. Imported only there: the
clients choose it in their room hooks, so on CPython nothing of it is ever imported."""
