"""The dbt glue: the dbt runner and its connection (``dbt``), one ``dbt build`` per DAG run and its
results by node (``dbt_build``), the task groups that run it and report each node (``dbt_tasks``).
"""
