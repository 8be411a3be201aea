; Workflow patterns, written in wlisp. Import with `(import patterns)`.
;
; Each pattern takes its agents and its task as arguments and its settings as
; trailing keyword options, so one shape serves many jobs:
;
;     (gen-eval writer critic task :max 4 :criteria ["vivid" "accurate"])
;
; The semantics follow the workflow-template seed's six patterns (fan-out and
; synthesize, generate and filter, verify rules, generate/evaluate, classify and
; act, tournament) plus review/revise and map/reduce. docs/patterns.md has a
; page per pattern.

; --- options -------------------------------------------------------------------

(defn options
  "The trailing `:key value` arguments `pairs` of a call to `pattern`, over `defaults`.
  A key that `defaults` does not list, or a key without a value, is a compile error
  naming the pattern (with a note pointing at the call)."
  [pattern defaults pairs]
  (let [ks (map (fn [i] (nth pairs i)) (range 0 (len pairs) 2))
        unknown (filter (fn [k] (not (contains? defaults k))) ks)
        known (join ", " (map (fn [k] (str ":" k)) (keys defaults)))]
    (cond
      (= (mod (len pairs) 2) 1)
      (error (str pattern ": options come in `:key value` pairs; it takes " known))
      (not (empty? unknown))
      (error (str pattern ": unknown option " (join ", " (map (fn [k] (str ":" k)) unknown))
                  "; it takes " known)))
    (reduce (fn [m i] (conj m [(nth pairs i) (get pairs (+ i 1))]))
            defaults (range 0 (len pairs) 2))))

(defn ask
  "Spawn `agent` on `prompt`, with `:returns schema` when `schema` is not nil."
  [agent prompt schema]
  (if schema (spawn agent prompt :returns schema) (spawn agent prompt)))

(defn bullets
  "Strings as a bulleted list, for prompts."
  [items]
  (join "\n" (map (fn [x] (str "- " x)) items)))

; --- schemas -------------------------------------------------------------------

; The seed's verdict: did the work pass, how good is it (0..1), what to change,
; and (optionally) a score per criterion. Like every record, an answer with more
; fields (a `skill`, say) is accepted; the extra fields are dropped.
(defschema Verdict
  {:passed bool
   :overall_score (json-schema {:type "number" :minimum 0 :maximum 1})
   :feedback string
   :details (optional (list-of {:criterion string
                                :passed bool
                                :score (json-schema {:type "number" :minimum 0 :maximum 1})
                                :feedback string}))})

; One verifier's answer about one rule, and a skeptic's second look at a flag.
(defschema RuleCheck {:complies bool :evidence string})
(defschema FlagCheck {:upheld bool :reason string})

; A reviewer's decision on a draft.
(defschema ReviewDecision
  {:decision (enum "APPROVED" "REVISE" "BLOCKED")
   :summary string
   :issues (list-of string)})

; --- fan-out -------------------------------------------------------------------

(defn fanout-synthesize
  "N workers in parallel on the same task, then one synthesizer over all their results.
  Options: :instruction (what the synthesizer does), :returns (its schema)."
  [workers synthesizer task & opts]
  (let [o (options "fanout-synthesize"
                   {:instruction "Combine these results into one answer." :returns nil} opts)
        instruction (get o :instruction)
        results (map (fn [w] (spawn w task)) workers)]
    (ask synthesizer (fmt "{instruction}\n\nTask: {task}\n\n{results}") (get o :returns))))

