; expect: W0402 9:5
; message: loop
; The base case depends on a workflow input: cannot unroll at compile time.
(defagent editor :role :implement)

(defn refine [draft n]
  (if (= n 0)
    draft
    (refine (spawn editor (fmt "Improve this draft:\n{draft}")) (- n 1))))

(defworkflow main [text rounds]
  (refine text rounds))
