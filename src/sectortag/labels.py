"""The four policy sectors: codes, names, and validation of label lists."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from .errors import DataError


class Sector(NamedTuple):
    code: str
    name_vi: str
    name_en: str


SECTORS: tuple[Sector, ...] = (
    Sector("tai_nguyen_moi_truong", "Tài nguyên – Môi trường", "Natural resources and environment"),
    Sector("ke_hoach_dau_tu", "Kế hoạch – Đầu tư", "Planning and investment"),
    Sector("tai_chinh", "Tài chính", "Finance"),
    Sector("noi_vu", "Nội vụ", "Home affairs"),
)
SECTOR_CODES: tuple[str, ...] = tuple(s.code for s in SECTORS)


def check_labels(labels: Iterable[str], where: str = "", codes: tuple[str, ...] = SECTOR_CODES) -> list[str]:
    """Return `labels` as a list in canonical order, or raise DataError naming the unknown code."""
    found = list(labels)
    for label in found:
        if label not in codes:
            raise DataError(f"{where}unknown label code {label!r}; known codes: {', '.join(codes)}")
    return [c for c in codes if c in found]
