"""Proxies that make a sandboxed student's code read like ordinary Python in a hidden test.

``student.Inception(192, 64, 96, 128, 16, 32, 32)`` builds the module in the
child and returns a ``RemoteObject``; ``mine.load_state_dict(ref.state_dict())``
ships the tensors by value; ``mine(x)`` runs the forward pass there and
returns a plain tensor here. Nothing the child returns is more than data or a
numbered handle.
"""
from __future__ import annotations

import time

from grader import wire
from grader.i18n import _
from grader.sandbox.client import Child, SandboxTimeout, StudentTimeout
from grader.wire import Op

AFTER_A_TIMEOUT = 2.0

# Methods of nn.Module called in one round trip (no separate attribute fetch).
MODULE_METHODS = frozenset({
    "load_state_dict", "state_dict", "to", "cpu", "cuda", "double", "float", "half", "eval", "train",
    "forward", "parameters", "named_parameters", "buffers", "named_buffers", "children", "named_children",
    "modules", "named_modules", "requires_grad_", "zero_grad", "extra_repr", "to_empty", "apply",
})


class Session:
    """One sandboxed child plus the time budget of the submission it grades."""

    def __init__(self, child: Child, *, call_timeout: float, budget: float):
        self.child = child
        self.call_timeout = call_timeout
        self.deadline = time.monotonic() + budget
        self.struck = False

    def request(self, message: dict, timeout: float | None = None):
        """Send one request (``wire.request``) and wrap what comes back; a timeout strikes the session."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.child.kill(_("the time limit for the whole submission was used up"))
            raise SandboxTimeout(self.child.dead)
        try:
            limit = AFTER_A_TIMEOUT if self.struck else (timeout or self.call_timeout)
            value = self.child.request(self.encode(message), timeout=min(limit, left), handle=self.handle)
        except (StudentTimeout, SandboxTimeout):
            self.strike()
            raise
        return value  # a description (Op.DESCRIBE) is plain data: decoded and verified without handles

    def strike(self) -> None:
        """After one call ran out of time, later calls get a short limit: one endless loop, called by every
        test, must not cost minutes (each of those tests fails anyway)."""
        self.struck = True

    def encode(self, value):
        if isinstance(value, RemoteObject):
            return {wire.HANDLE_KEY: value._handle}
        if isinstance(value, dict):
            return {key: self.encode(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.encode(item) for item in value)
        return value

    def handle(self, value: dict) -> "RemoteObject":
        """A handle the child sent (``{HANDLE_KEY: n, "type": ..., "mro": [...], "callable": ...}``) as a proxy;
        ``Child.request`` calls it while it decodes an answer."""
        return RemoteObject(self, value[wire.HANDLE_KEY], str(value.get("type", "?")),
                            [str(m) for m in value.get("mro", [])], bool(value.get("callable")))


class RemoteObject:
    """A student's object that lives in the sandbox (a module, class, function ...)."""

    __slots__ = ("_session", "_handle", "_type", "_mro", "_callable")

    def __init__(self, session: Session, handle: int, type_name: str, mro: list[str], is_callable: bool):
        self._session, self._handle, self._type, self._mro, self._callable = session, handle, type_name, mro, is_callable

    def __call__(self, *args, **kwargs):
        return self._session.request(wire.request(Op.CALL, target=self, args=list(args), kwargs=kwargs))

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if name in MODULE_METHODS and "Module" in self._mro:
            return RemoteMethod(self, name)
        return self._session.request(wire.request(Op.GETATTR, target=self, attr=name))

    def __getitem__(self, key):
        return self._session.request(wire.request(Op.GETITEM, target=self, key=key))

    def __len__(self) -> int:
        return int(self._session.request(wire.request(Op.LEN, target=self)))

    def __iter__(self):
        return iter(self._session.request(wire.request(Op.ITER, target=self)))

    def __eq__(self, other) -> bool:
        return isinstance(other, RemoteObject) and other._session is self._session and other._handle == self._handle

    def __hash__(self) -> int:
        return hash((id(self._session), self._handle))

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<student {self._type}>"


class RemoteMethod:
    __slots__ = ("_owner", "_name")

    def __init__(self, owner: RemoteObject, name: str):
        self._owner, self._name = owner, name

    def __call__(self, *args, **kwargs):
        owner = self._owner
        return owner._session.request(wire.request(Op.METHOD, target=owner, name=self._name,
                                                    args=list(args), kwargs=kwargs))


class StudentNamespace:
    """``student.<name>``: a name defined by the submission's cells, fetched from the sandbox."""

    def __init__(self, session: Session):
        object.__setattr__(self, "_session", session)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._session.request(wire.request(Op.GET, name=name))

    def __repr__(self) -> str:
        return "<student's notebook>"
