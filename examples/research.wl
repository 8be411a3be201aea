; Research fan-out: several researchers take one question from different angles;
; one synthesizer writes the answer. Uses the standard library's pattern.

(import patterns)

(defagent historian :role :explore :system "You research the history of a topic.")
(defagent economist :role :explore :system "You research the economics of a topic.")
(defagent engineer :role :explore :system "You research how things work technically.")
(defagent editor :role :plan :system "You synthesise research notes into one clear answer.")

(defworkflow main [question]
  (fanout-synthesize [historian economist engineer] editor question))
