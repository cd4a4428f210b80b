"""The dbt glue: the dbt runner and its connection (``dbt``), the Cosmos task groups (``dbt_tasks``)."""
