"""Document parsing in killable child processes: a hostile file costs one child, never the worker.

A parse that runs past the timeout is stopped by killing its process (a thread cannot be stopped), and
each child has an address-space cap, so a decompression bomb inside a PDF or .docx ends as a MemoryError
there. The pool (``pebble``) replaces killed children; the worker only sees a ``ParseError``.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import resource
import threading
from collections.abc import Callable

from pebble import ProcessExpired, ProcessPool

from core.errors import ParseError
from core.ingest.parse import ParsedDocument, parse


def limit_memory(megabytes: int) -> None:
    """Runs in each child before any parse: cap its address space."""
    cap = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def parse_in_child(data: bytes, doc_type: str, max_pdf_pages: int) -> ParsedDocument:
    try:
        return parse(data, doc_type, max_pdf_pages=max_pdf_pages)
    except MemoryError:
        raise ParseError("parsing needed more memory than allowed (a decompression bomb?)") from None


class ParseSandbox:
    """``parse`` with a wall-clock timeout and a memory cap, callable from any thread."""

    def __init__(
        self,
        *,
        timeout_s: float,
        memory_mb: int,
        workers: int = 2,
        target: Callable[[bytes, str, int], ParsedDocument] = parse_in_child,
    ) -> None:
        self.timeout_s = timeout_s
        self._target = target
        self._memory_mb = memory_mb
        self._workers = workers
        self._pool: ProcessPool | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> ProcessPool:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPool(
                    max_workers=self._workers,
                    initializer=limit_memory,
                    initargs=(self._memory_mb,),
                    context=multiprocessing.get_context("spawn"),
                )
            return self._pool

    def __call__(self, data: bytes, doc_type: str, *, max_pdf_pages: int) -> ParsedDocument:
        future = self._ensure().schedule(
            self._target, args=(data, doc_type, max_pdf_pages), timeout=self.timeout_s
        )
        try:
            result: ParsedDocument = future.result()
        except ParseError:
            raise
        except concurrent.futures.TimeoutError:
            raise ParseError(f"parsing took longer than {self.timeout_s:g} s and was stopped") from None
        except ProcessExpired as exc:
            raise ParseError(f"the parser process died (exit code {exc.exitcode})") from None
        except Exception as exc:  # anything a parser library throws on hostile input
            raise ParseError(f"could not parse: {type(exc).__name__}: {exc}") from None
        return result

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()  # type: ignore[no-untyped-call]
            pool.join(timeout=10)
