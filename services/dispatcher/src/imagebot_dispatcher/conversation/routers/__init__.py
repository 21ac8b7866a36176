"""The only place routers are included, in order: errors first, fallback last."""

from __future__ import annotations

from aiogram import Dispatcher, Router

from imagebot_dispatcher.conversation.routers import catalog, errors, fallback, generate, start

ROUTERS: tuple[Router, ...] = (errors.router, start.router, catalog.router, generate.router, fallback.router)


def include_conversation_routers(dp: Dispatcher) -> None:
    """Attach the module-level routers to `dp`, in dispatch order.

    A Router has one parent. A process runs one Dispatcher, but tests build one per case, so a router still
    attached to an earlier (closed) Dispatcher is detached from it first; aiogram has no public detach.
    """
    for router in ROUTERS:
        previous = router.parent_router
        if previous is not None and previous is not dp:
            previous.sub_routers.remove(router)
            router._parent_router = None
        if router.parent_router is None:
            dp.include_router(router)
