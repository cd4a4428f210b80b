"""Intake: what brings a delivery in and drives it through landing and its gate.

``ingest`` pulls a source of the registry, ``imports`` takes DHIS2 files and unit spreadsheets,
``upload_folder`` watches the inbox, ``uploads`` reads and checks the spreadsheets.
"""
