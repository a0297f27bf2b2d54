"""A static scan, in the trusted process, for code that tampers with the grader rather than solving the exercise.

It never changes a score: the sandbox and the trusted checks are what keep
scores honest. It marks a submission "needs review" so a TA looks at it.
It only parses the code (``ast``); nothing of the submission is imported or run.

What it looks for, each with the line it was found on:

- patching libraries, builtins or the grader: assigning to attributes of an
  imported module (``torch.allclose = ...``, ``nn.Module.parameters = ...``,
  ``runtime.Runtime.handle = ...``), ``setattr``, ``builtins``, importing the
  grader or pytest, editing ``sys.modules``;
- objects that lie: defining ``__eq__``/``__ne__``/``__hash__``,
  ``__reduce__`` and other pickling hooks, ``__torch_function__``,
  subclassing ``torch.Tensor`` or a built-in value type (``int``, ``float``...);
- introspection: ``gc``, ``inspect``, frames (``sys._getframe``, ``f_back``,
  ``f_locals``...), ``__globals__``, ``__subclasses__``, ``__code__``;
- native code and system access: ``ctypes``, ``mmap``, ``/proc``, ``/sys``,
  ``/dev``, ``/tmp`` and other absolute system paths, walking directories
  from ``/``, symlinks, file permissions;
- processes and signals: ``fork``, ``kill``, ``setsid``, ``subprocess``,
  threads, ``signal``, ``resource``, ``atexit``;
- the time limit and resource bombs: ``while True`` with no ``break``,
  catching ``BaseException`` (the grader's time limit is one), sizes of
  4 Gi and more;
- network and persistence: sockets and HTTP clients, ``.pth``,
  ``sitecustomize``, IPython startup files, ``site-packages``.

Docstrings are not scanned (a comment about ``/proc`` is not code touching it).
"""
from __future__ import annotations

import ast
import re
from functools import lru_cache

from grader.i18n import N_, _, language
from grader.notebook import Cell

