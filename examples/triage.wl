; Support-ticket triage: a classifier routes each ticket to the team that acts on it.

(defagent triager
  :role :plan
  :system "You sort support tickets. Answer with the ticket's category only.")
(defagent engineer :role :implement)
(defagent support :role :custom :system "You answer customers kindly and concretely.")

(defschema Fix {:summary string :patch string})

(defworkflow main [ticket]
  :description "Route a support ticket to the right kind of answer"
  (classify (spawn triager (fmt "Categorise this ticket:\n\n{ticket}"))
    (:bug (let [fix (spawn engineer (fmt "Reproduce and fix:\n\n{ticket}") :returns Fix)]
            (spawn support (fmt "Tell the customer what we fixed: {fix.summary}"))))
    (:question (spawn support (fmt "Answer this question:\n\n{ticket}")))
    (:else (spawn support (fmt "Thank the customer and log this feedback:\n\n{ticket}")))))
