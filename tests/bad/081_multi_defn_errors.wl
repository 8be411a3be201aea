; expect: W0206 12:42, W0205 12:66, W0201 17:40, W0306|W0303 17:70
;
; Errors in two helpers and in the workflow itself.
(defagent planner :role :plan)
(defagent coder :role :implement)
(defschema Plan {:steps (list-of string)})

(defn make-plan [goal]
  (spawn planner (fmt "Plan: {goal}") :returns Plan))

(defn implement [plan]
  (spawn coder (fmt "Implement step one: {plan.stepz}") :returns Patchh))

(defworkflow main [goal]
  (let [p (make-plan goal)]
    (implement p)
    (spawn coder (fmt "Write tests for {gaol}") :id "tests" :retries "3")))
