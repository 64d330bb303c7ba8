"""Executors: the implementations of the seam in engine/dispatch/executors.py.

`json_protocol` runs 1.x functions (the out-of-process JSON protocol), `proto_protocol` runs
the Durable Task protobuf protocol over a `ProtoChannel` (`in_process` for 2.x Functions
apps), and `routing` picks one per function from the app's index.
"""
