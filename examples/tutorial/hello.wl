; The tutorial's first workflow (docs/tutorial.md): one agent, one step.

(defagent poet :system "You write short, concrete poems.")

(defworkflow main [topic]
  (spawn poet (fmt "Write a haiku about {topic}.")))