SUSPICIOUS_MODULES = {
    "ctypes": N_("loads native code (ctypes)"),
    "cffi": N_("loads native code (cffi)"),
    "mmap": N_("maps memory directly (mmap)"),
    "gc": N_("inspects the garbage collector (gc)"),
    "inspect": N_("inspects live frames (inspect)"),
    "traceback": N_("inspects interpreter frames (traceback)"),
    "socket": N_("opens network connections (socket)"),
    "ssl": N_("opens network connections (ssl)"),
    "asyncio": N_("opens network connections or processes (asyncio)"),
    "subprocess": N_("starts processes (subprocess)"),
    "pty": N_("starts processes (pty)"),
    "signal": N_("changes signal handling (signal)"),
    "multiprocessing": N_("starts processes (multiprocessing)"),
    "threading": N_("starts threads (threading)"),
    "_thread": N_("starts threads (_thread)"),
    "atexit": N_("registers exit handlers (atexit)"),
    "importlib": N_("imports modules dynamically (importlib)"),
    "site": N_("changes the import system (site)"),
    "pickle": N_("unpickles objects (pickle)"),
    "copyreg": N_("changes pickling (copyreg)"),
    "dill": N_("unpickles objects (dill)"),
    "cloudpickle": N_("unpickles objects (cloudpickle)"),
    "marshal": N_("loads code objects (marshal)"),
    "urllib": N_("reaches the network (urllib)"),
    "urllib3": N_("reaches the network (urllib3)"),
    "requests": N_("reaches the network (requests)"),
    "http": N_("reaches the network (http)"),
    "httpx": N_("reaches the network (httpx)"),
    "ftplib": N_("reaches the network (ftplib)"),
    "smtplib": N_("reaches the network (smtplib)"),
    "telnetlib": N_("reaches the network (telnetlib)"),
    "xmlrpc": N_("reaches the network (xmlrpc)"),
    "webbrowser": N_("opens a browser (webbrowser)"),
    "shutil": N_("copies or deletes files (shutil)"),
    "resource": N_("changes process limits (resource)"),
    "pdb": N_("starts a debugger (pdb)"),
    "code": N_("starts an interpreter (code)"),
    "grader": N_("imports the grader itself"),
    "pytest": N_("imports the test framework"),
    "_pytest": N_("imports the test framework"),
    "autograde_tests": N_("imports the hidden tests"),
}
# Built-ins flagged when called by their bare name (``model.eval()`` is fine, ``eval(text)`` is not).
SUSPICIOUS_BUILTINS = {
    "setattr": N_("patches attributes with setattr"), "delattr": N_("deletes attributes with delattr"),
    "exec": N_("executes generated code (exec)"), "eval": N_("evaluates generated code (eval)"),
    "compile": N_("compiles generated code"), "__import__": N_("imports modules dynamically"),
    "globals": N_("rewrites module globals"),
    "open": N_("opens files"), "breakpoint": N_("starts a debugger"), "memoryview": N_("reads raw memory (memoryview)"),
}
# Functions of os/sys/signal/... flagged however they are reached.
SUSPICIOUS_CALLS = {
    "fork": N_("forks the process"), "forkpty": N_("forks the process"), "vfork": N_("forks the process"),
    "kill": N_("sends signals to processes"), "killpg": N_("signals process groups"),
    "pidfd_send_signal": N_("sends signals"),
    "_getframe": N_("inspects interpreter frames"), "system": N_("runs shell commands"),
    "popen": N_("runs shell commands"),
    "execv": N_("replaces the process"), "execve": N_("replaces the process"), "execl": N_("replaces the process"),
    "execlp": N_("replaces the process"), "execvp": N_("replaces the process"), "execvpe": N_("replaces the process"),
    "spawnl": N_("starts processes"), "spawnv": N_("starts processes"), "posix_spawn": N_("starts processes"),
    "posix_spawnp": N_("starts processes"), "setsid": N_("detaches from its process group"),
    "setpgid": N_("changes its process group"), "setpgrp": N_("changes its process group"),
    "_exit": N_("exits the process abruptly"), "abort": N_("aborts the process"),
    "settrace": N_("installs a tracer"), "setprofile": N_("installs a profiler"), "unshare": N_("changes namespaces"),
    "setns": N_("changes namespaces"), "setrlimit": N_("changes process limits"),
    "prlimit": N_("changes process limits"),
    "chmod": N_("changes file permissions"), "chown": N_("changes file ownership"),
    "symlink": N_("creates symbolic links"),
    "link": N_("creates hard links"), "mkfifo": N_("creates named pipes"), "mknod": N_("creates device files"),
    "setuid": N_("changes user"), "setresuid": N_("changes user"), "setgid": N_("changes group"),
    "chroot": N_("changes its root"),
    "getppid": N_("looks up the grader's process"), "write": N_("writes to raw file descriptors"),
    "dup2": N_("rewires file descriptors"), "setitimer": N_("changes timers"), "alarm": N_("changes timers"),
    "pthread_sigmask": N_("blocks signals"), "sched_setaffinity": N_("changes CPU scheduling"),
    "nice": N_("changes priority"),
    "setswitchinterval": N_("changes the interpreter's thread switching"), "addaudithook": N_("installs an audit hook"),
}
SYSTEM_ROOTS = ("os", "sys", "signal", "pty", "posix", "faulthandler")
# Calls that list or walk directories; flagged when aimed at an absolute path.
WALKERS = {"walk", "listdir", "scandir", "glob", "iglob", "rglob", "iterdir", "fwalk"}
SUSPICIOUS_ATTRIBUTES = {
    "f_back": N_("walks interpreter frames"), "f_locals": N_("reads other frames' variables"),
    "f_globals": N_("reads other frames' globals"), "f_builtins": N_("reaches into builtins"),
    "tb_frame": N_("walks frames"),
    "gi_frame": N_("walks frames"), "cr_frame": N_("walks frames"), "f_code": N_("reads frame code"),
    "__globals__": N_("reaches into function globals"), "__code__": N_("rewrites function code"),
    "__closure__": N_("reaches into closures"), "__subclasses__": N_("walks subclasses"),
    "__bases__": N_("rewrites class bases"),
    "__builtins__": N_("patches builtins"), "__traceback__": N_("walks frames"),
}
# Read freely by honest code (``self.__class__.__name__``); flagged only when assigned.
ASSIGNED_ATTRIBUTES = {"__class__": N_("rewrites an object's class"), "__dict__": N_("rewrites an object's attributes"),
                       "__mro__": N_("rewrites a class hierarchy"), "__defaults__": N_("rewrites function defaults"),
                       "__kwdefaults__": N_("rewrites function defaults")}
