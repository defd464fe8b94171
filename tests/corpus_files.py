"""Real files of every supported format, made on the spot for the corpus tests."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def make_pdf(pages: list[str]) -> bytes:
    """A minimal text-layer PDF (Helvetica, one line of text per input line)."""
    objs = ["<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>")
    font = 3 + 2 * len(pages)
    for i, text in enumerate(pages):
        ops = ["BT /F1 12 Tf 14 TL 72 720 Td"]
        ops += [f"({line.replace('(', '').replace(')', '')}) Tj T*" for line in text.split("\n")]
        stream = "\n".join(ops + ["ET"])
        objs.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>"
        )
        objs.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    objs.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, obj in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(f"{n} 0 obj\n{obj}\nendobj\n".encode())
    xref = out.tell()
    out.write(f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def encrypt_pdf(data: bytes, user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(path: Path) -> None:
    import docx

    doc = docx.Document()
    doc.core_properties.title = "Quarterly Walrus Report"
    doc.add_heading("Population", level=1)
    doc.add_paragraph("Walrus herds in the Arctic grew by four percent this quarter.")
    doc.add_heading("Feeding grounds", level=2)
    doc.add_paragraph("Clams dominate the walrus diet near the shelf edge.")
    table = doc.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "region"
    table.cell(0, 1).text = "count"
    table.cell(1, 0).text = "Chukchi"
    table.cell(1, 1).text = "12000"
    doc.save(str(path))


def make_ipynb(path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    nb = new_notebook()
    nb.cells = [
        new_markdown_cell("# Glacier analysis\n\nWe measure glacier retreat from satellite images."),
        new_code_cell(
            "retreat = compute_retreat()\nprint(retreat)",
            outputs=[
                new_output("stream", name="stdout", text="retreat: 42 metres per year\n"),
                new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}),
                new_output("error", ename="ValueError", evalue="bad moraine", traceback=["\x1b[31mValueError\x1b[0m"]),
            ],
        ),
        new_markdown_cell("## Results\n\nThe retreat accelerated after 2000."),
    ]
    nbformat.write(nb, str(path))


def make_all_formats(folder: Path) -> dict[str, Path]:
    """One small file per supported format, each with a distinctive word."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "txt": folder / "notes.txt",
        "md": folder / "guide.md",
        "rst": folder / "spec.rst",
        "html": folder / "page.html",
        "pdf": folder / "paper.pdf",
        "ipynb": folder / "analysis.ipynb",
        "docx": folder / "report.docx",
        "tex": folder / "thesis.tex",
        "csv": folder / "table.csv",
    }
    files["txt"].write_text(
        "Field notes\n\nThe zebrafish tank was cleaned on Monday.\n\nWater temperature stayed stable.\n")
    files["md"].write_text(
        "# Install guide\n\nIntro text.\n\n## Linux\n\nUse apt to install the quokka package.\n\n"
        "```bash\n# not a heading\napt install quokka\n```\n\n## Windows\n\nRun the installer.\n"
    )
    files["rst"].write_text(
        "PEP: 9999\nTitle: Pangolin Protocol\n\nAbstract\n========\n\nThe pangolin protocol defines scales.\n\n"
        "Details\n-------\n\nEach scale overlaps the next.\n"
    )
    files["html"].write_text(
        "<html><head><title>Okapi facts</title><style>.x{color:red}</style></head><body>"
        "<h1>Okapi</h1><p>The okapi lives in the <b>Ituri</b> forest.</p><script>var hidden='secretscript';</script>"
        "<h2>Diet</h2><ul><li>leaves</li><li>fungi</li></ul>"
        "<table><tr><td>weight</td><td>250 kg</td></tr></table></body></html>"
    )
    files["pdf"].write_bytes(
        make_pdf(["Axolotl regeneration study\nLimbs regrow fully.", "Second page mentions salamanders."]))
    make_ipynb(files["ipynb"])
    make_docx(files["docx"])
    files["tex"].write_text(
        "\\documentclass{article}\n\\title{Narwhal Tusks}\n\\begin{document}\n\\maketitle\n"
        "\\section{Introduction}\nThe narwhal tusk is a sensory organ.\n% \\section{Commented}\n"
        "\\subsection{Growth}\nTusks grow spirally.\n\\end{document}\n"
    )
    files["csv"].write_text("species,habitat,count\ncapybara,wetland,40\ntapir,forest,7\n")
    return files


def run_python(code: str, *args: str, as_plain_user: bool = False, **kw: object) -> subprocess.Popen:
    """Start ``python -c code`` in the project's environment.

    ``as_plain_user``: when running as root, drop the capabilities that let root read any
    file (``setpriv``), so permission bits apply as they do for a user.
    """
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-c", code, *args]
    if as_plain_user and os.geteuid() == 0:
        cmd = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", "--", *cmd]
    return subprocess.Popen(cmd, env=env, **kw)  # type: ignore[call-overload]


def can_drop_root_read() -> bool:
    return os.geteuid() != 0 or shutil.which("setpriv") is not None


def many_files(folder: Path, n: int) -> None:
    """``n`` small text files, each with the word platypus."""
    folder.mkdir()
    for i in range(n):
        (folder / f"f{i:04d}.txt").write_text(f"File {i}\n\nThe platypus number {i} swims.\n")


# argv: folder, index, seconds each .txt file takes to load, then commit_every or "cli"
SLOW_INDEXER = """
import sys, time
from pathlib import Path
from jupyter_warp.corpus import build_index, register
from jupyter_warp.corpus.loaders import loader_for

inner = loader_for(Path("x.txt"))

class Slow:
    started = False
    def load(self, path, data):
        if not Slow.started:
            Slow.started = True
            print("started", flush=True)
        time.sleep(float(sys.argv[3]))
        return inner.load(path, data)

register(".txt", Slow())
if sys.argv[4] == "cli":
    from jupyter_warp.cli import main
    sys.exit(main(["index", sys.argv[1], "--index", sys.argv[2], "--quiet"]))
s = build_index([sys.argv[1]], sys.argv[2], progress=False, commit_every=int(sys.argv[4]))
print("done", s.added, flush=True)
"""


def three_docs_index(root: Path) -> Path:
    """An index of three short Markdown files (alpha, beta, gamma) that name each other."""
    from jupyter_warp.corpus import build_index

    (root / "docs").mkdir()
    for name in ("alpha", "beta", "gamma"):
        (root / "docs" / f"{name}.md").write_text(f"# {name.title()}\n\n{name.title()} relates to the others. " * 5)
    build_index([root / "docs"], root / "ix", progress=False)
    return root / "ix"
