"""The shape the kit keeps: no import circle, short functions, every module on README's map."""
import ast
import os
import re
import subprocess

import pytest

from helpers import ROOT

LONGEST_FUNCTION = 100  # lines, outside tests/ and benchmarks/


def project_modules():
    """{module name: path} for every tracked .py file of the kit (tests and benchmarks included)."""
    files = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    if not files:  # not a git checkout (an unpacked archive): every .py below the root
        files = [os.path.relpath(os.path.join(d, f), ROOT) for d, _, fs in os.walk(ROOT)
                 for f in fs if f.endswith(".py")]
    modules = {}
    for path in files:
        if not os.path.isfile(os.path.join(ROOT, path)):
            continue
        name = path[:-3].replace(os.sep, ".")
        modules[name[:-len(".__init__")] if name.endswith(".__init__") else name] = path
    return modules


def imports(path, modules):
    """The project modules a file imports, at module level or in functions (not TYPE_CHECKING)."""
    tree = ast.parse(open(os.path.join(ROOT, path), encoding="utf-8").read())
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
            and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found |= {n for n in names if n in modules}
    return found


def test_no_import_circle_among_the_kits_modules():
    modules = project_modules()
    graph = {m: imports(p, modules) - {m} for m, p in modules.items()}
    # A package's __init__ importing its own submodules is the package, not a circle.
    graph = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in graph.items()}
    circles, state = [], {}

    def visit(m, path):
        state[m] = "open"
        for d in sorted(graph.get(m, ())):
            if state.get(d) == "open":
                circles.append(path[path.index(d):] + [d])
            elif d not in state:
                visit(d, path + [d])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_no_function_is_longer_than_a_screenful():
    long = []
    for name, path in project_modules().items():
        if path.startswith(("tests" + os.sep, "benchmarks" + os.sep)):
            continue
        tree = ast.parse(open(os.path.join(ROOT, path), encoding="utf-8").read())
        long += [f"{path}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)"
                 for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and n.end_lineno - n.lineno + 1 > LONGEST_FUNCTION]
    assert not long, long


def test_each_root_module_and_package_has_its_line_in_readmes_map():
    """README's "How it works" says where each piece is: a new module at the root, or a new
    package, adds its line there (a module inside a package is named by its package's line)."""
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    table = readme.split("## How it works", 1)[1].split("\n\n", 2)[1]
    named = set(re.findall(r"`([\w/.]+\.py|[\w]+/)", table))
    named |= {n.split("/")[0] + "/" for n in named if "/" in n}
    kit = [p for p in project_modules().values()
           if not p.startswith(("tests" + os.sep, "benchmarks" + os.sep, "experiments" + os.sep))]
    missing = sorted({p if os.sep not in p else p.split(os.sep)[0] + "/" for p in kit} - named)
    assert not missing, f"add to README's map (How it works): {missing}"


@pytest.mark.parametrize("package", ["experiments"])
def test_declarations_hold_no_drawing(package):
    """experiments/ declares steps, settings and networks; everything drawn lives in figures/."""
    names = [p for p in project_modules().values() if p.startswith(package + os.sep)]
    assert not [p for p in names if os.path.basename(p) == "figures.py"]
