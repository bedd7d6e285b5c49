"""What people look at: models, batches and drift, read from the registry and the store.

Read models for the Airflow UI plugin (and anything else that shows the loop to a person);
they read, they never write.
"""