(defn generate-and-filter
  "N generators in parallel, then one step that filters and de-duplicates their output.
  Options: :n (3), :instruction (what the filter keeps), :returns (the filter's schema)."
  [generator curator task & opts]
  (let [o (options "generate-and-filter"
                   {:n 3 :returns nil
                    :instruction "Merge these candidates: drop duplicates and weak ones, keep the best."}
                   opts)
        n (get o :n)
        instruction (get o :instruction)
        candidates (map (fn [i] (spawn generator
                                  (fmt "{task}\n\n(You are generator {i} of {n}: work independently.)")))
                        (range 1 (+ n 1)))]
    (ask curator (fmt "{instruction}\n\nTask: {task}\n\n{candidates}") (get o :returns))))

(defn map-reduce
  "Map `f` (a function of one item that spawns) over `items`, at most :limit at a time,
  then reduce all the results with one `reducer` step.
  Options: :limit (nil: no bound), :instruction, :returns (the reducer's schema)."
  [f items reducer & opts]
  (let [o (options "map-reduce"
                   {:limit nil :returns nil
                    :instruction "Combine these partial results into one answer."} opts)
        instruction (get o :instruction)
        parts (map f items :limit (get o :limit))]
    (ask reducer (fmt "{instruction}\n\n{parts}") (get o :returns))))

; --- verification --------------------------------------------------------------

(defn verify-rules
  "One fresh-context verifier per rule checks `subject`; with :skeptic, a second agent
  re-checks every flag and only upheld flags count (fewer false positives).
  The value is {:passed bool :violations [...] :checks [...]}: one check per rule, in
  order, each {:rule :violated :evidence}; the violations are the checks violated. Give the verifier `:role :verify`, so it sees only its rule."
  [verifier subject rules & opts]
  (let [o (options "verify-rules" {:skeptic nil} opts)
        skeptic (get o :skeptic)
        checks (map (fn [rule]
                      (let [check (spawn verifier
                                    (fmt """
                                      Check the text below against exactly one rule.
                                      Rule: {rule}

                                      Answer `complies` false only for a clear violation,
                                      and quote the offending part as `evidence`.

                                      {subject}
                                      """)
                                    :returns RuleCheck)]
                        (cond
                          (not skeptic)
                          {:rule rule :violated (not check.complies) :evidence check.evidence}
                          check.complies
                          {:rule rule :violated false :evidence check.evidence}
                          :else
                          (let [recheck (spawn skeptic
                                          (fmt """
                                            A reviewer says the text below breaks this rule.
                                            Rule: {rule}
                                            Their evidence: {check.evidence}

                                            Be skeptical: uphold the flag only if the rule is
                                            really broken.

                                            {subject}
                                            """)
                                          :returns FlagCheck)]
                            {:rule rule :violated recheck.upheld :evidence recheck.reason}))))
                    rules)
        violations (filter (fn [c] c.violated) checks)]
    {:passed (empty? violations) :violations violations :checks checks}))

(defn gen-eval
  "Generate -> evaluate -> retry: `worker` attempts `task`, a fresh-context `verifier`
  grades the attempt with the seed's verdict schema (`Verdict`), and its feedback goes
  into the next attempt, until the verdict passes or :max attempts.
  Options: :max (3), :criteria (a vector of strings), :threshold (a minimum
  overall_score, on top of `passed`).
  The value is {:passed :draft :verdict :attempts}; :draft is the last attempt."
  [worker verifier task & opts]
  (let [o (options "gen-eval" {:max 3 :criteria [] :threshold 0} opts)
        threshold (get o :threshold)
        criteria (bullets (get o :criteria))
        brief (if (empty? criteria) task (fmt "{task}\n\nIt will be judged on:\n{criteria}"))
        attempt (loop [prev nil] :max (get o :max)
                      :until (fn [v] (and v.verdict.passed
                                          (>= v.verdict.overall_score threshold)))
                (let [draft (spawn worker
                              (if prev
                                (let [notes (join "\n" (map (fn [d] (fmt "- {d.criterion}: {d.score}, {d.feedback}"))
                                                            prev.verdict.details))]
                                  (fmt """
                                    {brief}

                                    Your previous attempt:
                                    {prev.draft}

                                    It was graded {prev.verdict.overall_score} and did not pass.
                                    Feedback: {prev.verdict.feedback}
                                    Per criterion:
                                    {notes}

                                    Write an improved, complete version.
                                    """))
                                brief))
                      verdict (spawn verifier
                                (fmt """
                                  Grade this work strictly.

                                  Task: {task}
                                  Criteria:
                                  {criteria}

                                  Work:
                                  {draft}

                                  Give `passed`, an `overall_score` from 0 to 1, actionable
                                  `feedback`, and `details` with one entry per criterion.
                                  """)
                                :returns Verdict)]
                  {:draft draft :verdict verdict}))]
    {:passed (and attempt.verdict.passed (>= attempt.verdict.overall_score threshold))
     :draft attempt.draft
     :verdict attempt.verdict
     :attempts (get (loop-info attempt) :iterations)}))

(defn review-revise
  "Draft, review, revise until the reviewer approves. The reviewer answers a
  `ReviewDecision`: APPROVED, REVISE (with issues) or BLOCKED (cannot be fixed by
  revising). The value is {:status :draft :review :rounds}, :status one of
  \"APPROVED\", \"BLOCKED\" or \"EXHAUSTED\" (still REVISE after :max rounds), for the
  caller to route on. Options: :max (3), :checklist (what the reviewer checks)."
  [author reviewer task & opts]
  (let [o (options "review-revise"
                   {:max 3 :checklist "Is it correct, complete and clear?"} opts)
        checklist (get o :checklist)
        round (loop [prev nil] :max (get o :max)
                    :until (fn [v] (!= v.review.decision "REVISE"))
               (let [draft (spawn author
                             (if prev
                               (let [issues (bullets prev.review.issues)]
                                 (fmt """
                                   {task}

                                   Your previous draft:
                                   {prev.draft}

                                   The reviewer asked for changes: {prev.review.summary}
                                   {issues}

                                   Write the complete revised version.
                                   """))
                               task))
                     review (spawn reviewer
                              (fmt """
                                Review this draft. {checklist}
                                Answer APPROVED, REVISE (list the issues to fix) or BLOCKED
                                (it cannot succeed by revising: say why).

                                Task: {task}

                                Draft:
                                {draft}
                                """)
                              :returns ReviewDecision)]
                 {:draft draft :review review}))]
    ; A REVISE decision in the last round means the rounds ran out.
    {:status (get {"REVISE" "EXHAUSTED"} round.review.decision round.review.decision)
     :draft round.draft
     :review round.review
     :rounds (get (loop-info round) :iterations)}))

(defmacro phases
  "Like `let` over results that carry a :status (such as `review-revise`'s), run one
  phase after the other, stopping at the first whose status is not \"APPROVED\": the
  value is then {:status :phase :result} for that phase; otherwise the body's value.

      (phases [design (review-revise architect reviewer brief)
               plan   (review-revise planner reviewer (fmt \"Plan: {design.draft}\"))]
        plan.draft)"
  [bindings & body]
  (if (empty? bindings)
    `(do ~@body)
    (let [[name expr & more] bindings]
      `(let [~name ~expr]
         (if (= (get ~name :status) "APPROVED")
           (phases ~more ~@body)
           {:status (get ~name :status) :phase ~(str name) :result ~name})))))

; --- routing and selection -----------------------------------------------------

(defmacro classify-and-act
  "A classifier agent labels `input`; the handler of that label runs on it.
  `branches` is a literal map from label to handler, a function of the input:

      (classify-and-act triager ticket
        {:bug (fn [t] (spawn engineer (fmt \"Fix: {t}\")))
         :question (fn [t] (spawn support (fmt \"Answer: {t}\")))}
        :else (fn [t] (spawn support (fmt \"Log: {t}\"))))

  Options: :else (the handler when no label fits), :instruction (for the classifier).
  A macro because `classify` needs its labels in the source."
  [classifier input branches & opts]
  (let [o (options "classify-and-act"
                   {:else nil :instruction "Classify the following. Answer with one label."}
                   opts)
        labels (keys branches)
        names (join ", " labels)
        ; The caller's forms are evaluated once, in the caller's scope, under fresh names
        ; (gensyms), so they cannot capture or be captured by the macro's own.
        item (gensym "item")
        handlers (gensym "handlers")
        instruction (gensym "instruction")
        otherwise (gensym "otherwise")
        arms (map (fn [i] `(~(nth labels i) ((nth ~handlers ~i) ~item)))
                  (range (len labels)))]
    `(let [~item ~input
           ~handlers [~@(vals branches)]
           ~otherwise ~(get o :else)
           ~instruction ~(get o :instruction)]
       (classify (spawn ~classifier
                        (fmt ~(str "{" (name instruction) "}\nLabels: " names "\n\n{"
                                   (name item) "}")))
         ~@arms
         ~@(if (get o :else) [`(:else (~otherwise ~item))] [])))))

(defn best-of
  "N candidates for `task` in parallel, judged pairwise in a tournament; the value is
  the winning candidate, so `(tournament-info x)` shows the bracket.
  Options: :n (4), :approaches (one candidate per approach, instead of :n),
  :criteria (what the judge prefers), :format (:single-elim or :round-robin)."
  [worker judge task & opts]
  (let [o (options "best-of" {:n 4 :approaches nil :criteria "correctness, then clarity"
                              :format :single-elim} opts)
        n (get o :n)
        criteria (get o :criteria)
        candidates (if (get o :approaches)
                     (map (fn [approach] (spawn worker (fmt "{task}\n\nApproach: {approach}")))
                          (get o :approaches))
                     (map (fn [i] (spawn worker
                                    (fmt "{task}\n\n(Candidate {i} of {n}: work independently.)")))
                          (range 1 (+ n 1))))]
    (tournament candidates
                (fn [a b]
                  (spawn judge (fmt """
                                 Which candidate solves the task better? Judge by {criteria}.

                                 Task: {task}

                                 Candidate a:
                                 {a}

                                 Candidate b:
                                 {b}
                                 """)))
                :format (get o :format))))
