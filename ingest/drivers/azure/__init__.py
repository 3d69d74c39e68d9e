"""The Azure Functions app: a Durable blueprint over the same plan, load and fan-in as the
local driver (no business logic here). blueprint.py holds the triggers, orchestration.py the
deterministic orchestrators, activities.py the activities, history.py the run history read
from the audit container."""
