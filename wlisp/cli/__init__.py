"""Front ends: the `wlisp` command (`commands`), the REPL, progress, diagrams and the
pygments highlighter. They call the library and print; the work is done below."""
