; A code-review panel: three reviewers look at one change from different
; angles, in parallel; a lead reviewer merges their findings into one verdict.

(defagent reviewer
  :role :verify
  :system "You are a meticulous senior engineer reviewing a change.")

(defagent lead
  :role :plan
  :system "You merge several reviews into one decision.")

(defschema Finding {:severity (enum "low" "medium" "high") :summary string})
(defschema Review {:approve bool :findings (list-of Finding)})

(defn review [aspect diff]
  (spawn reviewer
    (fmt """
      Review the following change for {aspect}.
      List concrete findings with a severity.

      {diff}
      """)
    :returns Review))

(defworkflow main [diff]
  :description "Three focused reviews of a diff, merged into one verdict"
  :budget {:steps 10}
  (let [reviews (map (fn [aspect] (review aspect diff))
                     ["correctness" "security" "readability"])
        verdict (spawn lead (fmt "Merge these reviews into one decision:\n\n{reviews}")
                       :returns Review)]
    (if verdict.approve
      "approved"
      (fmt "changes requested: {verdict.findings}"))))
