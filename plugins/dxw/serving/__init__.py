"""Serving: what readers get from the published marts (the semi-annual report, the terminal tables)."""
