"""The Lambda's deployment package, `build/lambda.zip`: `sync_lambda` plus the locked wheels it
runs on, built the same way every time.

    python -m infra.lambda_package                 # make package: build/lambda.zip
    python -m infra.lambda_package --target host   # the same lock for this machine (tests)

What goes in: the `sync_lambda` package (its .py files) and, for each pin of
`requirements/lambda.lock`, the wheel for the Lambda platform (CPython 3.12, manylinux aarch64,
glibc 2.34) taken from the wheel cache `make install` fills, its SHA-256 checked against the
lock. What stays out: the runtime's SDK stack — boto3, botocore, s3transfer and botocore's own
dependencies (urllib3, jmespath, python-dateutil, six) — which the python3.12 runtime provides
(the handler checks boto3's version floor at cold start); bytecode and `__pycache__`, scripts,
tests.

Byte-identical: entries sorted, a fixed timestamp (1980-01-01), normalized modes (0644, or 0755
where the wheel marks a file executable), relative paths only, deflate level 9. Deflate's output
can differ between zlib builds, so releases are built on one builder (see docs/deploy.md); the
zlib version is printed with the hash.

No network: a missing wheel is an error that says to run `make install`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import re
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from packaging.markers import Marker
from packaging.tags import Tag, compatible_tags, cpython_tags, sys_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from infra.paths import ROOT, env_path

if TYPE_CHECKING:
    from collections.abc import Mapping

LOCK: Final = ROOT / "requirements" / "lambda.lock"
WHEELS: Final = ROOT / ".cache" / "wheels"
OUT: Final = ROOT / "build" / "lambda.zip"
SOURCE: Final = "sync_lambda"
PACKAGE_VAR: Final = "SFBILLING_LAMBDA_PACKAGE"
# The runtime's SDK stack: boto3, botocore and botocore's own dependencies. Bundling any of them
# would shadow the runtime's copy under its botocore (AWS: bundle the whole stack or none of
# it); requests and Powertools accept the versions that stack holds.
RUNTIME_PROVIDED: Final = frozenset({"boto3", "botocore", "s3transfer", "urllib3", "jmespath",
                                     "python-dateutil", "six"})
_DATE: Final = (1980, 1, 1, 0, 0, 0)
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


class PackageError(Exception):
    """The package cannot be built as locked; the message says what to run."""


@dataclass(frozen=True, slots=True)
class Pin:
    """One locked requirement: exact version, the hashes of its files, its marker."""

    name: str
    version: str
    hashes: frozenset[str]
    marker: str | None


@dataclass(frozen=True, slots=True)
class Target:
    """A platform to build for: the wheel tags it accepts (best first) and its markers."""

    name: str
    tags: tuple[Tag, ...]
    environment: dict[str, str]


def _lambda_target() -> Target:
    # Amazon Linux 2023 (python3.12 runtime) has glibc 2.34.
    platforms = [f"manylinux_2_{minor}_aarch64" for minor in range(34, 16, -1)]
    platforms.append("manylinux2014_aarch64")
    tags = (*cpython_tags((3, 12), abis=["cp312", "abi3", "none"], platforms=platforms),
            *compatible_tags((3, 12), "cp312", platforms=platforms))
    return Target("lambda", tags, {
        "python_version": "3.12", "python_full_version": "3.12.0",
        "platform_python_implementation": "CPython", "implementation_name": "cpython",
        "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64",
        "os_name": "posix"})


LAMBDA: Final = _lambda_target()


def host_target() -> Target:
    """This machine's interpreter and platform (tests run the same lock on it)."""
    from packaging.markers import default_environment  # noqa: PLC0415

    return Target("host", tuple(sys_tags()), {k: str(v) for k, v in
                                              default_environment().items()})


def read_lock(path: Path = LOCK) -> list[Pin]:
    """The pins of a `--generate-hashes` requirements file."""
    pins: list[Pin] = []
    current: tuple[str, str, str | None] | None = None
    hashes: set[str] = set()
    for line in path.read_text().splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("--hash="):
            hashes.update(_HASH.findall(text))
            continue
        if current is not None:
            pins.append(Pin(current[0], current[1], frozenset(hashes), current[2]))
        match = _PIN.match(text)
        if match is None:
            raise PackageError(f"{path}: not a pinned requirement: {text!r}")
        current, hashes = (match.group(1), match.group(2), match.group(3)), set()
    if current is not None:
        pins.append(Pin(current[0], current[1], frozenset(hashes), current[2]))
    return pins


