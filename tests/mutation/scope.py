"""Limit mutmut to some functions of a file: mark every other line `# pragma: no mutate`.

Run only on the throwaway clone that tests/mutation/run makes: it rewrites the file.
    python scope.py credits/services/payments.py _allocate _prepay apply_payment
A function's docstring, lines inside multi-line strings and lines that already hold a `#`
are left as they are (a comment added there would change a string or be ambiguous).
"""

import ast
import io
import sys
import tokenize
from pathlib import Path

PRAGMA = "  # pragma: no mutate"


def lines_in_scope(tree: ast.Module, names: set[str]) -> set[int]:
    """Return the line numbers of the named functions' bodies, docstrings aside."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names:
            first = node.body[0]
            start = first.lineno
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                start = first.end_lineno + 1
            lines.update(range(start, node.end_lineno + 1))
    return lines


def lines_inside_strings(source: str) -> set[int]:
    """Return the lines a multi-line string continues past (all but its last)."""
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING and token.end[0] > token.start[0]:
            lines.update(range(token.start[0], token.end[0]))
    return lines


def main(path: str, *names: str) -> None:
    file = Path(path)
    source = file.read_text()
    keep = lines_in_scope(ast.parse(source), set(names))
    if not keep:
        sys.exit(f"{path}: none of {', '.join(names)} found")
    strings = lines_inside_strings(source)
    out = []
    for number, line in enumerate(source.splitlines(), 1):
        if number not in keep and number not in strings and line.strip() and "#" not in line:
            line += PRAGMA
        out.append(line)
    file.write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
