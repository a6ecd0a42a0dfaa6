#!/usr/bin/env python3
"""A TCP port on 127.0.0.1 that accepts connections and never answers: an
IMAP server that does not respond (no greeting, no TLS handshake). Prints
"silent on 127.0.0.1:PORT" once it listens; runs until it is killed."""
import socket
import sys
import threading


def hold(conn):
    # Read and drop whatever comes, say nothing, until the peer goes.
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass
    finally:
        conn.close()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)
    print("silent on 127.0.0.1:%d" % srv.getsockname()[1], flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=hold, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
