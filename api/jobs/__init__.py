"""Routes of the Scale v6 Job Services: jobs, executions, job types and their files."""
