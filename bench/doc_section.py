"""Replaces one marked section of docs/benchmarks.md, so bench/run.sh and
bench/compare each own their part of the file and keep the other's."""


def replace_section(path, name, text):
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    try:
        doc = open(path).read()
    except FileNotFoundError:
        doc = "# Benchmarks\n"
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in doc and end in doc:
        head, rest = doc.split(start, 1)
        tail = rest.split(end, 1)[1]
        doc = head + block + tail
    else:
        doc = doc.rstrip() + "\n\n" + block + "\n"
    open(path, "w").write(doc)


def table(rows):
    """The markdown lines of a `what | measured | target` table."""
    return [
        "| what | measured | target |",
        "| --- | --- | --- |",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
    ]
