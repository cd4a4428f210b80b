"""The warehouse's schema names that more than one layer writes or reads.

``marts_audit`` holds the quality gate's runs and failures (written by :mod:`dxw.quality`) and the
publish log (written by :mod:`dxw.publish`); both read it back, and so do the report and
``dxw status``.
"""

AUDIT_SCHEMA = "marts_audit"
