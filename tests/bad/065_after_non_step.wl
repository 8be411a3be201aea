; expect: W0303 12:37
;
; :after lists a string constant, not a step.
(defagent migrator :role :implement)
(defagent tester :role :verify)

(def setup-note "run the setup script first")

(defworkflow main [repo]
  (let [migrate (spawn migrator (fmt "Run the migration in {repo}"))
        test (spawn tester (fmt "Run the test suite in {repo}")
                    :after [migrate setup-note])]
    test))