def _wheel_for(pin: Pin, directory: Path, target: Target) -> Path:
    """The best wheel of `pin` for `target` in `directory`, its hash checked."""
    rank = {tag: i for i, tag in enumerate(target.tags)}
    best: tuple[int, Path] | None = None
    wanted = canonicalize_name(pin.name)
    for wheel in directory.glob("*.whl"):
        name, version, _build, tags = parse_wheel_filename(wheel.name)
        if name != wanted or str(version) != pin.version:
            continue
        score = min((rank[t] for t in tags if t in rank), default=None)
        if score is not None and (best is None or score < best[0]):
            best = (score, wheel)
    if best is None:
        raise PackageError(f"no wheel of {pin.name}=={pin.version} for the {target.name} "
                           f"platform in {directory}: run `make install` (it fills the wheel "
                           "cache)")
    digest = hashlib.sha256(best[1].read_bytes()).hexdigest()
    if digest not in pin.hashes:
        raise PackageError(f"{best[1].name}: SHA-256 {digest} is not one the lock allows for "
                           f"{pin.name}=={pin.version}; delete it and run `make install`")
    return best[1]


def _from_wheel(wheel: Path) -> dict[str, tuple[bytes, bool]]:
    """path in the package → (bytes, executable), as an installer would lay the wheel out."""
    out: dict[str, tuple[bytes, bool]] = {}
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            name = info.filename
            if info.is_dir():
                continue
            parts = name.split("/")
            if ".data" in parts[0] and parts[0].endswith(".data"):
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue  # scripts, headers, data: nothing the Lambda imports
                name = "/".join(parts[2:])
            if "__pycache__" in name.split("/") or name.endswith((".pyc", ".pyo")):
                continue
            executable = bool((info.external_attr >> 16) & 0o111)
            out[name] = (zf.read(info), executable)
    return out


def _source(root: Path) -> dict[str, tuple[bytes, bool]]:
    return {str(p.relative_to(root)): (p.read_bytes(), False)
            for p in sorted((root / SOURCE).rglob("*.py")) if "__pycache__" not in p.parts}


@dataclass(frozen=True, slots=True)
class Package:
    """A built package."""

    path: Path
    data: bytes = field(repr=False)
    distributions: dict[str, int]  # distribution → compressed bytes in the zip

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the zip."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def code_hash(self) -> str:
        """Base64 SHA-256, as Lambda's source code hash is written."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode()


def build(*, target: Target = LAMBDA, lock: Path = LOCK, wheels: Path | None = None,
          out: Path = OUT, root: Path = ROOT, include_runtime_provided: bool = False) -> Package:
    """Build the package (PackageError when a wheel is missing or does not match the lock)."""
    directory = wheels or WHEELS / target.name
    files: dict[str, tuple[bytes, bool]] = {}
    owner: dict[str, str] = {}
    for pin in read_lock(lock):
        if pin.marker and not Marker(pin.marker).evaluate(target.environment):
            continue
        if canonicalize_name(pin.name) in RUNTIME_PROVIDED and not include_runtime_provided:
            continue
        for name, content in _from_wheel(_wheel_for(pin, directory, target)).items():
            if name in files:
                raise PackageError(f"{name} is in both {owner[name]} and {pin.name}")
            files[name], owner[name] = content, pin.name
    for name, content in _source(root).items():
        files[name], owner[name] = content, SOURCE
    buf = io.BytesIO()
    sizes: dict[str, int] = {}
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(files):
            data, executable = files[name]
            info = zipfile.ZipInfo(name, date_time=_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix: the modes below are read by Lambda's unzip
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            zf.writestr(info, data, compresslevel=9)
            sizes[owner[name]] = sizes.get(owner[name], 0) + zf.getinfo(name).compress_size
    data = buf.getvalue()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return Package(out, data, sizes)


def load(path: Path) -> Package:
    """A package built before (`make package`, or CI's release build), as it is."""
    if not path.is_file():
        raise PackageError(f"{path}: no such package; build it with `make package`")
    return Package(path, path.read_bytes(), {})


def for_program(environ: Mapping[str, str]) -> Package:
    """The package the Pulumi program deploys: the zip named by `PACKAGE_VAR` (built once by
    the release job, or by the tests; a relative path is taken from the project root), else a
    build from the lock (PackageError says what to run)."""
    prebuilt = env_path(environ, PACKAGE_VAR)
    if prebuilt is None:
        return build()
    if not prebuilt.is_file():
        given = environ[PACKAGE_VAR].strip()
        raise PackageError(f"{PACKAGE_VAR}={given!r} resolves to {prebuilt} (a relative path is "
                           f"taken from the project root, {ROOT}): no such file; build it with "
                           "`make package`, or give the path of the zip the release job built")
    return load(prebuilt)


def main(argv: list[str] | None = None) -> int:
    """`make package`."""
    parser = argparse.ArgumentParser(prog="python -m infra.lambda_package",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=("lambda", "host"), default="lambda")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    target = LAMBDA if args.target == "lambda" else host_target()
    try:
        package = build(target=target, out=args.out)
    except PackageError as exc:
        print(f"lambda_package: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    print(f"{package.path}  {len(package.data) / 2**20:.1f} MB  sha256 {package.sha256}  "  # noqa: T201
          f"(zlib {zlib.ZLIB_RUNTIME_VERSION}, {args.target} platform)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
