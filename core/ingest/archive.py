"""Zip archives expanded safely: each member becomes one document, or one clear error.

Refused: too many members, a total or per-member size over the cap, a compression ratio typical of zip
bombs, absolute or ``..`` paths, symbolic links and encrypted members; a nested archive is refused by
type sniffing. Sizes are
enforced on the bytes actually inflated, not only on the sizes the archive declares.
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.errors import ParseError


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    max_members: int = 10_000
    max_member_bytes: int = 50 * 1024 * 1024
    max_total_bytes: int = 500 * 1024 * 1024
    max_ratio: float = 100.0  # inflated / compressed, per member


@dataclass(frozen=True, slots=True)
class Member:
    """One file in the archive: its safe name, and why it is refused (None when it may be read)."""

    name: str
    info: zipfile.ZipInfo
    error: str | None = None


def members(path: Path, limits: ArchiveLimits) -> list[Member]:
    """Every file member with its verdict; a damaged or oversized archive raises ParseError."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise ParseError(f"damaged zip archive: {exc}") from exc
    if not infos:
        raise ParseError("zip archive contains no files")
    if len(infos) > limits.max_members:
        raise ParseError(f"zip archive has {len(infos)} files, more than the limit of {limits.max_members}")
    budget = limits.max_total_bytes
    verdicts = []
    for info in infos:
        error = refusal(info, limits, budget)
        budget -= info.file_size if error is None else 0
        verdicts.append(Member(info.filename, info, error))
    return verdicts


def refusal(info: zipfile.ZipInfo, limits: ArchiveLimits, budget: int) -> str | None:
    """Why this member may not be read, or None."""
    size = info.file_size
    checks = (
        (stat.S_ISLNK(info.external_attr >> 16), "symbolic links in archives are not followed"),
        (bool(info.flag_bits & 0x1), "encrypted archive members are not supported"),
        (
            size > limits.max_member_bytes,
            f"inflates to {size} bytes, over the limit of {limits.max_member_bytes}",
        ),
        (size > budget, f"the archive inflates to more than the limit of {limits.max_total_bytes} bytes"),
        (
            size > limits.max_ratio * max(info.compress_size, 1),
            f"compression ratio over {limits.max_ratio:.0f}:1 (a zip bomb?)",
        ),
    )
    return unsafe_name(info.filename) or next((message for bad, message in checks if bad), None)


def unsafe_name(name: str) -> str | None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        return "absolute paths in archives are refused"
    if ".." in path.parts:
        return "paths with '..' in archives are refused"
    return None


def read_member(path: Path, member: Member, limits: ArchiveLimits) -> bytes:
    """The member's bytes, inflating at most the per-member cap (declared sizes can lie)."""
    cap = min(limits.max_member_bytes, int(limits.max_ratio * max(member.info.compress_size, 1)))
    try:
        with zipfile.ZipFile(path) as archive, archive.open(member.info) as handle:
            data = handle.read(cap + 1)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as exc:
        raise ParseError(f"damaged archive member: {exc}") from exc
    if len(data) > cap:
        raise ParseError(f"inflates past {cap} bytes (a zip bomb?)")
    return data  # a nested zip that is not a .docx is refused by type sniffing, never expanded
