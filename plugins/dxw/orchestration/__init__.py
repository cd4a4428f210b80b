"""The Airflow glue: Airflow's environment, the assets, timetables and alerts the DAGs use, the
in-process runs (``dagrun``, ``runtime``) and the deployment (``deployment``, ``airflow_api``).
"""
