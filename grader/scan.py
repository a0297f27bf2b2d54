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

from grader.notebook import Cell

SUSPICIOUS_MODULES = {
    "ctypes": "loads native code (ctypes)",
    "cffi": "loads native code (cffi)",
    "mmap": "maps memory directly (mmap)",
    "gc": "inspects the garbage collector (gc)",
    "inspect": "inspects live frames (inspect)",
    "traceback": "inspects interpreter frames (traceback)",
    "socket": "opens network connections (socket)",
    "ssl": "opens network connections (ssl)",
    "asyncio": "opens network connections or processes (asyncio)",
    "subprocess": "starts processes (subprocess)",
    "pty": "starts processes (pty)",
    "signal": "changes signal handling (signal)",
    "multiprocessing": "starts processes (multiprocessing)",
    "threading": "starts threads (threading)",
    "_thread": "starts threads (_thread)",
    "atexit": "registers exit handlers (atexit)",
    "importlib": "imports modules dynamically (importlib)",
    "site": "changes the import system (site)",
    "pickle": "unpickles objects (pickle)",
    "copyreg": "changes pickling (copyreg)",
    "dill": "unpickles objects (dill)",
    "cloudpickle": "unpickles objects (cloudpickle)",
    "marshal": "loads code objects (marshal)",
    "urllib": "reaches the network (urllib)",
    "urllib3": "reaches the network (urllib3)",
    "requests": "reaches the network (requests)",
    "http": "reaches the network (http)",
    "httpx": "reaches the network (httpx)",
    "ftplib": "reaches the network (ftplib)",
    "smtplib": "reaches the network (smtplib)",
    "telnetlib": "reaches the network (telnetlib)",
    "xmlrpc": "reaches the network (xmlrpc)",
    "webbrowser": "opens a browser (webbrowser)",
    "shutil": "copies or deletes files (shutil)",
    "resource": "changes process limits (resource)",
    "pdb": "starts a debugger (pdb)",
    "code": "starts an interpreter (code)",
    "grader": "imports the grader itself",
    "pytest": "imports the test framework",
    "_pytest": "imports the test framework",
    "autograde_tests": "imports the hidden tests",
}
# Built-ins flagged when called by their bare name (``model.eval()`` is fine, ``eval(text)`` is not).
SUSPICIOUS_BUILTINS = {
    "setattr": "patches attributes with setattr", "delattr": "deletes attributes with delattr",
    "exec": "executes generated code (exec)", "eval": "evaluates generated code (eval)",
    "compile": "compiles generated code", "__import__": "imports modules dynamically",
    "globals": "rewrites module globals",
    "open": "opens files", "breakpoint": "starts a debugger", "memoryview": "reads raw memory (memoryview)",
}
# Functions of os/sys/signal/... flagged however they are reached.
SUSPICIOUS_CALLS = {
    "fork": "forks the process", "forkpty": "forks the process", "vfork": "forks the process",
    "kill": "sends signals to processes", "killpg": "signals process groups", "pidfd_send_signal": "sends signals",
    "_getframe": "inspects interpreter frames", "system": "runs shell commands", "popen": "runs shell commands",
    "execv": "replaces the process", "execve": "replaces the process", "execl": "replaces the process",
    "execlp": "replaces the process", "execvp": "replaces the process", "execvpe": "replaces the process",
    "spawnl": "starts processes", "spawnv": "starts processes", "posix_spawn": "starts processes",
    "posix_spawnp": "starts processes", "setsid": "detaches from its process group",
    "setpgid": "changes its process group", "setpgrp": "changes its process group",
    "_exit": "exits the process abruptly", "abort": "aborts the process",
    "settrace": "installs a tracer", "setprofile": "installs a profiler", "unshare": "changes namespaces",
    "setns": "changes namespaces", "setrlimit": "changes process limits", "prlimit": "changes process limits",
    "chmod": "changes file permissions", "chown": "changes file ownership", "symlink": "creates symbolic links",
    "link": "creates hard links", "mkfifo": "creates named pipes", "mknod": "creates device files",
    "setuid": "changes user", "setresuid": "changes user", "setgid": "changes group", "chroot": "changes its root",
    "getppid": "looks up the grader's process", "write": "writes to raw file descriptors",
    "dup2": "rewires file descriptors", "setitimer": "changes timers", "alarm": "changes timers",
    "pthread_sigmask": "blocks signals", "sched_setaffinity": "changes CPU scheduling", "nice": "changes priority",
    "setswitchinterval": "changes the interpreter's thread switching", "addaudithook": "installs an audit hook",
}
SYSTEM_ROOTS = ("os", "sys", "signal", "pty", "posix", "faulthandler")
# Calls that list or walk directories; flagged when aimed at an absolute path.
WALKERS = {"walk", "listdir", "scandir", "glob", "iglob", "rglob", "iterdir", "fwalk"}
SUSPICIOUS_ATTRIBUTES = {
    "f_back": "walks interpreter frames", "f_locals": "reads other frames' variables",
    "f_globals": "reads other frames' globals", "f_builtins": "reaches into builtins", "tb_frame": "walks frames",
    "gi_frame": "walks frames", "cr_frame": "walks frames", "f_code": "reads frame code",
    "__globals__": "reaches into function globals", "__code__": "rewrites function code",
    "__closure__": "reaches into closures", "__subclasses__": "walks subclasses", "__bases__": "rewrites class bases",
    "__builtins__": "patches builtins", "__traceback__": "walks frames",
}
# Read freely by honest code (``self.__class__.__name__``); flagged only when assigned.
ASSIGNED_ATTRIBUTES = {"__class__": "rewrites an object's class", "__dict__": "rewrites an object's attributes",
                       "__mro__": "rewrites a class hierarchy", "__defaults__": "rewrites function defaults",
                       "__kwdefaults__": "rewrites function defaults"}
