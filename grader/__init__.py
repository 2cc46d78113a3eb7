"""needlework's grader: problems, an isolated runner, a trusted judge, reports, command line."""
