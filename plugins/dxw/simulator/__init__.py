"""The source simulator: a real HTTP server on 127.0.0.1 that speaks like the sources do."""

from dxw.simulator.server import SimulatorServer, serve_forever, start_in_thread

__all__ = ["SimulatorServer", "serve_forever", "start_in_thread"]
