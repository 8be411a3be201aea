; The same workflow, run by three different kinds of agents: which one is decided by
; wlisp.toml alone (see docs/executors.md).
;
;   wlisp run examples/switch/summarize.wl -i text=@README.md                         # mock (wlisp.toml)
;   wlisp run examples/switch/summarize.wl -i text=@README.md --config examples/switch/command.toml
;   wlisp run examples/switch/summarize.wl -i text=@README.md --config examples/switch/openai.toml

(defagent summarizer :system "You summarise text in three bullet points.")
(defagent checker :role :verify :system "You check a summary against its source.")

(defschema Check {:faithful bool :missing (list-of string)})

(defworkflow main [text]
  (let [summary (spawn summarizer (fmt "Summarise:\n\n{text}"))
        check (spawn checker (fmt "Source:\n{text}\n\nSummary:\n{summary}") :returns Check)]
    {:summary summary.output
     :faithful check.faithful}))
