"""A static scan, in the trusted process, for code that tampers with the grader rather than solving the exercise.

It never changes a score: the sandbox and the trusted checks are what keep
scores honest. It marks a submission "needs review" so a TA looks at it.
"""
from __future__ import annotations

import ast

from grader.notebook import Cell

SUSPICIOUS_MODULES = {
    "ctypes": "loads native code (ctypes)",
    "gc": "inspects the garbage collector (gc)",
    "inspect": "inspects live frames (inspect)",
    "socket": "opens network connections (socket)",
    "subprocess": "starts processes (subprocess)",
    "signal": "changes signal handling (signal)",
    "multiprocessing": "starts processes (multiprocessing)",
    "importlib": "imports modules dynamically (importlib)",
    "site": "changes the import system (site)",
    "pickle": "unpickles objects (pickle)",
    "marshal": "loads code objects (marshal)",
    "urllib": "reaches the network (urllib)",
    "requests": "reaches the network (requests)",
    "http": "reaches the network (http)",
    "shutil": "copies or deletes files (shutil)",
    "resource": "changes process limits (resource)",
    "grader": "imports the grader itself",
    "pytest": "imports the test framework",
}
# Built-ins flagged when called by their bare name (``model.eval()`` is fine, ``eval(text)`` is not).
SUSPICIOUS_BUILTINS = {
    "setattr": "patches attributes with setattr", "exec": "executes generated code (exec)",
    "eval": "evaluates generated code (eval)", "compile": "compiles generated code",
    "__import__": "imports modules dynamically", "globals": "rewrites module globals", "open": "opens files",
    "breakpoint": "starts a debugger",
}
# Functions of os/sys/signal flagged however they are reached.
SUSPICIOUS_CALLS = {
    "fork": "forks the process", "forkpty": "forks the process", "kill": "sends signals to processes",
    "killpg": "signals process groups", "_getframe": "inspects interpreter frames",
    "system": "runs shell commands", "popen": "runs shell commands", "execv": "replaces the process",
    "execve": "replaces the process", "setsid": "detaches from its process group", "_exit": "exits the process abruptly",
    "settrace": "installs a tracer", "setprofile": "installs a profiler", "unshare": "changes namespaces",
    "setrlimit": "changes process limits", "chmod": "changes file permissions", "symlink": "creates symbolic links",
}
SUSPICIOUS_NAMES = {
    "sys.modules": "edits sys.modules", "builtins": "patches builtins", "__builtins__": "patches builtins",
    "__class__": "rewrites an object's class", "__eq__": "overrides equality", "__subclasses__": "walks subclasses",
    "__globals__": "reaches into function globals", "__code__": "rewrites function code",
    "/proc": "reads /proc", "autograde_tests": "mentions the hidden tests", "solutions": "mentions the solutions",
    "grades": "mentions the gradebook", "site-packages": "writes into site-packages", ".pth": "plants a .pth file",
    "sitecustomize": "plants sitecustomize", "startup": "plants an IPython startup file",
}
PATCHABLE_ROOTS = {"torch", "nn", "F", "np", "numpy", "math", "builtins", "os", "sys"}


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def scan_source(source: str, label: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    reasons: list[str] = []

    def flag(node: ast.AST, why: str) -> None:
        reasons.append(f"{label}, line {getattr(node, 'lineno', '?')}: {why}")

    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                root = name.split(".")[0]
                if root in SUSPICIOUS_MODULES:
                    flag(node, SUSPICIOUS_MODULES[root])
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in SUSPICIOUS_BUILTINS:
                flag(node, SUSPICIOUS_BUILTINS[node.func.id])
            name = _dotted(node.func).split(".")[-1]
            if name in SUSPICIOUS_CALLS and (isinstance(node.func, ast.Name) or _dotted(node.func).split(".")[0]
                                             in ("os", "sys", "signal", "pty", "posix")):
                flag(node, SUSPICIOUS_CALLS[name])
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                dotted = _dotted(target)
                if isinstance(target, ast.Attribute) and dotted.split(".")[0] in PATCHABLE_ROOTS:
                    flag(node, f"assigns to {dotted} (patching a library)")
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in {"__eq__", "__ne__", "__hash__"}:
            flag(node, f"defines {node.name} (an object that may compare equal to anything)")
        if isinstance(node, ast.Attribute) and _dotted(node) in ("sys.modules",) or (
                isinstance(node, ast.Name) and node.id in ("__builtins__", "builtins")):
            flag(node, SUSPICIOUS_NAMES.get(_dotted(node), "touches builtins"))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for needle, why in SUSPICIOUS_NAMES.items():
                if "/" in needle or "." in needle or needle in ("autograde_tests", "sitecustomize", "site-packages"):
                    if needle in node.value:
                        flag(node, why)
    return sorted(set(reasons), key=reasons.index)


def scan_for_tampering(cells: list[Cell]) -> list[str]:
    reasons: list[str] = []
    for cell in cells:
        if cell.kind != "test":
            reasons.extend(scan_source(cell.source, cell.label))
    return reasons
