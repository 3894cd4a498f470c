"""The console: `agent-dashboard` (a read-only REST API and live web page) and `agentctl`
(also `kubectl agents`).

Modules:
- ``kube``: the only module that talks to the Kubernetes API (lists, watches, pod logs,
  the few patches agentctl makes);
- ``cache``: the dashboard's watch-fed cache, and the model it recomputes on each change;
- ``views``: pure functions from that model to the API's JSON documents (both the
  dashboard and agentctl print these); ``schemas``: their pydantic models, the OpenAPI
  schema's source;
- ``app``: the FastAPI application; ``dashboard``: its command line;
- ``ctl``: agentctl; ``graphs``: text, DOT and Mermaid renderings of a plan's graph.

Why a task waits comes from the operator's own pure decision (``scheduling.decide``)
over the same cache type the operator keeps (``store.Store``), never from a copy of
its rules.
"""
