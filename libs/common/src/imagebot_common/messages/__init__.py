"""Wire contracts: one model per payload, imported by publisher and consumer alike.

A wire change is a new version (a new model and header value), never an edit of a published one.
"""
