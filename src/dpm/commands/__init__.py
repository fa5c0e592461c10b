"""The command line: thin click commands over ``dpm.pipeline``, and ``main``, the one boundary that maps errors to
exit codes."""
