"""Hostile and broken files for upload tests, built in memory."""

from __future__ import annotations

import io
import zipfile

from pypdf import PdfWriter

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_bomb(inflated: int = 900 * 1024) -> bytes:
    """One member of zeros that inflates about 1000:1."""
    return zip_of({"zeros.txt": bytes(inflated)})


def zip_slip() -> bytes:
    """A good member next to members that try to escape the extraction folder."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("good/ok.md", b"# Kept\n\nThe zipped runbook says restart the frobnicator daily.")
        archive.writestr("../../etc/evil.txt", b"escape attempt")
        archive.writestr("/abs/evil.txt", b"absolute path")
        link = zipfile.ZipInfo("link.txt")
        link.external_attr = (0o120777 << 16) | 0
        archive.writestr(link, b"/etc/passwd")
    return buffer.getvalue()


def many_page_pdf(pages: int = 10_000) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=72, height=72)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
