"""LiveBench task scorers, one module per kind of task; registered by task name in `..tasks`."""
