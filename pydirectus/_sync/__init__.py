"""The blocking room: the sync runner of the core's flows, the HTTP transport on sockets, the
realtime connection on a socket and a reader thread, and the local-file operations."""
