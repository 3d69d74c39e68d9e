"""The Azure Functions app: a Durable blueprint over the same plan, load and fan-in as the
local driver (no business logic here). blueprint.py holds the triggers, orchestration.py the
deterministic orchestrators, activities.py the activities, history.py the run history read
from the audit container; isolation.py runs a load activity's body in a child process of the
worker (activity_child.py is that child; warm_server.py the server that forks warm ones,
warm_child.py the worker's handle on it), so a native crash ends only the child."""
