"""Serving a fake on 127.0.0.1: the part every fake server shares."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web


async def serve(app: web.Application, port: int = 0) -> tuple[web.AppRunner, int]:
    """Serve `app` on 127.0.0.1 (on a free port when `port` is 0); the runner and the port it got."""
    # No access log, and no waiting out a handler the test left hanging when it stops.
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, int(runner.addresses[0][1])


async def close(runner: web.AppRunner | None, sockets: Iterable[web.WebSocketResponse] = ()) -> None:
    """Close the open websockets, then stop serving."""
    for ws in list(sockets):
        await ws.close()
    if runner is not None:
        await runner.cleanup()
