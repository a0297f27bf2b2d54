"""The sandbox modes, by name: chosen once per zygote, recorded in every result, shown to the TA."""
from __future__ import annotations

from enum import Enum


class SandboxMode(str, Enum):
    """How a child is isolated; where the grader runs decides which, never whether (DESIGN.md)."""

    ROOT = "root"  # root with CAP_SYS_ADMIN (a server): namespaces, pivoted root, one uid and cgroup per slot
    USERNS = "userns"  # a grader without root: the same namespaces inside a user namespace mapping only its uid
    CONTAINER = "container"  # root without CAP_SYS_ADMIN (Docker, a pod): a slot uid first, then USERNS's sandbox
    UID = "uid"  # no namespaces at all: a separate uid, a private copy of the secrets, a seccomp filter
    NONE = "none"  # no protection: only when asked for by name (CNN_GRADER_SANDBOX=none)

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    SandboxMode.ROOT: "full",
    SandboxMode.USERNS: "user namespaces (the grader is not running as root: the same isolation, one uid for all "
                        "slots)",
    SandboxMode.CONTAINER: "container (root without CAP_SYS_ADMIN: a uid per slot, then user namespaces)",
    SandboxMode.UID: "separate uid and seccomp (no namespaces allowed here: secrets copied out of reach, "
                     "no new sockets)",
    SandboxMode.NONE: "none (asked for by name: student code is not isolated)",
}
