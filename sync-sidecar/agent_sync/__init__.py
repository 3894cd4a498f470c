"""The sync sidecar: a plan's markdown task list and its AgentTasks, kept in agreement.

Pure layers (no I/O): `ids` (task ID pattern, object names), `markdown` (parse),
`lint` (problems across tasks), `render` (manifests), `writeback` (checkbox and
status-comment edits), `reconcile` (what to apply, prune and re-run).
I/O layers: `textfile` (read, atomic write), `cluster` (Kubernetes API), `gitrepo`
(git mode), `watching` (file events and the debounce), `metrics`.
`sidecar` wires them into the `run` loop; `cli` is the command line.
"""
