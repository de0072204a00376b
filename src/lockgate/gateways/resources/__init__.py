"""What a workflow step's ``await get_resource(name)`` returns: one resolver per resource type,
and the egress policy that inline resources connect through."""
