"""Connectors through Spark: the ``lakeflow_connect`` PySpark data source and its session.

```python
from connector_watch.sources.spark import spark_session
spark = spark_session()   # local[*] unless configured; registers the data source
spark.read.format("lakeflow_connect").option("source", "github").option("tableName", "issues")...
```

See ``sources/spark/README.md``; ``python -m connector_watch.sources.spark read github issues`` reads a
table against the simulator and shows it.
"""

from connector_watch.sources.spark.session import SparkSetupError, spark_session

FORMAT = "lakeflow_connect"

__all__ = ["FORMAT", "SparkSetupError", "spark_session"]
