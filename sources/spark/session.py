"""A SparkSession for connectors, from configuration.

```python
from connector_watch.sources.spark.session import spark_session

spark = spark_session()                      # local[*], or $CONNECTOR_WATCH_SPARK_MASTER
spark = spark_session("spark://host:7077")   # any Spark master URL, passed through unchanged
```

The master is configuration and nothing else: the argument, else
``$CONNECTOR_WATCH_SPARK_MASTER``, else ``local[*]``. Whatever it names is handed
to ``SparkSession.builder.master`` as is (``spark://``, ``yarn``, ``k8s://``,
``local[N]``); nothing here stands between the connector and the cluster.

For local masters only, the builder also applies the measured defaults of this
project's machines (see ``ENVIRONMENT.md``): ``SPARK_LOCAL_IP=127.0.0.1`` (Spark
otherwise binds an external interface and starts slower), ``JAVA_TOOL_OPTIONS``
trimming JIT and GC work (session start ~3.4 s), and ``PYSPARK_PYTHON`` set to this
interpreter so Python workers see the same packages (pyarrow above all). Values
already set in the environment win. On a cluster those choices belong to the
cluster's configuration.

Before starting the JVM it checks the two things that otherwise fail late and
obscurely: a Java runtime (17 or newer) and pyarrow (PySpark's Python data sources
need it in every Python worker). Each missing piece is one :class:`SparkSetupError`
that says what to install.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only; importing pyspark.sql is not free
    from pyspark.sql import SparkSession

ENV_MASTER = "CONNECTOR_WATCH_SPARK_MASTER"
DEFAULT_MASTER = "local[*]"
MIN_JAVA = 17
LOCAL_DEFAULT_ENV = {
    "SPARK_LOCAL_IP": "127.0.0.1",
    "JAVA_TOOL_OPTIONS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}
#: Spark settings for a small, quiet local session; ``conf`` overrides any of them.
LOCAL_DEFAULT_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.bindAddress": "127.0.0.1",
}

#: Seconds taken by the last :func:`spark_session` call that started a JVM (for reports).
last_start_seconds: float | None = None


class SparkSetupError(RuntimeError):
    """Spark cannot start here: a missing Java runtime or pyarrow, said in one message."""


def resolve_master(master: str | None = None) -> str:
    """``master``, else ``$CONNECTOR_WATCH_SPARK_MASTER``, else ``local[*]``."""
    chosen = (master or os.environ.get(ENV_MASTER) or "").strip()
    return chosen or DEFAULT_MASTER


def is_local(master: str) -> bool:
    return master == "local" or master.startswith("local[") or master.startswith("local-cluster[")


def find_java() -> str:
    """The ``java`` executable Spark will use (``$JAVA_HOME/bin/java`` first, as Spark does)."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
        raise SparkSetupError(
            f"JAVA_HOME={java_home} has no bin/java. Point JAVA_HOME at a Java {MIN_JAVA}+ runtime "
            "or unset it to use the java on PATH."
        )
    found = shutil.which("java")
    if not found:
        raise SparkSetupError(
            f"No Java runtime found: Spark needs Java {MIN_JAVA} or newer. Install one "
            "(Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless; macOS: brew install openjdk@17) "
            "or set JAVA_HOME."
        )
    return found


def java_major_version(java: str) -> int | None:
    """The major version ``java -version`` reports (``None`` when it does not say)."""
    env = {k: v for k, v in os.environ.items() if k != "JAVA_TOOL_OPTIONS"}
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SparkSetupError(f"Cannot run {java} -version: {exc}. Spark needs Java {MIN_JAVA}+.")
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def check_java() -> str:
    java = find_java()
    major = java_major_version(java)
    if major is not None and major < MIN_JAVA:
        raise SparkSetupError(
            f"{java} is Java {major}; PySpark 4 needs Java {MIN_JAVA} or newer. Install a newer JDK "
            "or set JAVA_HOME to one."
        )
    return java


def check_pyarrow(python: str | None = None) -> None:
    """pyarrow importable here, and in ``python`` (the workers' interpreter) when that differs."""
    hint = "pip install pyarrow (PySpark's Python data sources need it in every Python worker)"
    if importlib.util.find_spec("pyarrow") is None:
        raise SparkSetupError(f"pyarrow is not installed in {sys.executable}: {hint}")
    if python and os.path.realpath(python) != os.path.realpath(sys.executable):
        try:
            probe = subprocess.run(
                [python, "-c", "import pyarrow"], capture_output=True, text=True, timeout=60, check=False
            )
        except OSError as exc:
            raise SparkSetupError(f"PYSPARK_PYTHON={python} cannot be run: {exc}")
        if probe.returncode != 0:
            raise SparkSetupError(f"pyarrow is not importable by PYSPARK_PYTHON={python}: {hint}")


def check_environment(master: str | None = None) -> None:
    """Raise :class:`SparkSetupError` when Java or pyarrow is missing (no JVM is started)."""
    check_java()
    if is_local(resolve_master(master)):
        check_pyarrow(os.environ.get("PYSPARK_PYTHON") or sys.executable)
    else:
        check_pyarrow()


def _prepend_python_path(entries: Sequence[str | os.PathLike[str]]) -> None:
    """Put ``entries`` first on ``PYTHONPATH``, which local Python workers inherit."""
    wanted = [str(Path(e).resolve()) for e in entries]
    current = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    merged = wanted + [p for p in current if p not in wanted]
    os.environ["PYTHONPATH"] = os.pathsep.join(merged)


def spark_session(
    master: str | None = None,
    *,
    app_name: str = "connector-watch",
    conf: Mapping[str, Any] | None = None,
    python_path: Sequence[str | os.PathLike[str]] = (),
    register: bool = True,
    log_level: str = "ERROR",
) -> SparkSession:
    """The active SparkSession, or a new one on ``master`` (see the module docstring).

    ``conf`` adds Spark settings; ``python_path`` puts directories first on the local
    Python workers' ``PYTHONPATH`` (a workspace whose connectors they import);
    ``register`` registers the ``lakeflow_connect`` data source.
    """
    global last_start_seconds
    chosen = resolve_master(master)
    local = is_local(chosen)
    check_java()
    if local:
        for key, value in LOCAL_DEFAULT_ENV.items():
            os.environ.setdefault(key, value)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        check_pyarrow(os.environ["PYSPARK_PYTHON"])
    else:
        check_pyarrow()
    if python_path:
        _prepend_python_path(python_path)

    from pyspark.sql import SparkSession

    started = time.perf_counter()
    builder = SparkSession.builder.master(chosen).appName(app_name)
    settings: dict[str, Any] = dict(LOCAL_DEFAULT_CONF) if local else {}
    settings.update(conf or {})
    for key, value in settings.items():
        builder = builder.config(key, str(value))
    existed = SparkSession.getActiveSession() is not None
    spark = builder.getOrCreate()
    if not existed:
        last_start_seconds = time.perf_counter() - started
    if log_level:
        spark.sparkContext.setLogLevel(log_level)
    if register:
        from connector_watch.sources.spark.datasource import register as register_source

        register_source(spark)
    return spark


__all__ = [
    "DEFAULT_MASTER",
    "ENV_MASTER",
    "SparkSetupError",
    "check_environment",
    "check_java",
    "check_pyarrow",
    "resolve_master",
    "spark_session",
]
