"""A tiny stand-in for a command-line agent: reads the prompt on stdin, answers on stdout.

Structured steps get JSON matching the schema wlisp passes in WLISP_OUTPUT_SCHEMA.
"""

import json
import os
import sys

prompt = sys.stdin.read()
schema_file = os.environ.get("WLISP_OUTPUT_SCHEMA")
if schema_file:
    schema = json.load(open(schema_file))
    answer = {}
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type")
        answer[name] = True if kind == "boolean" else [] if kind == "array" else "ok"
    print(json.dumps(answer))
else:
    words = prompt.split()
    print(f"- {len(words)} words\n- starts with: {' '.join(words[1:6])}\n- agent: "
          f"{os.environ['WLISP_AGENT']}")