LYING_METHODS = {
    "__eq__": N_("defines __eq__ (an object that may compare equal to anything)"),
    "__ne__": N_("defines __ne__ (an object that may compare equal to anything)"),
    "__hash__": N_("defines __hash__"),
    "__bool__": N_("defines __bool__ (an object that may be true whatever it holds)"),
    "__reduce__": N_("defines __reduce__ (an object that runs code when unpickled)"),
    "__reduce_ex__": N_("defines __reduce_ex__ (an object that runs code when unpickled)"),
    "__getstate__": N_("controls its own pickling"), "__setstate__": N_("controls its own unpickling"),
    "__torch_function__": N_("intercepts torch calls (__torch_function__)"),
    "__torch_dispatch__": N_("intercepts torch calls (__torch_dispatch__)"),
    "__instancecheck__": N_("fakes isinstance checks"), "__subclasscheck__": N_("fakes issubclass checks"),
    "__getattribute__": N_("intercepts every attribute access"), "__del__": N_("runs code when garbage collected"),
    "__init_subclass__": N_("runs code when subclassed"), "__set_name__": N_("runs code at class creation"),
}
VALUE_TYPES = {"int", "float", "complex", "bool", "str", "bytes", "tuple", "list", "dict", "Tensor", "Parameter",
               "Size", "ndarray"}
# Absolute paths to system places: matched where a path starts (``"/tmp/x"``, ``"touch /tmp/x"``), not inside one.
PATH_NEEDLES = {
    "/proc": N_("reads /proc"), "/sys": N_("reads /sys"), "/dev": N_("touches device files or /dev/shm"),
    "/tmp": N_("uses the shared temporary directory"), "/var": N_("uses /var"), "/etc": N_("reads /etc"),
    "/root": N_("reads root's home"), "/home": N_("reads home directories"), "/run": N_("uses /run"),
    "/bin/": N_("runs programs"),
    "/usr": N_("writes into the system"), "/work": N_("reads the grader's working directories"),
}
TEXT_NEEDLES = {
    "autograde_tests": N_("mentions the hidden tests"), "gradebook": N_("mentions the gradebook"),
    "sitecustomize": N_("plants sitecustomize"), "usercustomize": N_("plants usercustomize"),
    "site-packages": N_("writes into site-packages"), "dist-packages": N_("writes into site-packages"),
    ".pth": N_("plants a .pth file"), ".ipython": N_("plants an IPython startup file"),
    "startup/": N_("plants a startup file"),
    "matplotlibrc": N_("plants a matplotlib configuration"), "LD_PRELOAD": N_("preloads native code"),
    "PYTHONSTARTUP": N_("plants a startup script"), "/proc/": N_("reads /proc"),
}
_PATH_PATTERN = re.compile(r"(?:^|[\s'\"=:;,(])(" + "|".join(re.escape(n) for n in PATH_NEEDLES)
                           + r")(?=/|$|[\s'\";,)])")
PATCHABLE_ROOTS = {"torch", "nn", "F", "np", "numpy", "math", "builtins", "os", "sys", "grader", "pytest"}
# Attribute assignments that honest notebooks make (reproducibility and speed switches).
HARMLESS_ASSIGNMENTS = ("torch.backends.", "np.random.", "numpy.random.", "plt.rcParams", "matplotlib.rcParams")
HUGE = 4 * 2**30


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Call):
        parts.append(_dotted(node.func) + "()")
    elif isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Subscript):
        parts.append(_dotted(node.value) + "[]")
    return ".".join(reversed(parts))


def _docstrings(nodes: list[ast.AST]) -> set[int]:
    found = set()
    for node in nodes:
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
                    first.value.value, str):
                found.add(id(first.value))
    return found


