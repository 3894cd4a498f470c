"""The client layer the operator and the sync sidecar share: how to reach the API server
(`kubeconfig`) and which replica may write (`election`).

It may import `kubernetes` and `agent_api`, never kopf or the programs themselves.
"""
