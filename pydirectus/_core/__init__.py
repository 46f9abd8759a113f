"""The sans-I/O core: everything that decides, nothing that waits.

The spec and its interpreter, the request and response records, the HTTP/1.1 and WebSocket
codecs, the Directus realtime protocol, the auth, retry and call policies, and the flows of
paging, bulk writes, files and TUS. Nothing here touches a socket, a file, a thread, a clock or
an event loop: flows yield effects (``effects``) that a runner of ``_sync`` or ``_async`` performs.
``tests/unit/test_rooms.py`` holds that line.
"""
