"""wlisp.toml is validated whole on load: every wrong value is a W0901 naming the
file, the line and column of the key, and the key; building executors from a
validated file raises nothing but WlispError."""

import json
import os
import subprocess
import sys
import tempfile
import tomllib

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from wlisp.errors import WlispError
from wlisp.executors.config import PROFILE_SCHEMAS, TYPES, KeySpans, load_config
from wlisp.executors.profiles import make_executor

from .conftest import ROOT, wlisp_bin

COMMAND = '[executors.c]\ntype = "command"\nargv = ["prog"]\n'
OPENAI = '[executors.o]\ntype = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n'

# The issue's cases: (toml, line of the offending key, the key as the message names it)
ISSUE_CASES = {
    "env-string": (COMMAND + 'env = "X=1"\n', 4, "`executors.c.env`"),
    "agents-string": ('agents = "sh"\n', 1, "`agents`"),
    "executors-string": ('executors = "sh"\n', 1, "`executors`"),
    "api-key-env-int": (OPENAI + "api_key_env = 5\n", 4, "`executors.o.api_key_env`"),
    "latency-string": ('[executors.m]\ntype = "mock"\nlatency = "slow"\n', 3,
                       "`executors.m.latency`"),
    "timeout-string": (COMMAND + 'timeout = "abc"\n', 4, "`executors.c.timeout`"),
    "max-output-string": (COMMAND + 'max_output = "big"\n', 4, "`executors.c.max_output`"),
    "max-iterations-string": (OPENAI + 'max_iterations = "x"\n', 4,
                              "`executors.o.max_iterations`"),
    "prices-string": (OPENAI + 'prices = "cheap"\n', 4, "`executors.o.prices`"),
    "cwd-missing": (COMMAND + 'cwd = "no/such/dir"\n', 4, "`executors.c.cwd`"),
}


