"""Landing: every source's records go into ``raw`` through one all-or-nothing COPY loader."""
