"""A local emulator of the Kie.ai Market API (z-image): createTask, recordInfo, callbacks, credits, result files.

It speaks the shapes documented in research/kie.md §1 (envelope codes with HTTP 200 by default, `resultJson`
as a JSON string, ms timestamps, HMAC-signed callbacks) and adds a JSON control API under `/control/` for
tests: timing, scripted faults, callback behaviour, credits and a record of every call received.
"""