def _handlers_in_loops(nodes: list[ast.AST]) -> set[int]:
    """The except clauses inside a loop's body (walked only for a cell with a bare ``except:``)."""
    return {id(child) for loop in nodes if isinstance(loop, (ast.While, ast.For, ast.AsyncFor))
            for child in ast.walk(loop) if isinstance(child, ast.ExceptHandler)}


def _constant_int(node: ast.AST, depth: int = 0) -> int | None:
    """The value of a small integer constant expression (``16 * 2**30``, ``1 << 40``), or None."""
    if depth > 8:
        return None
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Pow, ast.LShift, ast.Add)):
        left, right = _constant_int(node.left, depth + 1), _constant_int(node.right, depth + 1)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Pow):
            return left ** right if 0 <= right <= 128 and abs(left) <= 2**16 else None
        if isinstance(node.op, ast.LShift):
            return left << right if 0 <= right <= 128 else None
        return left * right if isinstance(node.op, ast.Mult) else left + right
    return None


def _loops_forever(node: ast.While) -> bool:
    """``while True`` (or ``while 1``) whose body never breaks out of it (a ``return`` or ``raise`` still ends it)."""
    if not (isinstance(node.test, ast.Constant) and node.test.value):
        return False
    stack = list(node.body)
    while stack:
        item = stack.pop()
        if isinstance(item, (ast.Break, ast.Return, ast.Raise)):
            return False
        if isinstance(item, (ast.While, ast.For, ast.AsyncFor, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                             ast.Lambda)):
            continue  # a break in there ends that inner loop, not this one
        stack.extend(ast.iter_child_nodes(item))
    return True


def _catches_everything(handler: ast.ExceptHandler) -> str | None:
    names = []
    if handler.type is None:
        return "bare"
    for node in (handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]):
        names.append(_dotted(node).split(".")[-1])
    caught = [n for n in names if n in ("BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit")]
    return caught[0] if caught else None