LYING_METHODS = {
    "__eq__": "defines __eq__ (an object that may compare equal to anything)",
    "__ne__": "defines __ne__ (an object that may compare equal to anything)",
    "__hash__": "defines __hash__", "__bool__": "defines __bool__ (an object that may be true whatever it holds)",
    "__reduce__": "defines __reduce__ (an object that runs code when unpickled)",
    "__reduce_ex__": "defines __reduce_ex__ (an object that runs code when unpickled)",
    "__getstate__": "controls its own pickling", "__setstate__": "controls its own unpickling",
    "__torch_function__": "intercepts torch calls (__torch_function__)",
    "__torch_dispatch__": "intercepts torch calls (__torch_dispatch__)",
    "__instancecheck__": "fakes isinstance checks", "__subclasscheck__": "fakes issubclass checks",
    "__getattribute__": "intercepts every attribute access", "__del__": "runs code when garbage collected",
    "__init_subclass__": "runs code when subclassed", "__set_name__": "runs code at class creation",
}
VALUE_TYPES = {"int", "float", "complex", "bool", "str", "bytes", "tuple", "list", "dict", "Tensor", "Parameter",
               "Size", "ndarray"}
# Absolute paths to system places: matched where a path starts (``"/tmp/x"``, ``"touch /tmp/x"``), not inside one.
PATH_NEEDLES = {
    "/proc": "reads /proc", "/sys": "reads /sys", "/dev": "touches device files or /dev/shm",
    "/tmp": "uses the shared temporary directory", "/var": "uses /var", "/etc": "reads /etc",
    "/root": "reads root's home", "/home": "reads home directories", "/run": "uses /run", "/bin/": "runs programs",
    "/usr": "writes into the system", "/work": "reads the grader's working directories",
}
TEXT_NEEDLES = {
    "autograde_tests": "mentions the hidden tests", "gradebook": "mentions the gradebook",
    "sitecustomize": "plants sitecustomize", "usercustomize": "plants usercustomize",
    "site-packages": "writes into site-packages", "dist-packages": "writes into site-packages",
    ".pth": "plants a .pth file", ".ipython": "plants an IPython startup file", "startup/": "plants a startup file",
    "matplotlibrc": "plants a matplotlib configuration", "LD_PRELOAD": "preloads native code",
    "PYTHONSTARTUP": "plants a startup script", "/proc/": "reads /proc",
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


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
                    first.value.value, str):
                found.add(id(first.value))
    return found


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
    docstrings = _docstrings(tree)
    imported: set[str] = set()  # names this cell binds to modules (import x, import x.y as z, from x import y)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.update(a.asname or a.name for a in node.names)
    roots = PATCHABLE_ROOTS | imported
    loops = [n for n in ast.walk(tree) if isinstance(n, (ast.While, ast.For, ast.AsyncFor))]
    in_loop = {id(child) for loop in loops for child in ast.walk(loop) if child is not loop}

    def flag(node: ast.AST, why: str) -> None:
        reasons.append(f"{label}, line {getattr(node, 'lineno', '?')}: {why}")

    for node in ast.walk(tree):
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
                flag(node, "turns a tensor into a subclass (as_subclass)")
            if name in WALKERS and node.args and isinstance(node.args[0], ast.Constant) and isinstance(
                    node.args[0].value, str) and node.args[0].value.startswith(("/", "..")):
                flag(node, f"lists directories outside its own ({name}({node.args[0].value!r}))")
            if name in ("read_bytes", "read_text", "write_bytes", "write_text", "symlink_to", "hardlink_to",
                        "chmod", "unlink", "rmdir", "touch"):
                flag(node, f"reads or changes files ({name})")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                for part in (target.elts if isinstance(target, ast.Tuple) else [target]):
                    dotted = _dotted(part)
                    if isinstance(part, ast.Attribute) and dotted.split(".")[0] in roots and not dotted.startswith(
                            HARMLESS_ASSIGNMENTS):
                        flag(node, f"assigns to {dotted} (patching a library or the grader)")
                    elif isinstance(part, ast.Attribute) and part.attr in ASSIGNED_ATTRIBUTES:
                        flag(node, ASSIGNED_ATTRIBUTES[part.attr])
                    elif isinstance(part, ast.Subscript) and dotted.split(".")[0] in ("__builtins__", "builtins"):
                        flag(node, "patches builtins")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in LYING_METHODS:
            flag(node, LYING_METHODS[node.name])
        elif isinstance(node, ast.ClassDef):
            for base in node.bases:
                base_name = _dotted(base).split(".")[-1]
                if base_name in VALUE_TYPES:
                    flag(node, f"subclasses {base_name} (a value that may not behave like one)")
            for stmt in node.body:  # ``__eq__ = lambda ...`` in a class body
                if isinstance(stmt, ast.Assign):
                    for target in stmt.targets:
                        if isinstance(target, ast.Name) and target.id in LYING_METHODS:
                            flag(stmt, LYING_METHODS[target.id])
        elif isinstance(node, ast.While) and _loops_forever(node):
            flag(node, "loops forever (while True without a break)")
        elif isinstance(node, ast.ExceptHandler):
            caught = _catches_everything(node)
            if caught and (caught != "bare" or id(node) in in_loop):
                flag(node, f"catches {'everything' if caught == 'bare' else caught} "
                           f"(the grader's time limit is a BaseException)")
        elif isinstance(node, ast.Attribute):
            if node.attr in SUSPICIOUS_ATTRIBUTES:
                flag(node, SUSPICIOUS_ATTRIBUTES[node.attr])
            if _dotted(node) in ("sys.modules", "sys.path", "sys.meta_path", "sys.path_hooks", "sys.excepthook",
                                 "sys.stdout", "sys.stderr", "sys.stdin"):
                flag(node, f"touches {_dotted(node)}")
        elif isinstance(node, ast.Name) and node.id in ("__builtins__", "builtins"):
            flag(node, "touches builtins")
        elif isinstance(node, ast.BinOp):
            value = _constant_int(node)
            if value is not None and value >= HUGE:
                flag(node, f"uses a size of {value:,} (4 Gi or more: a memory bomb?)")
        elif isinstance(node, ast.Constant):
            if type(node.value) is int and node.value >= HUGE:
                flag(node, f"uses a size of {node.value:,} (4 Gi or more: a memory bomb?)")
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
            reasons.extend(scan_source(cell.source, cell.label))
    return reasons
