"""First-use downloads into jaxgan's cache (FID Inception weights, pretrained
BigGAN-deep): atomic, with progress, a size check and an optional hash check.

The cache root is $JAXGAN_CACHE, else ~/.cache/jaxgan.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import urllib.request
from pathlib import Path

log = logging.getLogger("jaxgan.download")


class DownloadError(RuntimeError):
    """A file could not be downloaded (nothing partial is kept)."""


def cache_root() -> Path:
    return Path(os.environ.get("JAXGAN_CACHE") or Path.home() / ".cache" / "jaxgan")


def sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def download(url: str, target: str | os.PathLike, hint: str = "", sha256_prefix: str | None = None) -> Path:
    """Fetches `url` to `target` through a temporary file in the same directory,
    renamed only once complete (and, with `sha256_prefix`, only if its sha256
    starts with it): an interrupted or failed download leaves nothing that a
    later call would load. Logs progress every tenth of the file. Raises
    DownloadError naming the URL, followed by `hint` (what to do instead)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            log.info("downloading %s (%s) to %s", url, _mb(total) if total else "size unknown", target)
            # Progress every tenth of the file (every 100 MB when the size is unknown).
            done, reported = 0, 0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                step = 10 * done // total if total else done // 100_000_000
                if step > reported and done != total:
                    reported = step
                    log.info("%s: %s%s", url, _mb(done), f" of {_mb(total)} ({100 * done // total}%)" if total else "")
            # http.client does not raise when a server closes the connection early.
            if total and done != total:
                raise OSError(f"connection closed after {done} of {total} bytes")
            out.flush()
            os.fsync(out.fileno())
        if sha256_prefix:
            digest = sha256(tmp)
            if not digest.startswith(sha256_prefix):
                raise ValueError(f"its sha256 {digest} does not start with {sha256_prefix}: a corrupt or different file")
        os.replace(tmp, target)
        log.info("downloaded %s (%s)", target, _mb(done))
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise DownloadError(f"could not download {url} ({type(e).__name__}: {e}); no partial file was kept. "
                            f"{hint}".rstrip()) from e
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return target
