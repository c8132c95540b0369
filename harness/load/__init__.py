"""Team-scale load: Locust users as training jobs against a shared MLflow-API server.

``locustfile`` is what Locust runs (in its own processes); ``generator`` starts and reads one
Locust run; ``targets`` starts the servers, each on a fresh store; ``level`` measures one level;
``readback`` counts what the store kept; ``queries`` fills a store and times its queries;
``crosscheck`` sets real MLflow clients beside Locust users; ``floor`` is the backend's raw
insert rate; ``spec`` says what the quick and the full stage run.
"""
