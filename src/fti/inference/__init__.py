"""Inference pipeline: the model server (deployments, traffic splits, request log, metrics).

The server is built on the Protocols in ``fti.inference.ports``; ``create_app`` in
``fti.inference.server`` wires them into a FastAPI app.
"""
