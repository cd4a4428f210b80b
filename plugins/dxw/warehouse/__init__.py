"""The warehouse itself: connections and the embedded server, locks, roles and row security, and
the schema names more than one layer uses.
"""