def scan_source(source: str, label: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    reasons: list[str] = []
    nodes = list(ast.walk(tree))  # walked once: the scan costs every unit (a fifth of it went to walking again)
    docstrings = _docstrings(nodes)
    imported: set[str] = set()  # names this cell binds to modules (import x, import x.y as z, from x import y)
    for node in nodes:
        if isinstance(node, ast.Import):
            imported.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.update(a.asname or a.name for a in node.names)
    roots = PATCHABLE_ROOTS | imported
    in_loop: set[int] | None = None

    def flag(node: ast.AST, why: str) -> None:
        reasons.append(_("{label}, line {line}: {why}", label=label, line=getattr(node, 'lineno', '?'), why=_(why)))

    for node in nodes:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                root = name.split(".")[0]
                if root in SUSPICIOUS_MODULES:
                    flag(node, SUSPICIOUS_MODULES[root])
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in SYSTEM_ROOTS:
                for alias in node.names:
                    if alias.name in SUSPICIOUS_CALLS:
                        flag(node, SUSPICIOUS_CALLS[alias.name])
        elif isinstance(node, ast.Call):
            dotted = _dotted(node.func)
            name = dotted.split(".")[-1]
            if isinstance(node.func, ast.Name) and node.func.id in SUSPICIOUS_BUILTINS:
                flag(node, SUSPICIOUS_BUILTINS[node.func.id])
            if name in SUSPICIOUS_CALLS and (isinstance(node.func, ast.Name) and name in imported
                                             or dotted.split(".")[0] in SYSTEM_ROOTS):
                flag(node, SUSPICIOUS_CALLS[name])
            if name in ("as_subclass", "_make_subclass", "_make_wrapper_subclass"):
                flag(node, N_("turns a tensor into a subclass (as_subclass)"))
            if name in WALKERS and node.args and isinstance(node.args[0], ast.Constant) and isinstance(
                    node.args[0].value, str) and node.args[0].value.startswith(("/", "..")):
                call = f"{name}({node.args[0].value!r})"
                flag(node, _("lists directories outside its own ({call})", call=call))
            if name in ("read_bytes", "read_text", "write_bytes", "write_text", "symlink_to", "hardlink_to",
                        "chmod", "unlink", "rmdir", "touch"):
                flag(node, _("reads or changes files ({call})", call=name))
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                for part in (target.elts if isinstance(target, ast.Tuple) else [target]):
                    dotted = _dotted(part)
                    if isinstance(part, ast.Attribute) and dotted.split(".")[0] in roots and not dotted.startswith(
                            HARMLESS_ASSIGNMENTS):
                        flag(node, _("assigns to {name} (patching a library or the grader)", name=dotted))
                    elif isinstance(part, ast.Attribute) and part.attr in ASSIGNED_ATTRIBUTES:
                        flag(node, ASSIGNED_ATTRIBUTES[part.attr])
                    elif isinstance(part, ast.Subscript) and dotted.split(".")[0] in ("__builtins__", "builtins"):
                        flag(node, N_("patches builtins"))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in LYING_METHODS:
            flag(node, LYING_METHODS[node.name])
        elif isinstance(node, ast.ClassDef):
            for base in node.bases:
                base_name = _dotted(base).split(".")[-1]
                if base_name in VALUE_TYPES:
                    flag(node, _("subclasses {name} (a value that may not behave like one)", name=base_name))
            for stmt in node.body:  # ``__eq__ = lambda ...`` in a class body
                if isinstance(stmt, ast.Assign):
                    for target in stmt.targets:
                        if isinstance(target, ast.Name) and target.id in LYING_METHODS:
                            flag(stmt, LYING_METHODS[target.id])
        elif isinstance(node, ast.While) and _loops_forever(node):
            flag(node, N_("loops forever (while True without a break)"))
        elif isinstance(node, ast.ExceptHandler):
            caught = _catches_everything(node)
            if caught == "bare" and in_loop is None:
                in_loop = _handlers_in_loops(nodes)
            if caught and (caught != "bare" or id(node) in in_loop):
                flag(node, _("catches everything (the grader's time limit is a BaseException)") if caught == "bare"
                     else _("catches {name} (the grader's time limit is a BaseException)", name=caught))
        elif isinstance(node, ast.Attribute):
            if node.attr in SUSPICIOUS_ATTRIBUTES:
                flag(node, SUSPICIOUS_ATTRIBUTES[node.attr])
            if _dotted(node) in ("sys.modules", "sys.path", "sys.meta_path", "sys.path_hooks", "sys.excepthook",
                                 "sys.stdout", "sys.stderr", "sys.stdin"):
                flag(node, _("touches {name}", name=_dotted(node)))
        elif isinstance(node, ast.Name) and node.id in ("__builtins__", "builtins"):
            flag(node, N_("touches builtins"))
        elif isinstance(node, ast.BinOp):
            value = _constant_int(node)
            if value is not None and value >= HUGE:
                flag(node, _("uses a size of {size:,} (4 Gi or more: a memory bomb?)", size=value))
        elif isinstance(node, ast.Constant):
            if type(node.value) is int and node.value >= HUGE:
                flag(node, _("uses a size of {size:,} (4 Gi or more: a memory bomb?)", size=node.value))
            elif isinstance(node.value, str) and id(node) not in docstrings:
                for match in _PATH_PATTERN.finditer(node.value[:10_000]):
                    flag(node, PATH_NEEDLES[match.group(1)])
                for needle, why in TEXT_NEEDLES.items():
                    if needle in node.value:
                        flag(node, why)
    return sorted(set(reasons), key=reasons.index)


def scan_for_tampering(cells: list[Cell]) -> list[str]:
    reasons: list[str] = []
    for cell in cells:
        if cell.kind != "test":
            reasons.extend(_scanned(cell.source, cell.label, language()))
    return reasons


MAX_REMEMBERED_SOURCE = 50_000  # characters: a longer cell is scanned afresh each time rather than kept


def _scanned(source: str, label: str, lang: str) -> tuple[str, ...]:
    """``scan_source``, remembered per worker for cells of ordinary size: most of a notebook's code cells (its
    setup and measuring cells, two thirds of the scan's time) are the release's own, the same in every
    student's submission. The answer depends on the source, the cell's label and the language only."""
    if len(source) > MAX_REMEMBERED_SOURCE:
        return tuple(scan_source(source, label))
    return _scanned_remembered(source, label, lang)


@lru_cache(maxsize=2048)
def _scanned_remembered(source: str, label: str, lang: str) -> tuple[str, ...]:
    return tuple(scan_source(source, label))
