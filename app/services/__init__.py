"""Use cases: one function per action a person or a job takes; they own the commit."""
