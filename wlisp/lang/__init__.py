"""Compile time: text → reader → evaluator → WorkflowSpec (SPEC §2–§4).
`lang.api` has the entry points (`compile`, `compile_file`, `check`)."""
