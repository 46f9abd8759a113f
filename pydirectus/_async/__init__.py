"""The asyncio room: the async runner of the core's flows, the HTTP transport on asyncio
protocols, and the realtime connection on the event loop."""
