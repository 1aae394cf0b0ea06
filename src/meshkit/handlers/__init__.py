"""The mesh's business logic: plain functions (typed event, HandlerContext) -> follow-up events.

One module per side of the flows: ``central`` (governance account), ``producer`` and
``consumer`` (domain accounts). Routers are named by ``meshkit.topology.GROUPS``. Nothing here
knows about Lambda or the local mesh: both engines run exactly this code.
"""
