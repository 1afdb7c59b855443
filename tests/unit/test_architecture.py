"""The house rules of ARCHITECTURE.md, checked on the source tree: a pure core, data flowing one way,
flows and tasks simple enough to read, no task submitting tasks, tests independent of each other and
of fixed ports. Each check names the file and line that breaks the rule."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from radon.complexity import cc_rank, cc_visit

ROOT = Path(__file__).resolve().parents[2]

# What a pure module may not import: SDKs, Prefect, plotting, network, processes, files, environment.
_IMPURE_MODULES = {
    "os", "pathlib", "shutil", "tempfile", "subprocess", "socket", "sqlite3", "http", "requests", "httpx",
    "urllib3", "boto3", "botocore", "azure", "google", "prefect", "prefect_dask", "matplotlib", "uvicorn",
    "starlette", "yaml", "threading", "asyncio",
}
_CLOCK_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time"),
                ("time", "monotonic"), ("time", "sleep")}


def _python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imports(tree: ast.Module) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def test_core_is_pure():
    problems = []
    for path in _python_files("multicloud/core"):
        tree = _tree(path)
        for line, module in _imports(tree):
            top = module.split(".")[0]
            if top in _IMPURE_MODULES or (top == "urllib" and module != "urllib.parse"):
                problems.append(f"{_where(path, line)} imports {module}")
            if top in ("flows", "tasks", "deployments", "demo", "tests") or (
                    module.startswith("multicloud.") and not module.startswith("multicloud.core")):
                problems.append(f"{_where(path, line)} imports {module}: core imports only core")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                fn = node.func
                if isinstance(fn, ast.Name) and fn.id == "open":
                    problems.append(f"{_where(path, node.lineno)} opens a file")
                if isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) and \
                        (fn.value.id, fn.attr) in _CLOCK_CALLS:
                    problems.append(f"{_where(path, node.lineno)} reads the clock ({fn.value.id}.{fn.attr}); pass `now` in")
    assert not problems, "\n".join(problems)


def test_data_flows_one_way():
    """flows -> tasks -> engine/clouds -> core: the library never imports flows, tasks, demo, tests or
    deployments, and the shipped library never imports the test-only `multicloud.testing`."""
    problems = []
    for path in _python_files("multicloud"):
        testing = "testing" in path.relative_to(ROOT).parts
        for line, module in _imports(_tree(path)):
            top = module.split(".")[0]
            if top in ("flows", "tasks", "demo", "tests", "deployments"):
                problems.append(f"{_where(path, line)} imports {module}")
            if module.startswith("multicloud.testing") and not testing:
                problems.append(f"{_where(path, line)} imports {module}, which is not shipped")
    for path in _python_files("flows", "tasks"):
        for line, module in _imports(_tree(path)):
            if module.split(".")[0] in ("demo", "tests", "deployments") or module.startswith("multicloud.testing"):
                problems.append(f"{_where(path, line)} imports {module}")
    assert not problems, "\n".join(problems)


def test_library_never_changes_the_environment():
    pattern = re.compile(r"os\.environ\[[^\]]+\]\s*=(?!=)|os\.environ\.(setdefault|update|pop|clear)\(|os\.putenv|"
                         r"del os\.environ")
    problems = [f"{_where(path, n)}: {line.strip()}" for path in _python_files("multicloud", "flows", "tasks")
                for n, line in enumerate(path.read_text().splitlines(), start=1) if pattern.search(line)]
    assert not problems, "\n".join(problems)


def _decorated(tree: ast.Module, name: str) -> list[ast.FunctionDef]:
    def is_it(decorator) -> bool:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        return (isinstance(target, ast.Name) and target.id == name) or (
            isinstance(target, ast.Attribute) and target.attr == name)

    return [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and any(is_it(d) for d in node.decorator_list)]


def test_flow_and_task_functions_are_simple():
    """Every function in flows/ and tasks/ at radon complexity B or better."""
    problems = [f"{path.relative_to(ROOT)}:{block.lineno} {block.name} is {cc_rank(block.complexity)}"
                f"({block.complexity})"
                for path in _python_files("flows", "tasks") for block in cc_visit(path.read_text())
                if block.complexity > 10]
    assert not problems, "\n".join(problems)


def test_flows_read_like_runbooks():
    """A flow's body (after its docstring) is at most 40 lines; its runbook fits on a screen."""
    problems = []
    for path in _python_files("flows"):
        for fn in _decorated(_tree(path), "flow"):
            body = fn.body[1:] if ast.get_docstring(fn) else fn.body
            lines = body[-1].end_lineno - body[0].lineno + 1
            if lines > 40:
                problems.append(f"{_where(path, fn.lineno)} flow {fn.name} has {lines} lines")
    assert not problems, "\n".join(problems)


def test_no_task_submits_tasks():
    """Tasks hand work back to the flow, which submits it, so the UI graph shows the real work."""
    problems = []
    for path in _python_files("flows", "tasks"):
        for fn in _decorated(_tree(path), "task"):
            for node in ast.walk(fn):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                        node.func.attr in ("submit", "map"):
                    problems.append(f"{_where(path, node.lineno)} task {fn.name} calls .{node.func.attr}()")
    assert not problems, "\n".join(problems)


def test_no_test_module_imports_another():
    problems = []
    for path in _python_files("tests"):
        for line, module in _imports(_tree(path)):
            last = module.split(".")[-1]
            if module.startswith("tests.") and (last.startswith("test_") or last == "conftest"):
                problems.append(f"{_where(path, line)} imports {module}; shared helpers go in tests/support.py")
    assert not problems, "\n".join(problems)


_FIXED_PORT = re.compile(r"(127\.0\.0\.1|localhost):\d{2,5}\b|\bport\s*=\s*\d{2,5}\b|\bPORT\w*\s*=\s*\d{2,5}\b",
                         re.IGNORECASE)


def test_tests_bind_no_fixed_port():
    """Servers started by tests bind port 0; a port number may appear only as a configuration default
    read from the environment."""
    problems = [f"{_where(path, n)}: {line.strip()}" for path in _python_files("tests")
                if path.name != "test_architecture.py"
                for n, line in enumerate(path.read_text().splitlines(), start=1)
                if _FIXED_PORT.search(line) and "os.environ" not in line and "environ.get" not in line]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("rule", ["core", "flows", "tasks"])
def test_every_module_says_what_it_is_for(rule):
    folder = {"core": "multicloud/core", "flows": "flows", "tasks": "tasks"}[rule]
    missing = [str(p.relative_to(ROOT)) for p in _python_files(folder)
               if p.name != "__init__.py" and not ast.get_docstring(_tree(p))]
    assert not missing, f"modules without a docstring: {missing}"