def write(tmp_path, text, name="wlisp.toml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def error_of(path):
    with pytest.raises(WlispError) as info:
        load_config(path)
    return info.value.diagnostics


def the_key_at(text, span):
    """The text the span covers."""
    line = text.split("\n")[span.line - 1]
    assert span.end_line == span.line
    return line[span.col - 1:span.end_col - 1]


@pytest.mark.parametrize("case", ISSUE_CASES)
def test_wrong_values_are_w0901_at_the_key(tmp_path, case):
    text, line, key = ISSUE_CASES[case]
    path = write(tmp_path, text)
    d = error_of(path)[0]
    assert d.code == "W0901" and key in d.message
    assert (d.span.file, d.span.line) == (path, line)
    assert the_key_at(text, d.span) == key.strip("`").split(".")[-1]


@pytest.mark.parametrize("text, line, covered, words", [
    # nested: inline tables, sub-tables, dotted keys, quoted keys, arrays
    (OPENAI + 'prices = { m = { input = "x", output = 1 } }\n', 4, "input",
     '`executors.o.prices.m.input` must be a number >= 0'),
    (OPENAI + '\n[executors.o.prices.m]\ninput = 1\noutput = "y"\n', 7, "output",
     "`executors.o.prices.m.output`"),
    (OPENAI + "prices.m.input = -1\nprices.m.output = 0\n", 4, "prices.m.input",
     "`executors.o.prices.m.input` must be a number >= 0"),
    (OPENAI + 'prices = { "qwen2.5-7b" = { input = 1, output = true } }\n', 4, "output",
     '`executors.o.prices."qwen2.5-7b".output`'),
    (OPENAI + 'prices = { m = { inptu = 1, output = 1 } }\n', 4, "inptu",
     "did you mean `input`?"),
    (OPENAI + 'prices = { m = { input = 1 } }\n', 4, "m", "needs `output`"),
    ('[executors.c]\ntype = "command"\nargv = ["prog", 5]\n', 3, "5", "`executors.c.argv[1]`"),
    ('[executors.c]\ntype = "command"\nargv = [\n  "prog",  # the program\n  "-v",\n  []\n]\n',
     6, "[]", "`executors.c.argv[2]`"),
    ('[executors.c]\ntype = "command"\nargv = []\n', 3, "argv", "non-empty list of strings"),
    ('[executors.c]\ntype = "command"\nargv = "claude -p"\n', 3, "argv", "never a shell string"),
    ('[executors.c]\ntype = "command"\n', 1, "executors.c", "`executors.c` needs `argv`"),
    ('[executors.c]\ntype = "command"\nargv = ["p"]\nenv = { A = 1 }\n', 4, "A",
     "`executors.c.env.A` must be a string"),
    ('[executors.c]\ntype = "command"\nargv = ["p"]\ntimeout_s = 5\n', 4, "timeout_s",
     "unknown key `timeout_s` for a command executor (did you mean `timeout`?)"),
    ('[executors.c]\ntype = "command"\nargv = ["p"]\ntimeout = 0\n', 4, "timeout",
     "must be a number > 0"),
    ('[executors.c]\ntype = "command"\nargv = ["p"]\ntimeout = nan\n', 4, "timeout",
     "must be a number > 0"),
    ('[executors.c]\ntype = "command"\nargv = ["p"]\nconcurrency = 0\n', 4, "concurrency",
     "must be an integer >= 1"),
    ('[executors.c]\ntype = "command"\nargv = ["p"]\nconcurrency = 2.5\n', 4, "concurrency",
     "must be an integer >= 1"),
    ('[executors.c]\ntype = "command"\nargv = ["p"]\noutput_file = "yes"\n', 4, "output_file",
     "must be true or false"),
    ('[executors.m]\ntype = "mock"\nlatency = -1\n', 3, "latency", "must be a number >= 0"),
    ('[executors.s]\ntype = "scripted"\nanswers = "nowhere.toml"\n', 3, "answers",
     "a file that exists"),
    (OPENAI + 'structured = "json"\n', 4, "structured", "json_schema, json_object or prompt"),
    (OPENAI + "temperature = 3\n", 4, "temperature", "between 0 and 2"),
    ('[executors.o]\ntype = "openai"\nbase_url = "localhost:8080"\n', 3, "base_url",
     "http:// or https://"),
    ('[executors.r]\ntype = "ray"\ninner = "ghost"\n', 3, "inner",
     "`executors.r.inner` names no profile"),
    ('[executors.r]\ntype = "ray"\ninner = "r2"\n[executors.r2]\ntype = "ray"\ninner = "mock"\n',
     3, "inner", "cannot wrap another ray profile"),
    ('[executors.r]\ntype = "ray"\ninner = "mock"\nactors = 0\n', 4, "actors",
     "must be an integer >= 1"),
    ('[executors.r]\ntype = "ray"\ninner = "mock"\nresources = { w = { num_gpus = "1" } }\n',
     4, "num_gpus", "`executors.r.resources.w.num_gpus` must be a number >= 0"),
    ('[executors.x]\ntype = 1\n', 2, "type", "must be one of mock, scripted, command, openai, ray"),
    ("[executors.x]\nlatency = 1\n", 1, "executors.x", "`executors.x` needs `type`"),
    ("[executors]\nx = 5\n", 2, "x", "`executors.x` must be a table"),
    ("[agents]\nw = 5\n", 2, "w", "`agents.w` must be the name of an executor profile"),
    ('[agents]\nw = "claude"\n', 2, "w",
     'profile `claude`; define it as `[executors.claude]` with `type = "claude-code"`'),
    ('[agents]\nw = "nope"\n', 2, "w", "profile `nope`; define it as an `[executors.nope]` table"),
    ('[executors.cc]\ntype = "claude-code"\n[agents]\nw = "ccc"\n', 4, "w",
     "unknown executor profile `ccc` (did you mean `cc`?)"),
    ('[agent]\nw = "mock"\n', 1, "agent", "unknown section `agent` (did you mean `agents`?)"),
    ('title = "x"\n', 1, "title", "unknown section `title`"),
    ("[[executors.x]]\ntype = 'mock'\n", 1, "executors.x", "`executors.x` must be a table"),
])
def test_each_rule_is_reported_at_its_key(tmp_path, text, line, covered, words):
    path = write(tmp_path, text)
    d = error_of(path)[0]
    assert d.code == "W0901" and words in d.message, d.message
    assert d.span.line == line and the_key_at(text, d.span) == covered, d.span


def test_keys_are_found_past_comments_strings_and_crlf(tmp_path):
    text = ('# a comment with [brackets] and key = "value"\r\n'
            '[executors."c"]  # the header\r\n'
            'type = \'command\'\r\n'
            'argv = [\'p # not a comment ]\', """multi\r\nline "quoted" ]""", \'\'\'raw\r\n\'\'\']\r\n'
            'env = {\tA = "x=}", "B.c" = "${HOME}" }\r\n'
            '\ttimeout\t=\t-1 # negative\r\n')
    d = error_of(write(tmp_path, text))[0]
    assert "`executors.c.timeout` must be a number > 0" in d.message
    assert (d.span.line, d.span.col, d.span.end_col) == (8, 2, 9)


def test_every_mistake_in_a_file_is_reported_in_order(tmp_path):
    text = (COMMAND + 'timeout = "abc"\n\n[executors.m]\ntype = "mock"\nlatency = "slow"\n'
            '\n[agents]\ndefault = "nope"\n')
    diags = error_of(write(tmp_path, text))
    assert [d.span.line for d in diags] == [4, 8]  # agents are checked once profiles are valid
    assert "timeout" in diags[0].message and "latency" in diags[1].message


def test_a_valid_file_loads_with_every_key(tmp_path):
    (tmp_path / "work").mkdir()
    (tmp_path / "answers.toml").write_text('[[answer]]\noutput = "ok"\n')
    text = f"""
[executors.c]
type = "command"
argv = ["{sys.executable}", "-c", "print(1)"]
env = {{ A = "1" }}
timeout = 1.5
output_file = false
envelope = true
cwd = "work"
max_output = 1000
concurrency = 2

[executors.o]
type = "openai"
base_url = "https://example.invalid/v1"
api_key_env = "NO_SUCH_KEY_VAR"
model = "m"
prices = {{ m = {{ input = 0.5, output = 1 }} }}
timeout = 3
tool_timeout = 2
max_iterations = 4
structured = "prompt"
temperature = 0.2

[executors.m]
type = "mock"
latency = 0

[executors.s]
type = "scripted"
answers = "answers.toml"

[executors.r]
type = "ray"
inner = "c"
address = "auto"
actors = 1
num_cpus = 0.5
num_gpus = 0
resources = {{ w = {{ num_cpus = 1, resources = {{ sandbox = 1 }} }} }}

[agents]
default = "m"
w = "c"
"""
    cfg = load_config(write(tmp_path, text))
    assert set(cfg.profiles) == {"c", "o", "m", "s", "r"} and cfg.agents["w"] == "c"
    assert make_executor("c", config=cfg).cwd == str(tmp_path / "work")
    assert make_executor("o", config=cfg).max_iterations == 4
    assert make_executor("m", config=cfg).latency == 0
    assert make_executor("s", config=cfg).rules[0].outputs == ["ok"]


# --- through the command line ---------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("case", ISSUE_CASES)
def test_wlisp_run_and_repl_report_the_key_without_a_traceback(tmp_path, case):
    text, line, key = ISSUE_CASES[case]
    cfg = write(tmp_path, text)
    (tmp_path / "wf.wl").write_text('(defagent a) (defworkflow main [] (spawn a "hi"))')
    runs = [subprocess.run([wlisp_bin(), "run", "wf.wl", "-q"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60),
            subprocess.run([wlisp_bin(), "repl", "--config", cfg], input="(+ 1 1)\n",
                           cwd=ROOT, capture_output=True, text=True, timeout=60)]
    for res in runs:
        assert res.returncode != 0 and res.stdout == ""
        assert "Traceback" not in res.stderr
        assert f"{cfg}:{line}:" in res.stderr and "error[W0901]" in res.stderr
        assert key in res.stderr, res.stderr


# --- random documents -----------------------------------------------------------------

names = st.sampled_from(["a", "b", "mock", "w", "default", "gpt-4.1"])
plausible = (st.integers(0, 4) | st.floats(0, 3) | st.booleans()
             | st.sampled_from([".", "answers.toml", sys.executable, "http://127.0.0.1:9/v1",
                                "HOME", "m", "a", "json_object", "auto"]))
scalars = (plausible | st.none() | st.integers(-2**63, 2**63 - 1) | st.floats()
           | st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(["m", "input", "output", "num_cpus",
                                                         "A", "w", "x y"]), inner, max_size=3),
                      max_leaves=6)


def fitting(schema):
    """Values that pass `schema` (but for the cross-references): documents made of them
    load, and build executors."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind in ("number", "integer"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        high = schema.get("maximum", low + 3)
        numbers = st.integers(int(low) + 1, int(high))
        return numbers if kind == "integer" else numbers | st.floats(low + 0.25, high)
    if kind == "string":
        pattern = schema.get("pattern", "")
        return st.just({"file": "answers.toml", "directory": "."}.get(schema.get("format"))
                       or ("http://127.0.0.1:9/v1" if "http" in pattern else
                           "TEST_KEY" if "A-Z" in pattern else sys.executable))
    if kind == "array":
        return st.lists(fitting(schema["items"]), min_size=1, max_size=2)
    if "properties" in schema:
        return st.fixed_dictionaries({k: fitting(v) for k, v in schema["properties"].items()})
    if kind == "object":
        return st.dictionaries(st.sampled_from(["m", "w", "A"]),
                               fitting(schema["additionalProperties"]), max_size=2)
    return st.booleans()


def profile_of(kind, wrong=values):
    """A profile of type `kind`: values that fit, but now and then a `wrong` one."""
    schema = PROFILE_SCHEMAS.get(kind, {"properties": {}})
    keys = {k: st.one_of(*[fitting(v)] * 8, wrong) for k, v in schema["properties"].items()
            if k != "type"}
    keys["inner"] = st.one_of(*[st.just("mock")] * 8, names, wrong)  # ray's
    required = {k: keys.pop(k) for k in schema.get("required", [])}
    if kind != "ray":
        keys.pop("inner")
    return st.fixed_dictionaries({"type": st.just(kind), **required}, optional=keys)


profiles = st.sampled_from([*TYPES, "nope", 1]).flatmap(profile_of)
sections = {
    "executors": st.dictionaries(names, profiles | values, max_size=3) | values,
    "agents": st.dictionaries(names, names | values, max_size=3) | values}
fitting_profiles = st.sampled_from(TYPES).flatmap(lambda kind: profile_of(kind, st.nothing()))
documents = st.one_of(
    st.fixed_dictionaries({"executors": st.dictionaries(names, fitting_profiles, max_size=3)},
                          optional={"agents": st.dictionaries(names, st.just("mock"))}),
    st.fixed_dictionaries({}, optional=sections),
    st.fixed_dictionaries({}, optional={**sections, "extra": values}))


def toml_value(v) -> str:
    if v is None:
        return '""'  # TOML has no null
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(v), repr(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{toml_key(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


def toml_key(k: str) -> str:
    return k if k and all(c.isascii() and (c.isalnum() or c in "_-") for c in k) else \
        json.dumps(k)


def toml_document(doc: dict) -> str:
    """Tables as `[executors.NAME]` sections (values of other shapes stay inline)."""
    out = []
    for section, value in doc.items():
        if section == "executors" and isinstance(value, dict):
            for name, prof in value.items():
                if isinstance(prof, dict):
                    out.append(f"[executors.{toml_key(name)}]")
                    out.extend(f"{toml_key(k)} = {toml_value(v)}" for k, v in prof.items())
                else:
                    out.insert(0, f"executors.{toml_key(name)} = {toml_value(prof)}")
        else:
            out.insert(0, f"{section} = {toml_value(value)}")
    return "\n".join(out) + "\n"


@given(documents)
@settings(max_examples=int(os.environ.get("WLISP_FUZZ", 300)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
def test_random_documents_load_and_build_or_diagnose(doc):
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "answers.toml"), "w") as f:
            f.write('[[answer]]\noutput = "ok"\n')
        path = os.path.join(tmp, "wlisp.toml")
        with open(path, "w") as f:
            f.write(toml_document(doc))
        try:
            cfg = load_config(path)
        except WlispError as err:
            assert all(d.code == "W0901" for d in err.diagnostics)
            event(err.diagnostics[0].message.split(" must")[0].split(" needs")[0][:40])
            return
        for name, prof in cfg.profiles.items():
            if prof["type"] != "ray":  # a Ray cluster is test_ray's business
                try:
                    make_executor(name, config=cfg)
                    event(f"built a {prof['type']} executor")
                except WlispError as err:
                    event(f"{err.diagnostics[0].code} building a {prof['type']} executor")


def paths(value, prefix=()):
    """Every key and array element of a parsed document, as a path."""
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        yield prefix + (key,)
        yield from paths(inner, prefix + (key,))


@given(documents)
@settings(max_examples=int(os.environ.get("WLISP_FUZZ", 300)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
def test_every_key_and_element_of_a_random_document_is_located(doc):
    text = toml_document(doc)
    found = KeySpans("wlisp.toml", text).spans
    lines = text.split("\n")
    for path in paths(tomllib.loads(text)):
        span = found[path]
        covered = lines[span.line - 1][span.col - 1:span.end_col - 1]
        if isinstance(path[-1], str):  # a key: its text ends with its name (maybe quoted)
            assert covered.endswith((path[-1], json.dumps(path[-1]))), (path, covered)


# --- the docs say what the schema does ---------------------------------------------------

DOC = os.path.join(ROOT, "docs", "executors.md")


def doc_blocks(lang):
    import re

    fences = re.findall(r"^```(\w*)\n(.*?)^```", open(DOC, encoding="utf-8").read(), re.S | re.M)
    return [code for kind, code in fences if kind == lang]


def test_the_documented_files_load(tmp_path):
    (tmp_path / "answers.toml").write_text('[[answer]]\noutput = "ok"\n')
    toml_blocks = doc_blocks("toml")
    assert len(toml_blocks) >= 2
    for text in toml_blocks:
        load_config(write(tmp_path, text))


def test_the_rules_table_lists_every_key_of_the_schema():
    rows = [line.split("|")[1:3] for line in open(DOC, encoding="utf-8")
            if line.startswith("| `") or line.startswith("| every type")]
    documented = {(kind.strip(" `"), key.strip(" `")) for kind, keys in rows
                  for key in keys.split(",")}
    schema = {(kind, key) for kind, s in PROFILE_SCHEMAS.items() for key in s["properties"]
              if key not in ("type", "concurrency")} | {("every type", "concurrency")}
    assert documented == schema


def test_the_documented_diagnostic_is_what_wlisp_prints(tmp_path, monkeypatch):
    from wlisp.errors import Sources, render

    shown = next(b for b in doc_blocks("") if "error[W0901]" in b)
    text = COMMAND + 'timeout = "abc"\n'
    write(tmp_path, text)
    monkeypatch.chdir(tmp_path)
    sources = Sources()
    sources.add("wlisp.toml", text)
    assert render(error_of("wlisp.toml")[0], sources) + "\n" == shown
