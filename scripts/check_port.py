"""Say clearly what to do when the port a server wants is taken (used by `make lab`, `make voila`).

    python scripts/check_port.py PORT "make lab PORT=8889"

Exits 0 when PORT is free on this machine; otherwise prints what is wrong and the command to
run instead, and exits 1. Jupyter's own message ("port 8888 is not available") says neither
what is using it nor what to do.
"""

from __future__ import annotations

import socket
import sys


def port_is_free(port: int) -> bool:
    """True when nothing listens on ``port`` on this machine (IPv4 loopback and all addresses)."""
    for host in ("127.0.0.1", ""):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def main(argv: list[str]) -> int:
    if len(argv) != 3 or not argv[1].isdigit() or not 0 < int(argv[1]) < 65536:
        print(f"usage: {argv[0]} PORT ALTERNATIVE_COMMAND (PORT a number from 1 to 65535)",
              file=sys.stderr)
        return 2
    port, alternative = int(argv[1]), argv[2]
    if port_is_free(port):
        return 0
    print(f"Port {port} is already in use, probably by another Jupyter or Voila server.\n"
          f"  - to use another port, run:  {alternative}\n"
          f"  - to stop a Jupyter server you started earlier:  .venv/bin/jupyter server stop {port}\n"
          f"  - or open the server that is running: its address is in the terminal that started it",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
