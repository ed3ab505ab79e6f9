"""Run mode: cases moving through a playbook event by event.

- ``events``: the JSONL event format and the fact merge (RFC 7396)
- ``gates``: gate decisions from the evaluator's result plus valid waivers
- ``flow``: the durable_rules adapter (the only module importing durable, lazily)
- ``runner``: one event -> one atomic store transaction
- ``runfile``: a stream of events and its summary
- ``inspect``: status / history / stalled-case views
- ``snapshot``: pinning cases to the playbook document they started on
"""
